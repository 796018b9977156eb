package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcp-process/mcp-process/internal/config"
)

// profileSummaries describe the profiles in a written file's "description".
var profileSummaries = map[string]string{
	"development": "development profile: node, npm, git, python3 and pip3 in this directory; 2048 MB, 600 s of CPU, 128 tasks, 20 launches a minute",
	"cicd":        "cicd profile: node, npm, yarn, git, docker and kubectl in this directory, in a jail composed at launch; shells allowed; 4096 MB, 1800 s of CPU, 256 tasks",
	"maximum":     "maximum profile: only node, one process, no network, no stdin, confirmation of every launch, in a jail composed at launch with all namespaces, seccomp strict and a read-only filesystem",
}

// cmdInit writes a starting configuration for the current directory: the
// profile's keys, allowedWorkingDirectories set to this directory, and a
// "$comment" and "description" (the JSON comments the server ignores)
// saying what the file is and how to check it. It never overwrites a file,
// and it writes nothing that would not load on this host.
func cmdInit(args []string, stdout io.Writer) error {
	fset := newFlagSet("init")
	profile := fset.String("profile", "development", "the profile `P` the file starts from: "+strings.Join(config.ProfileNames(), ", "))
	output := fset.String("output", config.LocalFile, "the `FILE` to write (relative to the current directory); an existing file is never overwritten")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return exitf(2, "init: unexpected argument %q (see mcp-process init --help)", fset.Arg(0))
	}
	cwd, err := os.Getwd()
	if err != nil {
		return exitf(2, "init: cannot read the current directory: %v", err)
	}
	if real, err := filepath.EvalSymlinks(cwd); err == nil {
		cwd = real
	}
	if cwd == "/" {
		return exitf(2, "init: the current directory is /, which as allowedWorkingDirectories would allow every directory; run init in a project directory")
	}
	doc, err := config.ProfileDocument(*profile)
	if err != nil {
		return exitf(2, "init: %v", err)
	}
	content, err := initDocument(*profile, cwd, doc)
	if err != nil {
		return exitf(2, "init: %v", err)
	}
	// What the server will read must load here: checked before writing.
	getenv := func(k string) string {
		if k == config.EnvConfigJSON {
			return string(content)
		}
		if k == config.EnvConfigPath {
			return ""
		}
		return os.Getenv(k)
	}
	if _, err := config.Load(config.LoadOptions{Cwd: cwd, Getenv: getenv}); err != nil {
		why := err.Error()
		var ce *config.Error
		if errors.As(err, &ce) {
			why = fmt.Sprintf("key %q: %s [%s]", ce.Key, ce.Message, ce.Code)
		}
		return exitf(2, "init: the %s profile does not load on this host (%s), so nothing was written; use another --profile (%s), or start from one and add the keys you need",
			*profile, why, strings.Join(config.ProfileNames(), ", "))
	}
	path := *output
	if !filepath.IsAbs(path) {
		path = filepath.Join(cwd, path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return exitf(2, "init: %s exists and is left as it is; remove it first, or write elsewhere with --output", path)
	}
	if err != nil {
		return exitf(2, "init: %v", err)
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		os.Remove(path)
		return exitf(2, "init: write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return exitf(2, "init: write %s: %v", path, err)
	}
	// The user wrote it: a start here takes it even where an earlier
	// server's children could have created it (config.SourceWatch).
	if w := config.WatchFor(os.Getenv); w.Path != "" {
		if err := w.Clear(path); err != nil {
			return exitf(2, "init: wrote %s, but cannot update %s, so a start in this directory will refuse it: load it once with --config %s (%v)", path, w.Path, path, err)
		}
	}
	fmt.Fprintf(stdout, "wrote %s (%s profile, working directory %s)\ncheck it with: mcp-process validate --config %s\n", path, *profile, cwd, path)
	return nil
}

// initDocument is the profile's document with the annotation keys and
// allowedWorkingDirectories first.
func initDocument(profile, cwd string, doc []byte) ([]byte, error) {
	body, ok := strings.CutPrefix(string(doc), "{\n")
	if !ok {
		return nil, fmt.Errorf("built-in profile %q is not an indented object", profile)
	}
	comment := "Written by `mcp-process init` from the " + profile + " profile. The server reads ./" + config.LocalFile +
		" when it is started in this directory (or pass --config FILE). Every key is enforced; an unknown, duplicate or null key stops the server with the key named. " +
		"allowedExecutables: what agents may start (names are looked up in searchPath). allowedWorkingDirectories: where they may run (and below). " +
		"defaultResourceLimits: per launch, enforced by the kernel (maxProcesses counts threads). " +
		"Keys not written here have the defaults `mcp-process validate` prints. After a change, run `mcp-process validate`. " +
		"Every key: docs/configuration.md; for editor completion: `mcp-process schema > mcp-process.schema.json`, then add \"$schema\": \"./mcp-process.schema.json\"."
	var b strings.Builder
	b.WriteString("{\n")
	for _, kv := range [][2]any{
		{"$comment", comment},
		{"description", profileSummaries[profile]},
		{"allowedWorkingDirectories", []string{cwd}},
	} {
		fmt.Fprintf(&b, "  %s: %s,\n", plainJSON(kv[0]), plainJSON(kv[1]))
	}
	b.WriteString(body)
	if !strings.HasSuffix(body, "\n") {
		b.WriteString("\n")
	}
	return []byte(b.String()), nil
}

// plainJSON is v as JSON without HTML escapes (a reader sees ">", not
// "\u003e"); v holds strings only.
func plainJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}
