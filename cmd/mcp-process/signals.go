package main

import (
	"encoding/base64"
	"io"
)

func writeB64(w io.Writer, s string) {
	if s == "" {
		return
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err == nil {
		_, _ = w.Write(b)
	}
}
