//go:build linux

package sandbox

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// A launch does not fail at the seal of a file that the host keeps
// replacing (renamed over, as the audit log's head is), by the zygote's
// child as by a Go stage, and a sealed file that is not replaced stays
// read-only in the child. The host here replaces the head as fast as it
// can, far more often than the audit log's head (once a second at most),
// so that launches' seals meet replacements. (A seal is a bind of the file
// as it was: the next replacement detaches it, which is why Landlock, not
// the seal, keeps the policy's files out of the children's reach:
// test/escape's TestEscape_ReplaceAuditHeadAndLiveLog_landlock.)
func TestSealHoldsAgainstAFileReplacedMeanwhile(t *testing.T) {
	needRoot(t)
	dir := hostDir(t)
	head := filepath.Join(dir, "audit.log.head")
	if err := os.WriteFile(head, []byte("head 0\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the host's writer: a new file renamed over the old one
		defer wg.Done()
		tmp := head + ".tmp"
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.WriteFile(tmp, []byte("head\n"), 0o666)
			os.Rename(tmp, head)
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	still := filepath.Join(dir, "config.json") // sealed, never replaced: writable on the host by anyone
	if err := os.WriteFile(still, []byte("{}\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	iso := Isolation{Private: []string{"/tmp"}, Sealed: []string{head, still}}
	script := `cat ` + head + `; if echo x >> ` + still + ` 2>/dev/null; then echo WRITABLE; else echo sealed; fi`
	kinds := []StageKind{StageGo}
	if stage.ZygoteSupported {
		kinds = append(kinds, StageZygote)
	}
	for _, kind := range kinds {
		l := NewLauncher(LauncherOptions{Stage: kind, Isolation: iso})
		failed := 0
		const launches = 100
		for i := 0; i < launches; i++ {
			spec := specFor(t, "sh", "-c", script)
			spec.Dir = "/"
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			p, err := l.Start(spec, Stdio{Stdout: w, Stderr: w})
			w.Close()
			if err != nil {
				r.Close()
				if strings.Contains(err.Error(), "seal") {
					failed++
					continue
				}
				t.Fatalf("stage %v, launch %d: %v", kind, i, err)
			}
			if err := p.Release(); err != nil {
				t.Fatalf("stage %v, launch %d: Release: %v", kind, i, err)
			}
			out, _ := io.ReadAll(r)
			r.Close()
			p.Wait()
			if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, "head") || !strings.HasSuffix(got, "\nsealed") {
				t.Fatalf("stage %v, launch %d: the child reads the replaced file and writes the sealed one as %q, want the head then sealed", kind, i, got)
			}
		}
		served := l.zygoteServed()
		l.Close()
		if failed > 0 {
			t.Errorf("stage %v: %d of %d launches failed at the seal of a file replaced meanwhile", kind, failed, launches)
		}
		if kind == StageZygote && served != launches {
			t.Errorf("the zygote served %d of %d launches", served, launches)
		}
	}
}
