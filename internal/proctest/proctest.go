// Package proctest starts privrec run from a built binary, for the
// end-to-end tests of the command (internal/cli) and of its Kafka build
// (kafka/cmd/privrec), which kill and restart it.
package proctest

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Logs collects processes' stderr; a test may read it while they write.
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Run is a running privrec run process.
type Run struct {
	Cmd  *exec.Cmd
	Addr string // host:port of its HTTP server
}

// StartRun starts bin run --addr 127.0.0.1:0 args..., with its stderr in
// logs, waits for the line that names its address, and kills the process
// at the end of the test.
func StartRun(t testing.TB, bin string, logs *Logs, args ...string) *Run {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"run", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "privrec run did not start: %s", logs)
	m := regexp.MustCompile(`http://(\S+)/v1/events`).FindStringSubmatch(line)
	require.NotNil(t, m, line)
	go io.Copy(io.Discard, stdout)
	return &Run{Cmd: cmd, Addr: m[1]}
}
