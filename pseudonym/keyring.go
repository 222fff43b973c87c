package pseudonym

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// MinSecretLen is the smallest master secret accepted, in bytes.
const MinSecretLen = 32

// MaxUserIDLen is the longest user ID accepted, in bytes. Longer IDs are
// refused rather than hashed, so that hostile input cannot make ingestion slow.
const MaxUserIDLen = 1024

// DefaultPurpose is the purpose used when [Options.Purpose] is empty.
const DefaultPurpose = "events"

// DefaultPeriodLength is the key period used when [Options.PeriodLength] is zero.
const DefaultPeriodLength = 7 * 24 * time.Hour

// hkdfSalt domain-separates privrec's subkeys from any other use of the secret.
const hkdfSalt = "privrec/pseudonym/v1"

// Errors returned by this package. They never contain the secret, a user ID or
// a pseudonym.
var (
	ErrSecretTooShort   = errors.New("pseudonym: master secret must be at least 32 bytes")
	ErrEmptyUserID      = errors.New("pseudonym: empty user ID")
	ErrUserIDTooLong    = fmt.Errorf("pseudonym: user ID longer than %d bytes", MaxUserIDLen)
	ErrPeriodForgotten  = errors.New("pseudonym: key period has been forgotten")
	ErrInsecureKeyFile  = errors.New("pseudonym: key file is readable by group or others")
	ErrInvalidSecretEnc = errors.New("pseudonym: secret is not valid hex")
	ErrKeyringClosed    = errors.New("pseudonym: keyring is closed")
)

// ID is a pseudonym: 16 bytes of HMAC-SHA-256. Its String and Format methods
// print a fixed placeholder, so an ID cannot leak through fmt or a log line by
// accident; code that really needs the bytes indexes the array.
type ID [16]byte

// String returns a placeholder, never the pseudonym.
func (ID) String() string { return "pseudonym.ID(redacted)" }

// Format prints the same placeholder as String for every verb.
func (id ID) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(id.String())) }

// LogValue keeps pseudonyms out of log/slog output.
func (id ID) LogValue() slog.Value { return slog.StringValue(id.String()) }

// Period numbers key periods: period p covers
// [Epoch + p·PeriodLength, Epoch + (p+1)·PeriodLength).
type Period int64

// Options configures a [Keyring]. The zero value is valid.
type Options struct {
	// Purpose separates pseudonyms used for different ends: two keyrings with
	// the same secret and different purposes produce unrelated IDs.
	// Empty means DefaultPurpose.
	Purpose string
	// PeriodLength is the length of one key period; release windows must fit
	// inside one period. Zero means DefaultPeriodLength. It must be at least
	// one second.
	PeriodLength time.Duration
	// Epoch is the start of period 0. The zero value means the Unix epoch
	// (1970-01-01T00:00:00Z), so that with a 7-day period, periods start on
	// Thursdays at 00:00 UTC.
	Epoch time.Time
}

func (o Options) withDefaults() (Options, error) {
	if o.Purpose == "" {
		o.Purpose = DefaultPurpose
	}
	if o.PeriodLength == 0 {
		o.PeriodLength = DefaultPeriodLength
	}
	if o.PeriodLength < time.Second {
		return o, fmt.Errorf("pseudonym: PeriodLength %v is shorter than one second", o.PeriodLength)
	}
	if o.Epoch.IsZero() {
		o.Epoch = time.Unix(0, 0).UTC()
	}
	return o, nil
}

// Keyring derives per-period subkeys from a master secret and pseudonymizes
// user IDs with them. It is safe for concurrent use. Printing, logging or
// marshalling a Keyring never reveals the secret.
type Keyring struct {
	s *keyring // behind a pointer so that no fmt verb can reach the secret
}

type keyring struct {
	secret []byte
	opts   Options

	mu        sync.RWMutex
	subkeys   map[Period]*macPool
	forgotten Period // periods < forgotten are refused; math.MinInt64 when none
	closed    bool   // Close zeroed the secret
}

// macPool hands out HMAC states keyed with one period's subkey, so that a
// Pseudonymize call allocates nothing.
type macPool struct{ pool sync.Pool }

