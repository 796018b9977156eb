package supervisor

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// readProcFile gets the same bytes as os.ReadFile, whatever the buffer it
// is given (none, too small, large enough), and says when there is no file.
func TestReadProcFile(t *testing.T) {
	// Files that do not change between two reads: cmdline, and a file
	// larger than the default buffer.
	big := strings.Repeat("0123456789abcdef", 700) // 11,200 bytes
	path := t.TempDir() + "/big"
	if err := os.WriteFile(path, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/proc/self/cmdline", "/proc/self/limits", path} {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, buf := range [][]byte{nil, make([]byte, 0, 3), make([]byte, 10, 64<<10)} {
			got, err := readProcFile(p, buf)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s with a buffer of cap %d: %d bytes, %v; want the %d bytes os.ReadFile reads", p, cap(buf), len(got), err, len(want))
			}
		}
	}
	if _, err := readProcFile("/proc/no-such-process/stat", nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an absent file: %v, want ErrNotExist", err)
	}
	st, ok := readProcStat(os.Getpid(), nil)
	if !ok || st.pid != os.Getpid() || st.ppid != os.Getppid() || st.threads < 1 {
		t.Errorf("readProcStat(self) = %+v, %v", st, ok)
	}
}
