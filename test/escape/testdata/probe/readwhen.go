//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

func init() {
	attacks["read-file-when"] = readFileWhen
}

// read-file-when READY GO SECONDS PATH...: read each PATH, create READY
// (the probe is running, past every step of its launch), wait up to
// SECONDS for GO to exist (the host has done what the test needs done while
// the probe runs, such as replacing a file), then read each PATH again.
// Unlike the other attacks it prints a line per read, the result of
// read-file PATH, with attack "read-file (at start)" for the first reads
// and "read-file" for the reads after GO; the line main prints last is the
// summary: ok=true when every PATH was read after GO. GO is only looked up
// (stat), never opened.
func readFileWhen(args []string) result {
	ready := need(args, 0, "READY")
	goFile := need(args, 1, "GO")
	secs := needInt(args, 2, "SECONDS")
	paths := args[3:]
	if len(paths) == 0 {
		need(args, 3, "PATH")
	}
	readAll := func(attack string) bool {
		all := true
		for _, p := range paths {
			r := readFile([]string{p})
			r.Attack = attack
			all = all && r.OK
			b, _ := json.Marshal(r)
			os.Stdout.Write(append(b, '\n'))
		}
		return all
	}
	readAll("read-file (at start)")
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		return fail(err, "create "+ready)
	}
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	for {
		_, err := os.Stat(goFile)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return fail(err, "wait for "+goFile)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !readAll("read-file") {
		return result{Detail: fmt.Sprintf("not every one of %d files read", len(paths))}
	}
	return success(fmt.Sprintf("read all %d files", len(paths)))
}
