//go:build !unix

package policy

import (
	"errors"
	"io"
	"os"
)

// readHead reads the first len(buf) bytes of file (fewer if it is shorter).
func readHead(file string, buf []byte) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return n, nil
}

// readAll passes the content of file to w.
func readAll(file string, w func([]byte)) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(writerFunc(w), f)
	return err
}

type writerFunc func([]byte)

func (w writerFunc) Write(b []byte) (int, error) { w(b); return len(b), nil }
