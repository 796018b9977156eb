package supervisor

import (
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// The supervisor's refusals carry the registry's names, the ones the layer
// report uses: "process-limits", "rate-limits" and "io" (earlier versions
// said "limits", "rate", "stdin" and "output").
func TestSupervisorRefusalLayers(t *testing.T) {
	check := func(t *testing.T, err error, code errcode.Code, want layer.Layer) {
		t.Helper()
		e := wantCode(t, err, code)
		if e.Layer != string(want) || !layer.Registered(layer.Layer(e.Layer)) {
			t.Errorf("%s: layer %q, want %q", code, e.Layer, want)
		}
	}
	t.Run("process limits", func(t *testing.T) {
		cfg := baseConfig()
		cfg.MaxConcurrentProcessesPerAgent = 1
		s, _ := newSup(t, cfg)
		start(t, s, agentA, specFor(t, "sleep", "30"), StartOptions{})
		_, err := s.Start(agentA, specFor(t, "sleep", "30"), StartOptions{})
		check(t, err, errcode.ConcurrencyLimit, "process-limits")
	})
	t.Run("rate limits", func(t *testing.T) {
		cfg := baseConfig()
		cfg.MaxLaunchesPerMinute = 1
		s, _ := newSup(t, cfg)
		start(t, s, agentA, specFor(t, "sleep", "30"), StartOptions{})
		_, err := s.Start(agentA, specFor(t, "sleep", "30"), StartOptions{})
		check(t, err, errcode.RateLimited, "rate-limits")
	})
	t.Run("stdin", func(t *testing.T) {
		cfg := baseConfig()
		cfg.AllowStdinInput = false
		s, _ := newSup(t, cfg)
		st := start(t, s, agentA, specFor(t, "cat"), capture())
		_, err := s.SendStdin(agentA, st.Pid, []byte("x"), false, "test")
		check(t, err, errcode.StdinNotAllowed, "io")
	})
	t.Run("output", func(t *testing.T) {
		cfg := baseConfig()
		cfg.AllowOutputCapture = false
		s, _ := newSup(t, cfg)
		st := start(t, s, agentA, specFor(t, "echo", "x"), capture())
		waitExit(t, s, agentA, st.Pid)
		_, err := s.Output(agentA, st.Pid, OutputQuery{})
		check(t, err, errcode.OutputCaptureDisabled, "io")
	})
}
