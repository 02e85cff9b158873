package loadtest

import (
	"fmt"
	"os"
)

// ChildMain runs the loadtest binary's hidden child modes: with ClientArg
// as args[1] it is a client process (RunClientProcess on stdin/stdout with
// the default client), with NodeArg a cache node (NodeMain). It returns
// handled=false for any other arguments. cmd/loadtest calls it first thing.
func ChildMain(args []string) (code int, handled bool) {
	if len(args) < 2 {
		return 0, false
	}
	switch args[1] {
	case ClientArg:
		if err := RunClientProcess(os.Stdin, os.Stdout, DefaultClient); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest client:", err)
			return 1, true
		}
		return 0, true
	case NodeArg:
		if err := NodeMain(args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest node:", err)
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
