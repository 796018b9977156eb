// Command exitwith prints its remaining arguments (one per line) and exits
// with the code given as its first argument. The e2e tests use it as a child
// whose exit status is known, without a shell.
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: exitwith CODE [LINES...]")
		os.Exit(2)
	}
	code, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, a := range os.Args[2:] {
		fmt.Println(a)
	}
	os.Exit(code)
}
