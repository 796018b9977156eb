package server

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// FuzzToolInput feeds arbitrary arguments to every tool's input decoding
// (the JSON check, the input schema, the strict decode into the tool's
// input type), as a client's tools/call would. Whatever the bytes, decoding
// must not panic, must answer INVALID_INPUT when it refuses, and must
// accept nothing but a JSON object (or no arguments at all).
func FuzzToolInput(f *testing.F) {
	s := New(Options{Config: config.Defaults(), AgentID: "fuzz", Layers: map[string]string{}})
	defer s.Close()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range s.decoders {
			if !yield(n) {
				return
			}
		}
	})
	if len(names) == 0 {
		f.Fatal("no tool decoders registered")
	}
	for i := range names {
		for _, seed := range []string{
			`{}`, `null`, ``, `[]`, `{"pid":1}`, `{"pid":-1,"force":true}`, `{"pid":1e400}`,
			`{"executable":"/bin/echo","args":["a","b"],"cwd":"/tmp","env":{"A":"1"}}`,
			`{"executable":"/bin/echo","resourceLimits":{"maxMemoryMB":64,"maxCpuPercent":50}}`,
			`{"pid":1,"data":"aGk=","encoding":"base64","closeStdin":true}`,
			`{"groupId":"g-1","force":false}`, `{"name":"g","pipeline":true}`,
			`{"executable":"/bin/sleep","name":"svc","healthCheck":{"command":["/bin/true"],"intervalMs":1000}}`,
			`{"pid":1,"stream":"stdout","tail":10}`, `{"state":"running"}`, `{"pid":1,"includeHistory":true}`,
			`{"pid":1,"unknown":1}`, `{"pid":"1"}`, `{"pid":1}{}`, `{"args":[1,2]}`, "{\"executable\":\"\xff\"}",
		} {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, tool uint8, raw []byte) {
		name := names[int(tool)%len(names)]
		err := s.decoders[name](raw)
		if err == nil {
			trimmed := bytes.TrimSpace(raw)
			if len(trimmed) != 0 && string(trimmed) != "null" {
				var obj map[string]stdjson.RawMessage
				if stdjson.Unmarshal(raw, &obj) != nil {
					t.Fatalf("%s accepted %q, which is not a JSON object", name, raw)
				}
			}
			return
		}
		var e *errcode.Error
		if !errors.As(err, &e) || e.Code != errcode.InvalidInput {
			t.Fatalf("%s refused %q with %v, want INVALID_INPUT", name, raw, err)
		}
	})
}
