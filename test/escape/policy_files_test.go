//go:build linux

package escape

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SPEC 7.1a: the agent cannot change the policy, not even for the next
// start.

// A root server's child plants ./mcp-process-config.json in its working
// directory (the server's start directory, where the next start looks
// first): the next start refuses it, since its owner is the children's uid.
func TestEscape_PlantConfigForNextStart_configOwner(t *testing.T) {
	rootServerOnly(t, "an unprivileged server's children share its uid, so the owner check cannot tell their files from the server user's; the private view's seal covers files that exist (TestEscape_WritePolicyFiles_sealed)")
	e := newEnv(t)
	planted := filepath.Join(e.work, "mcp-process-config.json")
	r := e.attack(t, e.config(), probeBin, "write-file", planted)
	if !r.OK {
		t.Fatalf("the child could not create %s (the test needs it to): %s", planted, r)
	}
	validate := func() (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := e.serverCmd(ctx, "validate")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Run()
		return cmd.ProcessState.ExitCode(), out.String()
	}
	code, out := validate()
	if code != 2 || !strings.Contains(out, planted) || !strings.Contains(out, "owned by uid 65534") {
		t.Fatalf("ESCAPE: the next start took the planted config (exit %d):\n%s", code, out)
	}
	t.Logf("stopped by the config file's owner check: %s", strings.TrimSpace(out))
	// Baseline: the same file owned by root is the next start's policy.
	if err := os.WriteFile(planted, []byte(`{"allowedExecutables": ["/bin/true"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(planted, 0, 0); err != nil {
		t.Fatal(err)
	}
	if code, out := validate(); code != 0 || !strings.Contains(out, planted) {
		t.Fatalf("baseline: a root-owned ./mcp-process-config.json should be loaded (exit %d):\n%s", code, out)
	}
	t.Logf("baseline without the owner check: a file there is the next start's policy")
}

// A server whose children share its uid (unprivileged) keeps its config
// file and audit log in the allowed working directory. With Landlock the
// start is refused, naming the file (a seal there could be lost or
// bypassed: TestEscape_ReplaceAuditHeadAndLiveLog_landlock). With landlock
// false the start goes on, and the private view seals them read-only, with
// namespaces.user and without it (the self-mapped user namespace).
// Baseline: the same uid outside the sandbox rewrites them.
func TestEscape_WritePolicyFiles_sealed(t *testing.T) {
	ownServer(t, "an unprivileged server (uid 65534) with and without namespaces.user")
	e := newEnv(t)
	cred := &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}
	e.own(t, cred)
	audit := filepath.Join(e.work, "audit.log")
	run := func(userNS bool, target string) result {
		t.Helper()
		cfg := e.config(layer{"auditLogPath": audit}, noLandlock)
		if userNS {
			cfg["enableNamespaces"] = true
			cfg["namespaces"] = map[string]any{"user": true}
		}
		path := filepath.Join(e.work, "policy.json") // in the working directory, child-writable
		b, _ := json.MarshalIndent(cfg, "", "  ")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chown(path, nobody, nobody)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := e.serverCmdAs(ctx, cred, "run", "--config", path, "--", probeBin, "write-file", target)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("unprivileged mcp-process run: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		}
		return parseResult(t, stdout.Bytes(), stderr.String())
	}
	// With Landlock (the default) the start is refused, naming the file.
	refused := e.writeConfig(t, e.config(layer{"auditLogPath": audit}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := e.serverCmdAs(ctx, cred, "run", "--config", refused, "--", probeBin, "write-file", audit).CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "auditLogPath") || !strings.Contains(string(out), audit) {
		t.Fatalf("a start with the audit log in the working directory under Landlock: exit %d, want 2 naming auditLogPath and %s:\n%s", code, audit, out)
	}
	for _, target := range []string{filepath.Join(e.work, "policy.json"), audit} {
		r := run(true, target)
		stopped(t, r, "EROFS", "the private view's seal ("+filepath.Base(target)+" read-only in the child's view)")
		// Without namespaces.user an unprivileged server gives its children
		// a user namespace of their own ids where the host allows it, and
		// so the private view and the seal all the same.
		r = run(false, target)
		stopped(t, r, "EROFS", "the private view's seal in the self-mapped user namespace")
		escaped(t, direct(t, asNobody(probe("write-file", target))), "the seal (the probe run directly as the server's uid)")
	}
}

// An unprivileged server's children share its uid, so a
// ./mcp-process-config.json one of them creates in the start directory
// (an allowed working directory) has the user's own owner, and no seal can
// cover a file that did not exist. The server records, before its first
// launch, that the file was absent and creatable by its children; the next
// start in that directory refuses it, naming the path. Baseline: the same
// file written where no server recorded it is the next start's policy.
func TestEscape_PlantConfigForNextStart_sameUID(t *testing.T) {
	ownServer(t, "an unprivileged server (uid 65534), whose children have its uid")
	e := newEnv(t)
	cred := &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}
	e.own(t, cred)
	planted := filepath.Join(e.work, "mcp-process-config.json")
	path := e.writeConfig(t, e.config())
	cmdAs := func(args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := e.serverCmdAs(ctx, cred, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Run()
		return cmd.ProcessState.ExitCode(), out.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := e.serverCmdAs(ctx, cred, "run", "--config", path, "--", probeBin, "write-file", planted)
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("unprivileged mcp-process run: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if r := parseResult(t, stdout.Bytes(), stderr.String()); !r.OK {
		t.Fatalf("the child could not create %s (the test needs it to): %s", planted, r)
	}
	os.WriteFile(planted, []byte(`{"allowedExecutables": ["/bin/sh"], "blockShellInterpreters": false}`), 0o644)
	// Nor can a child drop the record: it is one of the policy's files.
	record := filepath.Join(e.dir, "home", "state", "mcp-process", "config-sources.json")
	run = e.serverCmdAs(ctx, cred, "run", "--config", path, "--", probeBin, "write-file", record)
	stdout.Reset()
	stderr.Reset()
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("unprivileged mcp-process run: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if r := parseResult(t, stdout.Bytes(), stderr.String()); r.OK {
		t.Fatalf("ESCAPE: a child rewrote the record %s: %s", record, r)
	}
	code, out := cmdAs("validate")
	if code != 2 || !strings.Contains(out, planted) || !strings.Contains(out, "a child may have written it") {
		t.Fatalf("ESCAPE: the next start took the planted config (exit %d):\n%s", code, out)
	}
	t.Logf("stopped by the record of creatable config sources: %s", strings.TrimSpace(out))
	// The user vouches for the file by loading it explicitly once; then it
	// is the start directory's config again.
	if code, out := cmdAs("validate", "--config", planted); code != 0 {
		t.Fatalf("an explicit --config of the file should load it (exit %d):\n%s", code, out)
	}
	if code, out := cmdAs("validate"); code != 0 || !strings.Contains(out, planted) {
		t.Fatalf("after --config, the start directory's file should load (exit %d):\n%s", code, out)
	}
	// Baseline: in a directory where no server ran, the same file (same
	// owner) is the next start's policy.
	e2 := newEnv(t)
	e2.own(t, cred)
	other := filepath.Join(e2.work, "mcp-process-config.json")
	if err := os.WriteFile(other, []byte(`{"allowedExecutables": ["/bin/sh"], "blockShellInterpreters": false}`), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chown(other, nobody, nobody)
	v := e2.serverCmdAs(ctx, cred, "validate")
	if b, err := v.CombinedOutput(); err != nil || !strings.Contains(string(b), other) {
		t.Fatalf("baseline: ./mcp-process-config.json where no server recorded it should load (%v):\n%s", err, b)
	}
	t.Logf("baseline without the record: a file there is the next start's policy")
	escaped(t, direct(t, asNobody(probe("write-file", record))), "the seal of the record (the probe run directly as the server's uid)")
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// SPEC 7.1a: a read-only seal (a bind mount of the file onto itself in the
// child's view) is lost when the host renames over the file — the server
// rewrites the audit head by a rename every second; a rotation renames the
// live log away and makes a new, unsealed one — and is bypassed by
// renaming a directory above the file. What keeps the log out of reach is
// Landlock with the log outside every directory the children may write
// (the start refuses it inside one: TestStartRefusesPolicyFileWhereChildrenWrite
// in cmd/mcp-process). Here the log's directory and its parent (the env's
// directory) are writable by the children's uid; the child tries to
// replace the head (waiting out the seal), to replace the log's directory,
// and to replace the live log after a rotation. Baseline: landlock false,
// the same placement: each works.
func TestEscape_ReplaceAuditHeadAndLiveLog_landlock(t *testing.T) {
	eitherServer(t)
	e := newEnv(t)
	logDir := filepath.Dir(e.audit)
	if !unprivileged() {
		// The children (65534) may write the log's directory: only Landlock
		// stands between them and the files in it.
		if err := os.Chown(logDir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	head := e.audit + ".head"
	intact := func(t *testing.T, p string) {
		t.Helper()
		if b, err := os.ReadFile(p); err != nil || strings.Contains(string(b), "escaped") {
			t.Fatalf("ESCAPE: %s was replaced or is gone: %q %v", p, b, err)
		}
	}
	reset := func(t *testing.T) {
		t.Helper()
		// Undo a baseline's damage: the env's log directory as it was.
		if _, err := os.Stat(logDir + ".escaped"); err == nil {
			os.RemoveAll(logDir)
			if err := os.Rename(logDir+".escaped", logDir); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{e.audit, e.audit + ".1", head} {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), "escaped") {
				os.Remove(f)
			}
		}
		os.Remove(e.audit + ".1")
		os.Remove(e.audit + ".1.head")
	}
	t.Run("head", func(t *testing.T) {
		r := e.attack(t, e.config(), probeBin, "replace-file", head, "5")
		stopped(t, r, "EACCES", "Landlock (the log's directory is not one the children may write)")
		intact(t, head)
		escaped(t, e.attack(t, e.config(noLandlock), probeBin, "replace-file", head, "5"),
			"landlock (the head's seal lost when the server renamed its new head over it)")
		reset(t)
		// The server says so: without Landlock, the log the children could
		// replace is among the missing guarantees (doctor, as
		// process_get_policy and the start's warning).
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, _ := e.serverCmd(ctx, "doctor", "--json", "--config", e.writeConfig(t, e.config(noLandlock))).Output()
		var rep struct {
			Layers map[string]string `json:"layers"`
		}
		json.Unmarshal(out, &rep)
		if m := rep.Layers["missingGuarantees"]; !strings.Contains(m, "auditLogPath") || !strings.Contains(m, e.audit) {
			t.Fatalf("without Landlock, missingGuarantees does not name the audit log %s: %q\n%s", e.audit, m, out)
		}
	})
	t.Run("directory", func(t *testing.T) {
		r := e.attack(t, e.config(), probeBin, "replace-dir", head)
		stopped(t, r, "EACCES", "Landlock (the log's directory's parent is not one the children may write)")
		intact(t, head)
		escaped(t, e.attack(t, e.config(noLandlock), probeBin, "replace-dir", head), "landlock (the seal bypassed by renaming the directory)")
		reset(t)
	})
	t.Run("live log after a rotation", func(t *testing.T) {
		r := e.attackDuringRotation(t, e.config())
		stopped(t, r, "EACCES", "Landlock")
		intact(t, e.audit)
		escaped(t, e.attackDuringRotation(t, e.config(noLandlock)), "landlock (the new live log is not sealed)")
		reset(t)
	})
}

// attackDuringRotation runs replace-file on the live log under cfg and,
// while the child waits out the log's seal, rotates the log as the audit
// writer does (the live file renamed to FILE.1, a new one made O_EXCL,
// mode 0600): a real rotation needs 64 MiB of records.
func (e *testEnv) attackDuringRotation(t *testing.T, cfg map[string]any) result {
	t.Helper()
	path := e.writeConfig(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := e.serverCmd(ctx, "run", "--config", path, "--", probeBin, "replace-file", e.audit, "5")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := os.Rename(e.audit, e.audit+".1"); err == nil {
		if f, err := os.OpenFile(e.audit, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			f.Close()
			if e.owner != nil {
				os.Chown(e.audit, int(e.owner.Uid), int(e.owner.Gid))
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("mcp-process run: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	return parseResult(t, stdout.Bytes(), stderr.String())
}