type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// New returns a keyring for the given master secret, which must be at least
// MinSecretLen bytes. The secret is copied.
func New(secret []byte, opts Options) (*Keyring, error) {
	if len(secret) < MinSecretLen {
		return nil, ErrSecretTooShort
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Keyring{s: &keyring{
		secret:    append([]byte(nil), secret...),
		opts:      o,
		subkeys:   make(map[Period]*macPool),
		forgotten: math.MinInt64,
	}}, nil
}

// FromEnv reads a hex-encoded master secret from the environment variable
// name, and unsets the variable, so that processes started afterwards do
// not inherit the secret. A process that needs the keyring again keeps the
// returned Keyring (it is safe for concurrent use).
func FromEnv(name string, opts Options) (*Keyring, error) {
	v, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("pseudonym: environment variable %s is not set", name)
	}
	if err := os.Unsetenv(name); err != nil {
		return nil, fmt.Errorf("pseudonym: unset environment variable %s: %w", name, err)
	}
	secret, err := DecodeSecret(v)
	if err != nil {
		return nil, fmt.Errorf("pseudonym: environment variable %s: %w", name, err)
	}
	defer clear(secret)
	return New(secret, opts)
}

// FromFile reads a hex-encoded master secret from a file. The file must not be
// readable, writable or executable by group or others (mode 0600 or 0400)
// and, on Unix, must be owned by the user the process runs as or by root.
// The checks are made on the opened file, so the file cannot be swapped
// between the check and the read.
func FromFile(path string, opts Options) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pseudonym: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pseudonym: key file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %#o, want 0600 (chmod 600 %s)", ErrInsecureKeyFile, path, perm, path)
	}
	if err := checkOwner(fi); err != nil {
		return nil, fmt.Errorf("%w: %s %v", ErrInsecureKeyFile, path, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	defer clear(b)
	if err != nil {
		return nil, fmt.Errorf("pseudonym: key file: %w", err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("pseudonym: key file %s: %w", path, ErrInvalidSecretEnc)
	}
	secret, err := decodeSecret(b)
	if err != nil {
		return nil, fmt.Errorf("pseudonym: key file %s: %w", path, err)
	}
	defer clear(secret)
	return New(secret, opts)
}

// maxKeyFile bounds what FromFile reads: a 1 KiB secret in hex, with room
// for white space.
const maxKeyFile = 4 << 10

// GenerateSecret returns a new random 32-byte master secret.
func GenerateSecret() ([]byte, error) {
	b := make([]byte, MinSecretLen)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("pseudonym: generate secret: %w", err)
	}
	return b, nil
}

// EncodeSecret returns the hex text form of a secret, as read by FromFile and
// FromEnv, followed by a newline.
func EncodeSecret(secret []byte) string { return hex.EncodeToString(secret) + "\n" }

// decodeSecret is DecodeSecret on bytes, which the caller can zero.
func decodeSecret(b []byte) ([]byte, error) {
	b = bytes.TrimSpace(b)
	secret := make([]byte, hex.DecodedLen(len(b)))
	if _, err := hex.Decode(secret, b); err != nil {
		clear(secret)
		return nil, ErrInvalidSecretEnc
	}
	if len(secret) < MinSecretLen {
		clear(secret)
		return nil, ErrSecretTooShort
	}
	return secret, nil
}

// DecodeSecret parses the hex text form of a secret; surrounding white space
// is ignored. The error never quotes the input.
func DecodeSecret(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, ErrInvalidSecretEnc
	}
	if len(b) < MinSecretLen {
		return nil, ErrSecretTooShort
	}
	return b, nil
}

// PeriodLength returns the length of one key period.
func (k *Keyring) PeriodLength() time.Duration { return k.s.opts.PeriodLength }

// Period returns the key period that contains t.
func (k *Keyring) Period(t time.Time) Period {
	d := t.Sub(k.s.opts.Epoch) // saturates about ±292 years away, which stays monotone
	l := k.s.opts.PeriodLength
	p := d / l
	if d%l < 0 {
		p--
	}
	return Period(p)
}

// Bounds returns the interval [start, end) that period p covers.
func (k *Keyring) Bounds(p Period) (start, end time.Time) {
	l := k.s.opts.PeriodLength
	start = k.s.opts.Epoch.Add(time.Duration(p) * l)
	return start, start.Add(l)
}

// Pseudonymize maps userID to its pseudonym in period p. It allocates nothing
// once the period's subkey has been derived. The user ID is not retained.
func (k *Keyring) Pseudonymize(p Period, userID string) (ID, error) {
	var id ID
	if userID == "" {
		return id, ErrEmptyUserID
	}
	if len(userID) > MaxUserIDLen {
		return id, ErrUserIDTooLong
	}
	mp, err := k.s.pool(p)
	if err != nil {
		return id, err
	}
	mp.mac(userID, id[:])
	return id, nil
}

