//go:build !unix

package supervisor

import "errors"

func dupCloexec(fd int) (int, error) { return -1, errors.New("pseudo-terminals need Linux") }
