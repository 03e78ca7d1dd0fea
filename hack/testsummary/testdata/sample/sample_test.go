// Package sample is a package whose tests pass, skip and fail, for the
// summary's test; it fails only when that test runs it.
package sample

import (
	"os"
	"testing"
)

func TestPasses(t *testing.T) {}

func TestSkips(t *testing.T) {
	t.Skip("chromium not found: install Debian package chromium")
}

func TestFails(t *testing.T) {
	if os.Getenv("TESTSUMMARY_SAMPLE") == "" {
		t.Skip("runs from hack/testsummary only")
	}
	t.Log("what went wrong")
	t.Error("want 1, got 2")
}
