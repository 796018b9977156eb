package config

import (
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

func TestAccountDecoding(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want Account
		bad  bool
	}{
		{`{"runAsUser": 1000}`, "1000", false},
		{`{"runAsUser": "nobody"}`, "nobody", false},
		{`{"runAsUser": 0}`, "0", false},
		{`{"runAsUser": ""}`, "", true},
		{`{"runAsUser": -1}`, "", true},
		{`{"runAsUser": 1.5}`, "", true},
		{`{"runAsUser": 4294967295}`, "", true},
		{`{"runAsUser": "a:b"}`, "", true},
		{`{"runAsUser": true}`, "", true},
	} {
		c := validConfig()
		_, err := Decode([]byte(tc.doc), c)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: accepted as %q", tc.doc, c.RunAsUser)
			}
			continue
		}
		if err != nil || c.RunAsUser != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.doc, c.RunAsUser, err, tc.want)
		}
		// The effective policy prints it back in a form Decode accepts.
		out, err := c.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		back := validConfig()
		if _, err := Decode(out, back); err != nil || back.RunAsUser != tc.want {
			t.Errorf("%s: round trip gave %q, %v", tc.doc, back.RunAsUser, err)
		}
	}
}

func TestChildIdentity(t *testing.T) {
	userNS := func(c *Config) { c.EnableNamespaces, c.Namespaces = true, Namespaces{User: true} }
	for _, tc := range []struct {
		name    string
		notRoot bool
		mod     func(*Config)
		want    ChildIdentity
		wantErr string // key
	}{
		{name: "root default is nobody", want: ChildIdentity{Set: true, UID: 65534, GID: 65534}},
		{name: "root, numeric user takes its passwd group", mod: func(c *Config) { c.RunAsUser = "65534" }, want: ChildIdentity{Set: true, UID: 65534, GID: 65534}},
		{name: "root, uid 0 refused", mod: func(c *Config) { c.RunAsUser = "0" }, wantErr: "runAsUser"},
		{name: "root, gid 0 refused", mod: func(c *Config) { c.RunAsUser = "1234"; c.RunAsGroup = "0" }, wantErr: "runAsGroup"},
		{name: "root, uid 0 with a user namespace", mod: func(c *Config) { userNS(c); c.RunAsUser = "0"; c.RunAsGroup = "0" },
			want: ChildIdentity{Set: true, UID: 0, GID: 0, InUserNS: true}},
		{name: "root, unmapped id in a user namespace", mod: func(c *Config) { userNS(c); c.RunAsUser = "70000" }, wantErr: "runAsUser"},
		{name: "root, named user", mod: func(c *Config) { c.RunAsUser = "nobody" }, want: ChildIdentity{Set: true, UID: 65534, GID: 65534}},
		{name: "root, unknown name", mod: func(c *Config) { c.RunAsUser = "no-such-user-here" }, wantErr: "runAsUser"},
		{name: "root, numeric uid and gid", mod: func(c *Config) { c.RunAsUser = "1234"; c.RunAsGroup = "4321" }, want: ChildIdentity{Set: true, UID: 1234, GID: 4321}},
		{name: "non-root keeps its ids", notRoot: true, want: ChildIdentity{}},
		{name: "non-root may name itself", notRoot: true, mod: func(c *Config) { c.RunAsUser = "1000" }, want: ChildIdentity{}},
		{name: "non-root cannot name another uid", notRoot: true, mod: func(c *Config) { c.RunAsUser = "65534" }, wantErr: "runAsUser"},
		{name: "non-root cannot name another gid", notRoot: true, mod: func(c *Config) { c.RunAsGroup = "0" }, wantErr: "runAsGroup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withHost(t, fakeHost{notRoot: tc.notRoot})
			c := validConfig()
			if tc.mod != nil {
				tc.mod(c)
			}
			got, e := c.Identity()
			if tc.wantErr != "" {
				if e == nil {
					t.Fatalf("accepted: %+v", got)
				}
				wantConfigError(t, c.Validate(), errcode.InvalidInput, tc.wantErr)
				return
			}
			if e != nil {
				t.Fatal(e)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
