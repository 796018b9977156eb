package errcode

import (
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// An Error keeps its cause for errors.Is/As, and never sends it.
func TestCause(t *testing.T) {
	e := Fail(Internal, "sandbox", "", "open: %v", fs.ErrNotExist).WithCause(fs.ErrNotExist)
	if !errors.Is(e, fs.ErrNotExist) {
		t.Fatal("errors.Is does not see the cause")
	}
	b, err := json.Marshal(e)
	if err != nil || strings.Contains(string(b), "ause") {
		t.Fatalf("JSON %s, %v: the cause must not be sent", b, err)
	}
	if got := As(fs.ErrPermission); got.Code != Internal || !errors.Is(got, fs.ErrPermission) {
		t.Fatalf("As(plain error) = %+v, want INTERNAL wrapping it", got)
	}
	if Fail(Internal, "x", "", "y").Unwrap() != nil {
		t.Fatal("an Error without a cause unwraps to something")
	}
}
