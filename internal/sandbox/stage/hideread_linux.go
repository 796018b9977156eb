//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// The hidden paths' read layer (FlagHideReads; SPEC 7.1a "Secrets hidden").
//
// A mask (private_linux.go) is a mount on the directory entry the child
// found. When the host replaces a hidden file by a rename (git's credential
// store renames `.git-credentials.lock` over `~/.git-credentials`; editors
// save so), or deletes a hidden directory and makes it again, the kernel
// detaches that mount in every child's namespace, and a child then running
// would read the new file. This layer keeps the hidden names unreadable
// whatever the host does to them: a Landlock domain that handles only
// LANDLOCK_ACCESS_FS_READ_FILE (so execs too: an exec opens the file for
// reading) and grants it on every entry, as the entry is when the launch
// starts, of each directory above a hidden path (the split directories:
// "/", "/home", "/home/me" for "/home/me/.netrc"), except the hidden paths
// and the split directories themselves. Landlock grants by inode, beneath
// a rule's directory: a file that appears later under a hidden name (a new
// inode) is granted nothing, and reading it fails with EACCES.
//
// What it costs a launch's view: a file created directly in a split
// directory after the launch started (not beneath one of its entries) is
// unreadable for that launch too. So a hidden path at or beneath a
// directory the children keep whole — where they work and write (the
// allowed working directories, the working directory, writablePaths, /tmp)
// or one the view makes private — is not split: it keeps only its mask.
//
// What it does not cover: a file that already existed under another name
// in a split directory when the launch started and that the host then
// renames to a hidden name keeps its grant (the inode is the same).

// llReadFile is LANDLOCK_ACCESS_FS_READ_FILE.
const llReadFile = 1 << 2

// dtLNK is a symbolic link's d_type in struct linux_dirent64.
const dtLNK = 10

// hiddenStops are the directories a launch keeps whole (see above).
func hiddenStops(c *Config) []string {
	stops := append([]string{"/tmp"}, c.Private...)
	if c.Dir != "" {
		stops = append(stops, c.Dir)
	}
	stops = append(stops, c.Writable...)
	return append(stops, c.Dirs...)
}

// hiddenSplit returns, for the hidden paths (clean, absolute, as the
// server resolved them) and the directories kept whole, the split
// directories (each parent before its children) and the hidden paths that
// are not beneath a kept directory (the names never granted).
func hiddenSplit(hidden, stops []string) (split, skip []string) {
	for _, h := range hidden {
		if len(h) < 2 || h[0] != '/' || beneathAny(h, stops) {
			continue
		}
		skip = addOnce(skip, h)
		split = addOnce(split, "/")
		for i := 1; i < len(h); i++ {
			if h[i] == '/' {
				split = addOnce(split, h[:i])
			}
		}
	}
	// Parents first: a parent's path is shorter.
	for i := 1; i < len(split); i++ {
		for j := i; j > 0 && len(split[j]) < len(split[j-1]); j-- {
			split[j], split[j-1] = split[j-1], split[j]
		}
	}
	return split, skip
}

func addOnce(list []string, s string) []string {
	if contains(list, s) {
		return list
	}
	return append(list, s)
}

// entryPath is the path of the entry name of directory dir.
func entryPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// grantedEntry reports whether the entry p of a split directory gets the
// read grant: not a split directory (its own entries are granted one by
// one) and not hidden.
func grantedEntry(p string, split, skip []string) bool {
	return !contains(split, p) && !contains(skip, p)
}

