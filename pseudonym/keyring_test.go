package pseudonym

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privrec/privrec/internal/race"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testSecret() []byte {
	return bytes.Repeat([]byte{0xA7, 0x3C, 0x51, 0x09}, 8) // 32 bytes
}

func mustKeyring(t testing.TB, opts Options) *Keyring {
	t.Helper()
	k, err := New(testSecret(), opts)
	require.NoError(t, err)
	return k
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

// RFC 4231 test cases 1, 2, 4 and 6 (HMAC-SHA-256), through the same pooled
// HMAC code path that Pseudonymize uses.
func TestHMACMatchesRFC4231(t *testing.T) {
	cases := []struct{ name, key, data, want string }{
		{"case1", strings.Repeat("0b", 20), hex.EncodeToString([]byte("Hi There")),
			"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{"case2", hex.EncodeToString([]byte("Jefe")), hex.EncodeToString([]byte("what do ya want for nothing?")),
			"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"case4", "0102030405060708090a0b0c0d0e0f10111213141516171819", strings.Repeat("cd", 50),
			"82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
		{"case6", strings.Repeat("aa", 131), hex.EncodeToString([]byte("Test Using Larger Than Block-Size Key - Hash Key First")),
			"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mp, err := newMacPool(mustHex(t, tc.key))
			require.NoError(t, err)
			var out [32]byte
			for range 2 { // twice: the second call reuses a pooled, reset state
				mp.mac(string(mustHex(t, tc.data)), out[:])
				assert.Equal(t, tc.want, hex.EncodeToString(out[:]))
			}
		})
	}
}

// RFC 5869 test cases 1 and 3 (HKDF-SHA-256), through the helper that
// derives subkeys.
func TestHKDFMatchesRFC5869(t *testing.T) {
	cases := []struct {
		name, ikm, salt, info string
		n                     int
		want                  string
	}{
		{"case1", strings.Repeat("0b", 22), "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9", 42,
			"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
		{"case3", strings.Repeat("0b", 22), "", "", 42,
			"8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hkdfSHA256(mustHex(t, tc.ikm), mustHex(t, tc.salt), string(mustHex(t, tc.info)), tc.n)
			require.NoError(t, err)
			assert.Equal(t, tc.want, hex.EncodeToString(got))
		})
	}
}

func TestPseudonymizeIsStableWithinPeriodAndPurpose(t *testing.T) {
	k := mustKeyring(t, Options{})
	a1, err := k.Pseudonymize(7, "alice")
	require.NoError(t, err)
	a2, err := k.Pseudonymize(7, "alice")
	require.NoError(t, err)
	assert.Equal(t, a1, a2)

	b, err := k.Pseudonymize(7, "bob")
	require.NoError(t, err)
	assert.NotEqual(t, a1, b)

	nextPeriod, err := k.Pseudonymize(8, "alice")
	require.NoError(t, err)
	assert.NotEqual(t, a1, nextPeriod)

	other := mustKeyring(t, Options{Purpose: "search"})
	otherPurpose, err := other.Pseudonymize(7, "alice")
	require.NoError(t, err)
	assert.NotEqual(t, a1, otherPurpose)

	// Equal to the documented construction: HMAC-SHA-256 under the HKDF subkey.
	sub, err := deriveSubkey(testSecret(), DefaultPurpose, 7)
	require.NoError(t, err)
	var want [32]byte
	mp, err := newMacPool(sub)
	require.NoError(t, err)
	mp.mac("alice", want[:])
	assert.Equal(t, want[:16], a1[:])
}

func TestPseudonymizeRejectsBadUserIDs(t *testing.T) {
	k := mustKeyring(t, Options{})
	cases := []struct {
		name string
		id   string
		want error
	}{
		{"empty", "", ErrEmptyUserID},
		{"too long", strings.Repeat("x", MaxUserIDLen+1), ErrUserIDTooLong},
		{"one megabyte", strings.Repeat("x", 1<<20), ErrUserIDTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := k.Pseudonymize(0, tc.id)
			require.ErrorIs(t, err, tc.want)
		})
	}
	_, err := k.Pseudonymize(0, strings.Repeat("x", MaxUserIDLen))
	require.NoError(t, err)
	_, err = k.Pseudonymize(0, "\xff\xfe not utf-8")
	require.NoError(t, err, "user IDs are opaque bytes")
}

