package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// A config source that does not exist cannot be sealed in a child's view
// (there is nothing to bind over), and a child that has the server's uid
// (an unprivileged server's, or a root server's children left as root)
// creates files the owner check cannot tell from the user's own. So a
// server whose children could create a local source of a later start
// (./mcp-process-config.json, ./config/mcp-process.json in the start
// directory) records that path here, in its state directory, before its
// first launch; the file is sealed read-only in every child's view. A later
// start that finds a recorded path as its local source refuses it, naming
// the path: it appeared while children could write there. Loading it once
// explicitly (--config or MCP_PROCESS_CONFIG_PATH) is the user vouching for
// it, and clears the record.

// SourceWatchFile is the record's name in the state directory.
const SourceWatchFile = "config-sources.json"

// SourceWatch is the record of config sources that did not exist when a
// server whose children could create them started. The zero value records
// nothing (no state directory).
type SourceWatch struct {
	// Path is the record's file, "" when there is no state directory.
	Path string
}

type sourceWatchDoc struct {
	// Watched maps an absolute path to when a server first found it absent
	// and writable by its children.
	Watched map[string]time.Time `json:"watched"`
}

// WatchFor is the record in the state directory getenv names
// (DefaultStateDir).
func WatchFor(getenv func(string) string) SourceWatch {
	d := DefaultStateDir(getenv)
	if d == "" {
		return SourceWatch{}
	}
	return SourceWatch{Path: filepath.Join(d, SourceWatchFile)}
}

// LocalSources are the config sources a start in cwd would read when no
// explicit source is given, in precedence order.
func LocalSources(cwd string) []string {
	return []string{filepath.Join(cwd, LocalFile), filepath.Join(cwd, LocalDirFile)}
}

func (w SourceWatch) read() (sourceWatchDoc, error) {
	doc := sourceWatchDoc{Watched: map[string]time.Time{}}
	if w.Path == "" {
		return doc, nil
	}
	data, err := os.ReadFile(w.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return doc, nil
	}
	if err != nil {
		return doc, err
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return doc, fmt.Errorf("%s: %v", w.Path, err)
	}
	if doc.Watched == nil {
		doc.Watched = map[string]time.Time{}
	}
	return doc, nil
}

// write replaces the record (a temporary file renamed over it, so a reader
// sees the old or the new one).
func (w SourceWatch) write(doc sourceWatchDoc) error {
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(w.Path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(w.Path), "."+SourceWatchFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), w.Path)
}

// Since reports when path was recorded, and whether it is.
func (w SourceWatch) Since(path string) (time.Time, bool, error) {
	doc, err := w.read()
	if err != nil {
		return time.Time{}, false, err
	}
	t, ok := doc.Watched[filepath.Clean(path)]
	return t, ok, nil
}

// Watch records each of paths that does not exist now (a path already
// recorded keeps its time) and creates the record even when there is
// nothing to add, so that it exists to be sealed. It returns the paths
// recorded by this call.
func (w SourceWatch) Watch(paths []string, now time.Time) ([]string, error) {
	if w.Path == "" {
		return nil, nil
	}
	doc, err := w.read()
	if err != nil {
		return nil, err
	}
	var added []string
	for _, p := range paths {
		p = filepath.Clean(p)
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			continue // it exists (sealed in the children's view), or cannot be told
		}
		if _, ok := doc.Watched[p]; !ok {
			doc.Watched[p] = now.UTC()
			added = append(added, p)
		}
	}
	if _, err := os.Stat(w.Path); len(added) == 0 && err == nil {
		return nil, nil
	}
	sort.Strings(added)
	return added, w.write(doc)
}

// Clear removes path from the record (the user loaded it explicitly).
func (w SourceWatch) Clear(path string) error {
	doc, err := w.read()
	if err != nil {
		return err
	}
	path = filepath.Clean(path)
	if _, ok := doc.Watched[path]; !ok {
		return nil
	}
	delete(doc.Watched, path)
	return w.write(doc)
}

// checkWatched refuses a local source (found in the start directory, not
// given explicitly) that a server recorded as absent while its children
// could create it.
func checkWatched(w SourceWatch, path string) *Error {
	since, ok, err := w.Since(path)
	if err != nil {
		return invalid("", "fix or remove "+w.Path+" (the server's record of config sources its children could create)",
			"cannot read the record of watched config sources: %v", err)
	}
	if !ok {
		return nil
	}
	return invalid("", fmt.Sprintf("review %s; if you wrote it, load it once explicitly with --config %s (that clears the record), otherwise delete it", path, path),
		"config file %s appeared after %s, when a server started in this directory found it absent while its children (with the server's uid) could create it: a child may have written it to change the next start's policy",
		path, since.Format(time.RFC3339))
}
