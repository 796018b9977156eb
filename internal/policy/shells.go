package policy

import (
	"crypto/sha256"
	"io"
	"os"
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

// findHostShells hashes the shells (config.ShellInterpreters) found in dirs,
// realpath'd and deduplicated. Files that cannot be read are skipped.
func findHostShells(dirs []string) shellHashes {
	h := shellHashes{bySize: map[int64][]shellHash{}}
	var seen []string
	for _, d := range dirs {
		for _, name := range config.ShellInterpreters {
			r, err := resolveFile(filepath.Join(d, name))
			if err != nil || slices.Contains(seen, r.real) {
				continue
			}
			seen = append(seen, r.real)
			sum, err := hashFile(r.real)
			if err != nil {
				continue
			}
			size := r.info.Size()
			h.bySize[size] = append(h.bySize[size], shellHash{sum: sum, path: r.real})
		}
	}
	return h
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

func hashFile(file string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(file)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	hh := sha256.New()
	if _, err := io.Copy(hh, f); err != nil {
		return sum, err
	}
	copy(sum[:], hh.Sum(nil))
	return sum, nil
}
