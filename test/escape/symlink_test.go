//go:build linux

package escape

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestEscape_WritablePathSwappedForSymlink_landlock: a writable path that an
// earlier child replaced with a symbolic link to a protected directory does
// not carry Landlock's write permission there: every launch opens the
// writable paths refusing any symbolic link.
func TestEscape_WritablePathSwappedForSymlink_landlock(t *testing.T) {
	eitherServer(t)
	e := newEnv(t)
	writable := filepath.Join(e.work, "cache")
	secret := protectedDir(t)
	if err := os.Mkdir(writable, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(layer{"landlock": true, "writablePaths": []string{writable}})
	path := e.writeConfig(t, cfg)
	// What an earlier child can do in its working directory: swap the
	// writable directory for a link to somewhere it may not write.
	if err := os.Remove(writable); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, writable); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := e.serverCmd(ctx, "run", "--config", path, "--", probeBin, "write-file", filepath.Join(writable, "pwned"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("run: %v; stdout %q; stderr %q", err, stdout.String(), stderr.String())
	if _, serr := os.Stat(filepath.Join(secret, "pwned")); serr == nil {
		t.Fatal("the child wrote into the protected directory through the swapped writable path")
	}
	if err == nil && bytes.Contains(stdout.Bytes(), []byte(`"ok":true`)) {
		t.Fatal("the probe reports the write succeeded")
	}
	// Without Landlock the same write through the link lands in the
	// protected directory: only the layer stops it.
	escaped(t, e.attack(t, e.config(noLandlock), probeBin, "write-file", filepath.Join(writable, "baseline")), "Landlock (the write through the swapped link)")
	if _, err := os.Stat(filepath.Join(secret, "baseline")); err != nil {
		t.Fatalf("baseline: the write did not land in the link's target: %v", err)
	}
}

// protectedDir is a directory the children's uid may write (mode 0777), so
// that only Landlock keeps them out of it.
func protectedDir(t *testing.T) string {
	t.Helper()
	d := tempDir(t, "secret-")
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
}

// The same swap while the server runs (between two launches): the launch
// refuses the writable path (a symbolic link now) instead of granting write
// access to where it points.
func TestEscape_WritablePathSwappedWhileServing_landlock(t *testing.T) {
	eitherServer(t)
	e := newEnv(t)
	writable := filepath.Join(e.work, "cache")
	secret := protectedDir(t)
	if err := os.Mkdir(writable, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(writable, 0o777); err != nil { // the children are uid 65534
		t.Fatal(err)
	}
	path := e.writeConfig(t, e.config(layer{"landlock": true, "writablePaths": []string{writable}}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := e.serverCmd(context.Background(), "serve", "--config", path)
	client := mcp.NewClient(&mcp.Implementation{Name: "escape", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	write := func(target string) (bool, string) {
		res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "process_run", Arguments: map[string]any{
			"executable": probeBin, "args": []string{"write-file", target}, "cwd": e.work}})
		if err != nil {
			t.Fatal(err)
		}
		if res.IsError { // the error JSON is the text content
			b, _ := json.Marshal(res.Content)
			return false, string(b)
		}
		b, _ := json.Marshal(res.StructuredContent)
		return bytes.Contains(b, []byte(`"ok\":true`)), string(b)
	}
	// Baseline: the writable path is writable.
	if ok, out := write(filepath.Join(writable, "first")); !ok {
		t.Fatalf("baseline write into the writable path failed: %s", out)
	}
	os.RemoveAll(writable)
	if err := os.Symlink(secret, writable); err != nil {
		t.Fatal(err)
	}
	ok, out := write(filepath.Join(writable, "pwned"))
	t.Logf("after the swap: %s", out)
	if _, err := os.Stat(filepath.Join(secret, "pwned")); err == nil || ok {
		t.Fatal("the child wrote into the protected directory through the swapped writable path")
	}
}
