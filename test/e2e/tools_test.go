//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var allTools = []string{
	"process_start", "process_run", "process_terminate", "process_get_stats", "process_send_stdin",
	"process_get_output", "process_list", "process_get_status", "process_wait", "process_create_group",
	"process_add_to_group", "process_terminate_group", "process_start_service", "process_stop_service",
	"process_get_service", "process_get_policy",
}

// The original server's 12 tools and their argument names (SPEC 0.6).
var originalArgs = map[string][]string{
	"process_start":           {"executable", "args", "cwd", "env", "timeout", "captureOutput", "resourceLimits"},
	"process_terminate":       {"pid", "force"},
	"process_get_stats":       {"pid", "includeHistory"},
	"process_send_stdin":      {"pid", "data"},
	"process_get_output":      {"pid", "stream"},
	"process_list":            {},
	"process_get_status":      {"pid"},
	"process_create_group":    {"name"},
	"process_add_to_group":    {"groupId", "pid"},
	"process_terminate_group": {"groupId"},
	"process_start_service":   {"name", "executable", "args", "cwd", "env", "healthCheck", "restartPolicy"},
	"process_stop_service":    {"serviceId"},
}

func schemaMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("schema %s is not an object: %v", b, err)
	}
	return m
}

// closedObjects checks that every object schema with properties (at any
// depth) says additionalProperties:false; it returns the offending paths.
func closedObjects(s map[string]any, path string) []string {
	var bad []string
	if props, ok := s["properties"].(map[string]any); ok {
		if ap, ok := s["additionalProperties"].(bool); !ok || ap {
			bad = append(bad, path)
		}
		for name, p := range props {
			if pm, ok := p.(map[string]any); ok {
				bad = append(bad, closedObjects(pm, path+"."+name)...)
			}
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		bad = append(bad, closedObjects(items, path+"[]")...)
	}
	return bad
}

func TestToolsList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := startServer(t, e, e.config("/bin/echo"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := s.session.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	tools := map[string]*mcp.Tool{}
	var names []string
	for _, tl := range res.Tools {
		tools[tl.Name] = tl
		names = append(names, tl.Name)
	}
	sort.Strings(names)
	want := slices.Clone(allTools)
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("tools = %v\nwant      %v", names, want)
	}

	inputs := map[string]map[string]any{}
	for _, name := range allTools {
		tl := tools[name]
		if tl == nil {
			continue
		}
		in := schemaMap(t, tl.InputSchema)
		inputs[name] = in
		if in["type"] != "object" {
			t.Errorf("%s: inputSchema type %v, want object", name, in["type"])
		}
		if bad := closedObjects(in, name); len(bad) > 0 {
			t.Errorf("%s: object schemas without additionalProperties:false: %v", name, bad)
		}
		if tl.OutputSchema == nil {
			t.Errorf("%s: no outputSchema", name)
		} else if out := schemaMap(t, tl.OutputSchema); out["type"] != "object" {
			t.Errorf("%s: outputSchema type %v, want object", name, out["type"])
		}
		if tl.Annotations == nil {
			t.Errorf("%s: no annotations", name)
		}
		if tl.Description == "" {
			t.Errorf("%s: no description", name)
		}
	}

	t.Run("original argument names", func(t *testing.T) {
		for tool, args := range originalArgs {
			in, ok := inputs[tool]
			if !ok {
				t.Errorf("original tool %s missing", tool)
				continue
			}
			props, _ := in["properties"].(map[string]any)
			for _, a := range args {
				if _, ok := props[a]; !ok {
					t.Errorf("%s: argument %q missing (have %v)", tool, a, keys(props))
				}
			}
		}
	})

	t.Run("enums", func(t *testing.T) {
		for _, tc := range []struct {
			tool, prop string
			want       []string
		}{
			{"process_get_output", "stream", []string{"stdout", "stderr", "both"}},
			{"process_get_output", "encoding", []string{"utf8", "utf-8", "base64"}},
			{"process_send_stdin", "encoding", []string{"utf8", "utf-8", "base64"}},
			{"process_start", "stdin", []string{"pipe", "null"}},
			{"process_run", "stdin", []string{"pipe", "null"}},
			{"process_list", "state", []string{"running", "exited"}},
		} {
			props, _ := inputs[tc.tool]["properties"].(map[string]any)
			p, _ := props[tc.prop].(map[string]any)
			var got []string
			if raw, ok := p["enum"].([]any); ok {
				for _, v := range raw {
					s, _ := v.(string)
					got = append(got, s)
				}
			}
			sort.Strings(got)
			want := slices.Clone(tc.want)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s.%s enum = %v, want %v", tc.tool, tc.prop, got, want)
			}
		}
	})

	t.Run("annotations", func(t *testing.T) {
		for _, name := range []string{"process_list", "process_get_output", "process_get_status", "process_get_policy"} {
			if a := tools[name].Annotations; a == nil || !a.ReadOnlyHint {
				t.Errorf("%s: want readOnlyHint true, got %+v", name, a)
			}
		}
		for _, name := range []string{"process_terminate", "process_terminate_group", "process_stop_service"} {
			if a := tools[name].Annotations; a == nil || a.DestructiveHint == nil || !*a.DestructiveHint {
				t.Errorf("%s: want destructiveHint true, got %+v", name, a)
			}
		}
	})
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := startServer(t, e, e.config("/bin/echo"))
	for _, tc := range []struct {
		name string
		tool string
		args map[string]any
	}{
		{"unknown argument", "process_start", map[string]any{"executable": "/bin/echo", "comand": "hi"}},
		{"unknown argument on a no-argument tool", "process_list", map[string]any{"bogus": 1}},
		{"unknown argument with valid pid", "process_get_status", map[string]any{"pid": 1, "verbose": true}},
		{"wrong type", "process_get_status", map[string]any{"pid": "abc"}},
		{"missing required", "process_send_stdin", map[string]any{"data": "x"}},
		{"enum violation", "process_get_output", map[string]any{"pid": 1, "stream": "all"}},
		{"stdin mode outside enum", "process_start", map[string]any{"executable": "/bin/echo", "stdin": "tty"}},
		{"negative timeout", "process_start", map[string]any{"executable": "/bin/echo", "timeout": -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.t = t
			e := s.failCode(tc.tool, tc.args, "INVALID_INPUT")
			if e.Remedy == "" {
				t.Errorf("no remedy: %+v", e)
			}
		})
	}
	s.t = t
	var list struct {
		Processes []status `json:"processes"`
	}
	s.ok("process_list", map[string]any{}, &list)
	if len(list.Processes) != 0 {
		t.Errorf("invalid calls started processes: %+v", list.Processes)
	}
}