// Forget drops the subkeys of every period before p and refuses those periods
// from now on. (privrec holds no copy of a subkey's bytes: each is zeroed
// once its HMAC state is keyed; Forget drops those states.) It bounds how long this process can link events to a period;
// it cannot take the master secret away from whoever holds it.
func (k *Keyring) Forget(before Period) {
	s := k.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if before > s.forgotten {
		s.forgotten = before
	}
	for p := range s.subkeys {
		if p < before {
			delete(s.subkeys, p)
		}
	}
}

// Close zeroes the keyring's copy of the master secret and drops every
// subkey; the keyring then refuses to pseudonymize (ErrKeyringClosed).
// Call it when the process no longer needs to pseudonymize, e.g. at
// shutdown, so that the secret does not linger in memory. Go's crypto/hmac
// keeps keyed pads inside its states, where they cannot be zeroed; Close
// and Forget drop those states for the garbage collector. Close is
// idempotent and safe to call concurrently with Pseudonymize.
func (k *Keyring) Close() {
	s := k.s
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.secret)
	s.secret = nil
	clear(s.subkeys)
	s.closed = true
}

// String describes the keyring without its secret.
func (k Keyring) String() string {
	if k.s == nil {
		return "pseudonym.Keyring(nil)"
	}
	return fmt.Sprintf("pseudonym.Keyring{purpose: %q, period: %v, secret: redacted}", k.s.opts.Purpose, k.s.opts.PeriodLength)
}

// Format prints the same text as String for every verb, %#v included.
func (k Keyring) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue keeps the secret out of log/slog output.
func (k Keyring) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON describes the keyring without its secret.
func (k Keyring) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"purpose":%q,"period_seconds":%d,"secret":"redacted"}`,
		k.s.opts.Purpose, int64(k.s.opts.PeriodLength/time.Second)), nil
}

func (s *keyring) pool(p Period) (*macPool, error) {
	s.mu.RLock()
	mp, ok := s.subkeys[p]
	s.mu.RUnlock()
	if ok {
		return mp, nil
	}
	// Derive under the write lock, which Close takes to zero the secret;
	// it happens once per period.
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, ErrKeyringClosed
	case p < s.forgotten:
		return nil, ErrPeriodForgotten
	}
	if old, ok := s.subkeys[p]; ok {
		return old, nil
	}
	sub, err := deriveSubkey(s.secret, s.opts.Purpose, p)
	if err != nil {
		return nil, err
	}
	mp, err = newMacPool(sub)
	if err != nil {
		return nil, err
	}
	s.subkeys[p] = mp
	return mp, nil
}

// newMacPool keys an HMAC-SHA-256 template with key and zeroes key: new
// states are clones of the template, so privrec keeps no copy of a subkey
// (only crypto/hmac's keyed pads inside the template and its clones, which
// Forget and Close drop).
func newMacPool(key []byte) (*macPool, error) {
	tmpl, ok := hmac.New(sha256.New, key).(hash.Cloner)
	clear(key)
	if !ok {
		return nil, errors.New("pseudonym: HMAC-SHA-256 cannot be cloned")
	}
	if _, err := tmpl.Clone(); err != nil {
		return nil, fmt.Errorf("pseudonym: HMAC-SHA-256 cannot be cloned: %w", err)
	}
	mp := &macPool{}
	mp.pool.New = func() any {
		c, _ := tmpl.Clone() // cannot fail: checked above, and the template never changes
		return &macState{h: c}
	}
	return mp, nil
}

// mac writes the first len(out) bytes of HMAC-SHA-256(key, msg) to out
// (len(out) <= 32) without allocating.
func (mp *macPool) mac(msg string, out []byte) {
	st := mp.pool.Get().(*macState)
	st.h.Reset()
	st.h.Write(unsafe.Slice(unsafe.StringData(msg), len(msg)))
	st.h.Sum(st.sum[:0])
	copy(out, st.sum[:])
	mp.pool.Put(st)
}

// subkeyInfo is the HKDF info string: purpose, a zero byte, then the period
// as 8 big-endian bytes.
func subkeyInfo(purpose string, p Period) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(p))
	return purpose + "\x00" + string(b[:])
}

// deriveSubkey derives the 32-byte subkey of one purpose and period.
func deriveSubkey(secret []byte, purpose string, p Period) ([]byte, error) {
	return hkdfSHA256(secret, []byte(hkdfSalt), subkeyInfo(purpose, p), sha256.Size)
}

// hkdfSHA256 is HKDF (RFC 5869) with SHA-256.
func hkdfSHA256(secret, salt []byte, info string, n int) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, secret, salt, info, n)
	if err != nil {
		return nil, fmt.Errorf("pseudonym: derive subkey: %w", err)
	}
	return k, nil
}
