package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Account is a user or group of runAsUser / runAsGroup: a number or a name
// (read from /etc/passwd or /etc/group, never through NSS). In JSON it is
// a non-negative integer or a non-empty string; "" means not set.
type Account string

// UnmarshalJSON accepts a non-negative integer or a non-empty name.
func (a *Account) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return errors.New("not a valid JSON string")
		}
		if s == "" || strings.ContainsAny(s, ":\n\x00") {
			return errors.New("a user or group name must be non-empty and contain no ':' or newline")
		}
		*a = Account(s)
		return nil
	}
	n, err := strconv.ParseUint(string(b), 10, 32)
	if err != nil || n == 1<<32-1 {
		return errors.New("must be a user or group name (string) or a numeric id from 0 to 4294967294")
	}
	*a = Account(strconv.FormatUint(n, 10))
	return nil
}

// MarshalJSON writes a numeric id as a number and a name as a string.
func (a Account) MarshalJSON() ([]byte, error) {
	if _, err := strconv.ParseUint(string(a), 10, 32); err == nil {
		return []byte(a), nil
	}
	return []byte(strconv.Quote(string(a))), nil
}

// NobodyID is the uid and gid a root server's children run as by default
// (nobody / nogroup: owns nothing).
const NobodyID = 65534

// ChildIdentity is who the children of a server run as (SPEC 7.1).
type ChildIdentity struct {
	// Set: the init stage switches to UID/GID with no supplementary
	// groups. False for a non-root server's children, which keep the
	// server's ids (and groups, which it cannot drop).
	Set      bool
	UID, GID uint32
	// InUserNS: the ids are those inside the child's user namespace.
	InUserNS bool
}

// Describe says who the children are, for reports.
func (id ChildIdentity) Describe() string {
	if !id.Set {
		return "the server's own uid " + strconv.Itoa(host.uid()) + " and gid " + strconv.Itoa(host.gid()) + " (a non-root server cannot give its children other ids)"
	}
	s := fmt.Sprintf("uid %d, gid %d", id.UID, id.GID)
	if id.InUserNS {
		s += " inside the user namespace"
	}
	return s + ", no supplementary groups"
}

// Identity resolves runAsUser and runAsGroup for the running server. A
// root server's children default to 65534:65534 (runAsGroup defaults to
// the primary group of runAsUser when that is a user of /etc/passwd);
// uid or gid 0 needs namespaces.user. A non-root server's children run as
// the server: runAsUser/runAsGroup may only name its own ids.
func (c *Config) Identity() (ChildIdentity, *Error) {
	userNS := c.EnableNamespaces && c.Namespaces.User
	if !host.root() {
		for _, k := range []struct {
			key  string
			a    Account
			file string
			own  int
		}{{"runAsUser", c.RunAsUser, "/etc/passwd", host.uid()}, {"runAsGroup", c.RunAsGroup, "/etc/group", host.gid()}} {
			if k.a == "" {
				continue
			}
			id, _, err := lookupAccount(k.file, k.a)
			if err != nil {
				return ChildIdentity{}, invalid(k.key, "use a name from "+k.file+" or a numeric id", "%v", err)
			}
			if int(id) != k.own {
				return ChildIdentity{}, invalid(k.key, fmt.Sprintf("remove %s (children of a non-root server run as the server, id %d), or run the server as root", k.key, k.own),
					"%s is %d, but the server is not root: it cannot run children as another id", k.key, id)
			}
		}
		return ChildIdentity{}, nil
	}
	id := ChildIdentity{Set: true, UID: NobodyID, GID: NobodyID, InUserNS: userNS}
	if c.RunAsUser != "" {
		uid, gid, err := lookupAccount("/etc/passwd", c.RunAsUser)
		if err != nil {
			return ChildIdentity{}, invalid("runAsUser", "use a user name from /etc/passwd or a numeric uid", "%v", err)
		}
		id.UID = uid
		if gid >= 0 {
			id.GID = uint32(gid)
		}
	}
	if c.RunAsGroup != "" {
		gid, _, err := lookupAccount("/etc/group", c.RunAsGroup)
		if err != nil {
			return ChildIdentity{}, invalid("runAsGroup", "use a group name from /etc/group or a numeric gid", "%v", err)
		}
		id.GID = gid
	}
	if userNS {
		for _, k := range []struct {
			key string
			v   uint32
		}{{"runAsUser", id.UID}, {"runAsGroup", id.GID}} {
			if k.v >= 65536 {
				return ChildIdentity{}, invalid(k.key, "use an id from 0 to 65535 (the ids mapped into the child's user namespace)",
					"%s is %d, which is not mapped into the child's user namespace", k.key, k.v)
			}
		}
		return id, nil
	}
	if id.UID == 0 {
		return ChildIdentity{}, invalid("runAsUser", "remove runAsUser (children then run as 65534), name an unprivileged user, or set namespaces.user (uid 0 inside maps to an unprivileged host uid)",
			"runAsUser is 0: the children of a root server would be host root, which is still root for every file root owns")
	}
	if id.GID == 0 {
		return ChildIdentity{}, invalid("runAsGroup", "name an unprivileged group, or set namespaces.user",
			"runAsGroup is 0: the children would have the host's root group")
	}
	return id, nil
}

// lookupAccount resolves a to its id through file (/etc/passwd or
// /etc/group); for a user it also returns the primary gid (-1 when a is a
// number not listed there).
func lookupAccount(file string, a Account) (id uint32, gid int64, err error) {
	if n, err := strconv.ParseUint(string(a), 10, 32); err == nil {
		gid = -1
		if f, err := os.Open(file); err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				fields := strings.Split(sc.Text(), ":")
				if len(fields) >= 4 && fields[2] == string(a) && strings.HasSuffix(file, "passwd") {
					if g, err := strconv.ParseUint(fields[3], 10, 32); err == nil {
						gid = int64(g)
					}
					break
				}
			}
		}
		return uint32(n), gid, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return 0, -1, fmt.Errorf("cannot read %s to resolve %q: %v", file, string(a), err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 || fields[0] != string(a) {
			continue
		}
		n, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			return 0, -1, fmt.Errorf("%s lists %q with an invalid id %q", file, string(a), fields[2])
		}
		gid = -1
		if len(fields) >= 4 && strings.HasSuffix(file, "passwd") {
			if g, err := strconv.ParseUint(fields[3], 10, 32); err == nil {
				gid = int64(g)
			}
		}
		return uint32(n), gid, nil
	}
	return 0, -1, fmt.Errorf("%q is not in %s", string(a), file)
}