// eachEntry calls f with the name and d_type of each entry of the
// directory d (an open descriptor), "." and ".." left out.
func eachEntry(d int, f func(name string, typ byte)) uintptr {
	buf := make([]byte, 8192)
	for {
		n, e := rawSyscall6(nrGetdents64, uintptr(d), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
		runtime.KeepAlive(buf)
		if e != 0 {
			return e
		}
		if n == 0 {
			return 0
		}
		// struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name.
		for off := 0; off < int(n); {
			reclen := int(buf[off+16]) | int(buf[off+17])<<8
			typ := buf[off+18]
			name := buf[off+19 : off+reclen]
			for i, ch := range name {
				if ch == 0 {
					name = name[:i]
					break
				}
			}
			if s := string(name); s != "." && s != ".." {
				f(s, typ)
			}
			off += reclen
		}
	}
}

// openEntry opens the entry name of directory d as O_PATH, not following a
// symbolic link.
func openEntry(d int, name string) (int, uintptr) {
	p := cstring(name)
	fd, e := rawSyscall6(nrOpenat, uintptr(d), uintptr(unsafe.Pointer(&p[0])), oPath|oNOFOLLOW|oCLOEXEC, 0, 0, 0)
	runtime.KeepAlive(p)
	return int(fd), e
}

// A hidden path the server resolved at its start can lead elsewhere at a
// launch: it, or a directory above it, became a symbolic link since (a
// dotfile manager links ~/.netrc to ~/dotfiles/netrc). Its mask follows
// the link, so the layer hides where it leads too (expandHidden).

// expandHidden returns hidden with, for each hidden path that is a
// symbolic link now or lies beneath a split directory that is one, the
// path a walk of it reaches now (walkedPath); isLink says whether a path is
// a symbolic link.
func expandHidden(hidden, stops []string, isLink func(string) bool) []string {
	for round := 0; round < 4; round++ { // a link found leads to new split directories
		split, skip := hiddenSplit(hidden, stops)
		var extra []string
		add := func(h string) {
			if t, ok := walkedPath(h); ok && !contains(hidden, t) && !contains(extra, t) {
				extra = append(extra, t)
			}
		}
		for _, h := range skip {
			if isLink(h) {
				add(h)
			}
		}
		for _, d := range split {
			if d == "/" || !isLink(d) {
				continue
			}
			for _, h := range skip {
				if beneathAny(h, []string{d}) {
					add(h)
				}
			}
		}
		if len(extra) == 0 {
			break
		}
		hidden = append(hidden[:len(hidden):len(hidden)], extra...)
	}
	return hidden
}

// walkedPath is where a walk of the absolute path p leads now, every
// symbolic link followed: the real path of what p names, or, where that
// does not exist (yet), the real path of the nearest existing directory
// above it followed by the rest of the name (where a file made later would
// be). ok false: not found out (a name with "." or ".." past what exists).
func walkedPath(p string) (string, bool) {
	if fd, e := sysOpen(p, oPath|oCLOEXEC); e == 0 { // it exists: its real path
		t, ok := fdPath(fd)
		sysClose(fd)
		return t, ok
	}
	cur, rest := p, ""
	if text, ok := readLink(p); ok { // a dangling link: its target's name
		if text == "" {
			return "", false
		}
		if text[0] != '/' {
			dir, _ := splitPath(p)
			text = entryPath(dir, text)
		}
		cur = text
	}
	for {
		if fd, e := sysOpen(cur, oPath|oCLOEXEC); e == 0 {
			t, ok := fdPath(fd)
			sysClose(fd)
			if !ok {
				return "", false
			}
			if rest == "" {
				return t, true
			}
			return entryPath(t, rest), true
		}
		dir, name := splitPath(cur)
		if name == "" || name == "." || name == ".." || dir == cur {
			return "", false
		}
		if rest == "" {
			rest = name
		} else {
			rest = name + "/" + rest
		}
		cur = dir
	}
}

// splitPath is the absolute path p's directory and last name.
func splitPath(p string) (dir, name string) {
	i := len(p) - 1
	for i > 0 && p[i] != '/' {
		i--
	}
	if i <= 0 {
		return "/", p[1:]
	}
	return p[:i], p[i+1:]
}

// readLink is the text of the symbolic link p (ok false: not a link).
func readLink(p string) (string, bool) {
	var buf [4096]byte
	c := cstring(p)
	n, e := rawSyscall6(nrReadlinkat, atFDCWD, uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	runtime.KeepAlive(c)
	if e != 0 || n >= uintptr(len(buf)) {
		return "", false
	}
	return string(buf[:n]), true
}

// fdPath is the path of fd's file as the kernel names it (ok false: not a
// path of the caller's view, or no longer linked).
func fdPath(fd int) (string, bool) {
	t, ok := readLink("/proc/self/fd/" + utoa(uint64(fd)))
	if !ok || t == "" || t[0] != '/' || hasSuffix(t, " (deleted)") {
		return "", false
	}
	return t, true
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// stageIsLink reports whether p is a symbolic link now (the Go stage's
// view).
func stageIsLink(p string) bool {
	_, ok := readLink(p)
	return ok
}

// prepareHiddenReads makes the layer's ruleset in the stage (-1: no
// layer): the entries are listed and opened in the view the launch has now
// (after its mounts), so a private /tmp's rule names the child's own
// tmpfs; and before setIdentity, with the stage's credentials, as the
// zygote lists with its own (a home of mode 0711 is searchable but not
// listable by the target's uid: listed by it, nothing beneath would be
// readable). restrictHiddenReads restricts the stage with it at its place
// in the steps.
func prepareHiddenReads(c *Config) (int, *StepError) {
	if c.Flags&FlagHideReads == 0 {
		return -1, nil
	}
	stops := hiddenStops(c)
	split, skip := hiddenSplit(expandHidden(c.HideRead, stops, stageIsLink), stops)
	if len(split) == 0 {
		return -1, nil
	}
	abi, _ := rawSyscall6(nrLandlockCreateRuleset, 0, 0, landlockCreateRulesetVersion, 0, 0, 0)
	attr := uint64(llReadFile) | referRight(abi) // struct landlock_ruleset_attr: handled_access_fs
	rs, e := rawSyscall6(nrLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr)), 8, 0, 0, 0, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return -1, &StepError{Step: StepPrivate, Errno: e, Detail: "landlock_create_ruleset (the hidden files' read rules)"}
	}
	if attr&llRefer != 0 {
		if e := grantRefer(int(rs)); e != 0 {
			sysClose(int(rs))
			return -1, &StepError{Step: StepPrivate, Errno: e, Detail: "landlock_add_rule / (links and renames, the hidden files' read rules)"}
		}
	}
	for _, dir := range split {
		if contains(skip, dir) {
			continue // a hidden directory: nothing beneath it is granted
		}
		// A split directory that is absent, a symbolic link now, or that
		// the stage may not list gets no rule beneath it: what is in it
		// stays unreadable (fail closed).
		d, e := sysOpenNoSymlinks(dir, oRDONLY|oDIRECTORY|oCLOEXEC)
		if e != 0 {
			continue
		}
		eachEntry(d, func(name string, typ byte) {
			if typ == dtLNK || !grantedEntry(entryPath(dir, name), split, skip) {
				return
			}
			if fd, e := openEntry(d, name); e == 0 {
				landlockAddRule(int(rs), fd, llReadFile) // a failure leaves the entry unreadable
				sysClose(fd)
			}
		})
		sysClose(d)
	}
	return int(rs), nil
}

// restrictHiddenReads restricts the stage with the ruleset
// prepareHiddenReads made (none: -1), and closes it.
func restrictHiddenReads(rs int) *StepError {
	if rs < 0 {
		return nil
	}
	_, e := rawSyscall6(nrLandlockRestrictSelf, uintptr(rs), 0, 0, 0, 0, 0)
	sysClose(rs)
	if e != 0 {
		return &StepError{Step: StepPrivate, Errno: e, Detail: "landlock_restrict_self (the hidden files' read rules)"}
	}
	return nil
}
