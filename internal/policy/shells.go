package policy

import (
	"crypto/sha256"
	"path/filepath"
	"slices"

	"github.com/mcp-process/mcp-process/internal/config"
)

// shellSearchDirs are the system directories searched for shell binaries (in
// addition to searchPath) to learn their content hashes.
var shellSearchDirs = []string{"/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin"}

// shellHashes holds the SHA-256 of every shell binary found on the host, by
// file size (a candidate is hashed only when its size equals a shell's).
type shellHashes struct {
	bySize map[int64][]shellHash
}

type shellHash struct {
	sum  [sha256.Size]byte
	path string
}

// findShells hashes the shells (config.ShellInterpreters) found in dirs as
// seen in v (the host, or inside a chroot jail), realpath'd and
// deduplicated. Files that cannot be read are skipped. A shell's path is
// recorded as its host path.
func findShells(v view, dirs []string) shellHashes {
	h := shellHashes{bySize: map[int64][]shellHash{}}
	var seen []string
	for _, d := range dirs {
		for _, name := range config.ShellInterpreters {
			r, err := resolveFileIn(v, filepath.Join(d, name))
			if err != nil || slices.Contains(seen, r.host) {
				continue
			}
			seen = append(seen, r.host)
			sum, err := hashFile(r.host)
			if err != nil {
				continue
			}
			h.put(r.info.Size(), shellHash{sum: sum, path: r.host})
		}
	}
	return h
}

func (h *shellHashes) put(size int64, s shellHash) {
	for _, c := range h.bySize[size] {
		if c.sum == s.sum {
			return
		}
	}
	h.bySize[size] = append(h.bySize[size], s)
}

// add merges the shells of o into h.
func (h *shellHashes) add(o shellHashes) {
	for size, l := range o.bySize {
		for _, s := range l {
			h.put(size, s)
		}
	}
}

// matches returns the path of the host shell whose content equals file, or "".
func (h shellHashes) matches(file string, size int64) (string, error) {
	cands := h.bySize[size]
	if len(cands) == 0 {
		return "", nil
	}
	sum, err := hashFile(file)
	if err != nil {
		return "", err
	}
	for _, c := range cands {
		if c.sum == sum {
			return c.path, nil
		}
	}
	return "", nil
}

// hashFile is the SHA-256 of file's content, read as readHead reads.
func hashFile(file string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	hh := sha256.New()
	if err := readAll(file, func(b []byte) { hh.Write(b) }); err != nil {
		return sum, err
	}
	copy(sum[:], hh.Sum(nil))
	return sum, nil
}