func TestNewRejectsBadSecretsAndOptions(t *testing.T) {
	cases := []struct {
		name   string
		secret []byte
		opts   Options
		want   string
	}{
		{"nil secret", nil, Options{}, "at least 32 bytes"},
		{"31 bytes", make([]byte, 31), Options{}, "at least 32 bytes"},
		{"sub-second period", testSecret(), Options{PeriodLength: time.Millisecond}, "shorter than one second"},
		{"negative period", testSecret(), Options{PeriodLength: -time.Hour}, "shorter than one second"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.secret, tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestSecretIsCopied(t *testing.T) {
	s := testSecret()
	k, err := New(s, Options{})
	require.NoError(t, err)
	before, err := k.Pseudonymize(1, "alice")
	require.NoError(t, err)
	s[0] ^= 0xff
	k2, err := New(testSecret(), Options{})
	require.NoError(t, err)
	after, err := k2.Pseudonymize(1, "alice")
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

func TestPeriodsAndBounds(t *testing.T) {
	epoch := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	k := mustKeyring(t, Options{PeriodLength: 24 * time.Hour, Epoch: epoch})
	cases := []struct {
		at   time.Time
		want Period
	}{
		{epoch, 0},
		{epoch.Add(24*time.Hour - time.Nanosecond), 0},
		{epoch.Add(24 * time.Hour), 1},
		{epoch.Add(-time.Nanosecond), -1},
		{epoch.Add(-24 * time.Hour), -1},
		{epoch.Add(-24*time.Hour - time.Nanosecond), -2},
	}
	for _, tc := range cases {
		p := k.Period(tc.at)
		assert.Equal(t, tc.want, p, "period of %v", tc.at)
		start, end := k.Bounds(p)
		assert.False(t, tc.at.Before(start), "%v before start %v", tc.at, start)
		assert.True(t, tc.at.Before(end), "%v not before end %v", tc.at, end)
	}
}

func TestForgetRefusesOldPeriods(t *testing.T) {
	k := mustKeyring(t, Options{})
	_, err := k.Pseudonymize(3, "alice")
	require.NoError(t, err)
	k.Forget(5)
	for _, p := range []Period{3, 4} {
		_, err = k.Pseudonymize(p, "alice")
		require.ErrorIs(t, err, ErrPeriodForgotten)
	}
	_, err = k.Pseudonymize(5, "alice")
	require.NoError(t, err)
	k.Forget(2) // never moves backwards
	_, err = k.Pseudonymize(4, "alice")
	require.ErrorIs(t, err, ErrPeriodForgotten)
	assert.Len(t, k.s.subkeys, 1)
}

// The secret, in any encoding, must not appear in any rendering of a keyring.
func TestSecretNeverRendered(t *testing.T) {
	k := mustKeyring(t, Options{})
	id, err := k.Pseudonymize(1, "alice")
	require.NoError(t, err)

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})).
		Debug("keyring", "k", k, "id", id)
	js, err := json.Marshal(struct{ K *Keyring }{k})
	require.NoError(t, err)

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		outputs = append(outputs, fmt.Sprintf(verb, k), fmt.Sprintf(verb, *k), fmt.Sprintf(verb, id))
	}
	outputs = append(outputs, string(js), logs.String(), k.String())

	secret := testSecret()
	forbidden := []string{
		string(secret), hex.EncodeToString(secret), strings.ToUpper(hex.EncodeToString(secret)),
		fmt.Sprint(secret), string(id[:]), hex.EncodeToString(id[:]), fmt.Sprint(id[:]),
	}
	for _, out := range outputs {
		for _, f := range forbidden {
			assert.NotContains(t, out, f)
		}
	}
	assert.Contains(t, string(js), "redacted")
}

func TestFromFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	good := write("good", EncodeSecret(testSecret()), 0o600)
	k, err := FromFile(good, Options{})
	require.NoError(t, err)
	want, err := mustKeyring(t, Options{}).Pseudonymize(2, "alice")
	require.NoError(t, err)
	got, err := k.Pseudonymize(2, "alice")
	require.NoError(t, err)
	assert.Equal(t, want, got)

	cases := []struct {
		name, path string
		want       string
	}{
		{"group readable", write("group", EncodeSecret(testSecret()), 0o640), "readable by group or others"},
		{"world readable", write("world", EncodeSecret(testSecret()), 0o604), "readable by group or others"},
		{"not hex", write("nothex", "zz"+strings.Repeat("0", 62), 0o600), "not valid hex"},
		{"short", write("short", strings.Repeat("ab", 31), 0o600), "at least 32 bytes"},
		{"empty", write("empty", "", 0o600), "at least 32 bytes"},
		{"too large", write("large", strings.Repeat("ab", 4<<10), 0o600), "not valid hex"},
		{"missing", filepath.Join(dir, "missing"), "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromFile(tc.path, Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), hex.EncodeToString(testSecret()))
		})
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("PRIVREC_TEST_SECRET", EncodeSecret(testSecret()))
	_, err := FromEnv("PRIVREC_TEST_SECRET", Options{})
	require.NoError(t, err)
	_, set := os.LookupEnv("PRIVREC_TEST_SECRET")
	assert.False(t, set, "FromEnv leaves the secret in the environment of child processes")

	t.Setenv("PRIVREC_TEST_SHORT", "abcd")
	_, err = FromEnv("PRIVREC_TEST_SHORT", Options{})
	require.ErrorIs(t, err, ErrSecretTooShort)

	_, err = FromEnv("PRIVREC_TEST_UNSET_VARIABLE", Options{})
	require.ErrorContains(t, err, "PRIVREC_TEST_UNSET_VARIABLE is not set")
}

