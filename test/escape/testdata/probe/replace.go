//go:build linux

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func init() {
	attacks["replace-file"] = replaceFile
	attacks["replace-dir"] = replaceDir
}

// replace-file PATH SECONDS: write a file of the probe's own beside PATH
// and rename it over PATH (what a child would do to the audit head or the
// live log). While PATH is a mount point in the probe's view (sealed), the
// rename fails with EBUSY: it is retried every 50 ms for up to SECONDS, so
// that a seal the host loses (the server renaming over the file) is used.
// ok=true: PATH is now the probe's file.
func replaceFile(args []string) result {
	p := need(args, 0, "PATH")
	secs := needInt(args, 1, "SECONDS")
	tmp := filepath.Join(filepath.Dir(p), ".probe-"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(tmp, []byte("escaped\n"), 0o644); err != nil {
		return fail(err, "create "+tmp+" beside "+p)
	}
	defer os.Remove(tmp)
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	for busy := 0; ; busy++ {
		err := os.Rename(tmp, p)
		if err == nil {
			return success("replaced " + p + " (after " + strconv.Itoa(busy) + " EBUSY: sealed until then)")
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fail(err, "rename over "+p)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replace-dir PATH: rename PATH's directory away, make a new one in its
// place and write PATH there (how a child bypasses a read-only seal on a
// file whose directory's parent it may write). ok=true: PATH is now the
// probe's file.
func replaceDir(args []string) result {
	p := need(args, 0, "PATH")
	dir := filepath.Dir(p)
	if err := os.Rename(dir, dir+".escaped"); err != nil {
		return fail(err, "rename "+dir)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fail(err, "make a new "+dir)
	}
	if err := os.WriteFile(p, []byte("escaped\n"), 0o644); err != nil {
		return fail(err, "write "+p)
	}
	return success("replaced " + dir + " and wrote " + p)
}
