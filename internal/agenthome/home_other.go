//go:build !unix

package agenthome

import (
	"errors"
	"os"
)

// Prepare creates root.
func Prepare(root string, o Owner) error { return os.MkdirAll(root, 0o700) }

// Ensure creates home.
func Ensure(home string, o Owner) error {
	if err := os.Mkdir(home, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}
