// Command testsummary reads `go test -json` on stdin and shows what a
// person running make test wants to see: each package as it finishes, the
// whole output of every test that failed, and at the end a summary that
// lists every skipped test with its reason, since a skip is a test that
// did not run. It exits 1 when anything failed.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	s := newSummary(os.Stdout, time.Now)
	if err := s.read(os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if !s.finish() {
		os.Exit(1)
	}
}
