package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Whoever can create files in the log's directory (a child, when the
// directory is one it may write) plants symbolic links at the names the
// writer uses, pointing at a file the server must never write. None is
// followed: the victim keeps its content, and the write succeeds or fails
// cleanly, naming the log.

func victim(t *testing.T) (string, func(t *testing.T)) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "victim")
	const content = "do not touch\n"
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, func(t *testing.T) {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Fatalf("the victim %s was written through a planted link: %q (%v)", p, b, err)
		}
	}
}

func plant(t *testing.T, target, at string) {
	t.Helper()
	if err := os.Symlink(target, at); err != nil {
		t.Fatal(err)
	}
}

// The head's temporary file: the name the writer used before (FILE.head.tmp,
// opened with O_TRUNC) and the head's own name.
func TestHeadWriteFollowsNoPlantedLink(t *testing.T) {
	for _, name := range []string{"audit.log.head.tmp", "audit.log.head"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			v, unchanged := victim(t)
			plant(t, v, filepath.Join(filepath.Dir(path), name))
			if err := writeHead(path, Head{Seq: 0, Hash: GenesisHash, Time: "now"}, nil); err != nil {
				t.Fatalf("writeHead with a link planted at %s: %v", name, err)
			}
			unchanged(t)
			st, err := os.Lstat(HeadPath(path))
			if err != nil || !st.Mode().IsRegular() {
				t.Fatalf("the head is not a regular file after the write: %v %v", st, err)
			}
			h, err := ReadHead(path)
			if err != nil || h.Hash != GenesisHash {
				t.Fatalf("ReadHead: %+v %v", h, err)
			}
			// No temporary file is left behind.
			ents, _ := os.ReadDir(filepath.Dir(path))
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".audit.log.head.") {
					t.Errorf("temporary file left: %s", e.Name())
				}
			}
		})
	}
}

// A head write that cannot finish (its directory removed) leaves nothing
// behind and reports the error.
func TestHeadWriteFailsCleanly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	if err := writeHead(filepath.Join(dir, "audit.log"), Head{Seq: 0, Hash: GenesisHash}, nil); err == nil {
		t.Fatal("writeHead into a missing directory succeeded")
	}
}

// The live log: a link at its name is refused at open, naming it.
func TestOpenRefusesPlantedLinkAtLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	v, unchanged := victim(t)
	plant(t, v, path)
	_, err := Open(Options{Path: path, Now: fixedClock()})
	if err == nil || !strings.Contains(err.Error(), "symbolic link") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a log that is a planted link: %v", err)
	}
	unchanged(t)
}

// Rotation: links planted at the rotated names (FILE.1, FILE.2) are
// replaced by the renames, never written through.
func TestRotationFollowsNoPlantedLink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	v, unchanged := victim(t)
	l := openLog(t, Options{Path: path, MaxBytes: 2000, Keep: 3})
	plant(t, v, path+".1") // after the open, which reads FILE.1 when FILE is empty
	plant(t, v, path+".2")
	writeN(t, l, 40)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	unchanged(t)
	for _, f := range []string{path, path + ".1", path + ".2"} {
		if st, err := os.Lstat(f); err != nil || !st.Mode().IsRegular() {
			t.Errorf("%s after rotation: %v %v", f, st, err)
		}
	}
	if _, err := VerifyLog(path, VerifyOptions{}); err != nil {
		t.Errorf("verify after rotation: %v", err)
	}
}
