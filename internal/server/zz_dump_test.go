package server

import (
	"context"
	"encoding/json"
	"os"
	"testing"
)

func TestZZDumpTools(t *testing.T) {
	cs := connect(t, newTestServer(t, testConfig(t), &memRecorder{}))
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(res, "", " ")
	os.WriteFile(os.Getenv("DUMP"), b, 0o644)
}