func TestGenerateSecret(t *testing.T) {
	a, err := GenerateSecret()
	require.NoError(t, err)
	b, err := GenerateSecret()
	require.NoError(t, err)
	assert.Len(t, a, MinSecretLen)
	assert.NotEqual(t, a, b)
	dec, err := DecodeSecret(EncodeSecret(a))
	require.NoError(t, err)
	assert.Equal(t, a, dec)
}

func TestPseudonymizeAllocatesNothing(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops items); .ci/run runs this test without -race")
	}
	k := mustKeyring(t, Options{})
	_, err := k.Pseudonymize(1, "warm-up")
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = k.Pseudonymize(1, "customer-17850")
	})
	assert.Zero(t, allocs)
}

func TestPseudonymizeConcurrent(t *testing.T) {
	k := mustKeyring(t, Options{})
	want, err := k.Pseudonymize(9, "alice")
	require.NoError(t, err)
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 500 {
				got, err := k.Pseudonymize(Period(9+(i+g)%3), "alice")
				if err != nil || ((i+g)%3 == 0 && got != want) {
					t.Errorf("goroutine %d: got mismatch or %v", g, err)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

func BenchmarkPseudonymize(b *testing.B) {
	k := mustKeyring(b, Options{})
	_, _ = k.Pseudonymize(1, "warm-up")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = k.Pseudonymize(1, "customer-17850")
	}
}

func BenchmarkPseudonymizeParallel(b *testing.B) {
	k := mustKeyring(b, Options{})
	_, _ = k.Pseudonymize(1, "warm-up")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = k.Pseudonymize(1, "customer-17850")
		}
	})
}

func TestCloseZeroesTheSecret(t *testing.T) {
	k := mustKeyring(t, Options{})
	_, err := k.Pseudonymize(1, "alice")
	require.NoError(t, err)
	secret := k.s.secret
	k.Close()
	assert.Equal(t, make([]byte, len(secret)), secret, "Close left the secret in memory")
	assert.Empty(t, k.s.subkeys)
	for _, p := range []Period{1, 2} { // a derived period and a new one
		_, err := k.Pseudonymize(p, "alice")
		require.ErrorIs(t, err, ErrKeyringClosed)
	}
	k.Close() // idempotent
}

// Close may race with Pseudonymize (a shutdown while events arrive): every
// call either succeeds or reports ErrKeyringClosed. Run with -race.
func TestCloseWhilePseudonymizing(t *testing.T) {
	k := mustKeyring(t, Options{})
	want, err := mustKeyring(t, Options{}).Pseudonymize(7, "bob")
	require.NoError(t, err)
	done := make(chan error)
	for range 4 {
		go func() {
			for range 200 {
				id, err := k.Pseudonymize(7, "bob")
				if err != nil {
					if !errors.Is(err, ErrKeyringClosed) {
						done <- err
						return
					}
					continue
				}
				if id != want {
					done <- fmt.Errorf("a pseudonym changed while closing")
					return
				}
			}
			done <- nil
		}()
	}
	k.Close()
	for range 4 {
		require.NoError(t, <-done)
	}
}

// A period's subkey is zeroed once its HMAC template is keyed: privrec
// keeps no copy of it, and states cloned from the template still give the
// documented HMAC (TestHMACMatchesRFC4231 checks the values).
func TestMacPoolZeroesTheSubkey(t *testing.T) {
	key := bytes.Repeat([]byte{0x5c}, 32)
	mp, err := newMacPool(key)
	require.NoError(t, err)
	assert.Equal(t, make([]byte, 32), key, "the subkey was kept")
	var a, b [32]byte
	mp.mac("alice", a[:])
	mp.mac("alice", b[:])
	assert.Equal(t, a, b)
}
