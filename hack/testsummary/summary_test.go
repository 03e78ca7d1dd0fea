package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sample is a module whose tests pass, skip and fail. It is written
// where the test runs it, so that no test of the project fails on purpose.
// Its skip is the project's: a missing tool skips on a workstation and
// fails in CI; it runs as on a workstation.
var sample = map[string]string{
	"go.mod": "module sample\n\ngo 1.22\n",
	"sample_test.go": `package sample

import (
	"os"
	"testing"
)

func TestPasses(t *testing.T) {}

func TestSkips(t *testing.T) {
	msg := "chromium not found: install Debian package chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func TestFails(t *testing.T) {
	t.Log("what went wrong")
	t.Error("want 1, got 2")
}
`,
}

// The summary of a real go test run: the failure told in full, the
// package's line, the counts, and the skip with its reason.
func TestSummaryOfARealRun(t *testing.T) {
	dir := t.TempDir()
	for name, text := range sample {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "test", "-count=1", "-json", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CI=", "GOFLAGS=", "GOTOOLCHAIN=local")
	out, _ := cmd.Output() // it fails: that is the point
	var b strings.Builder
	s := newSummary(&b, time.Now)
	if err := s.read(strings.NewReader(string(out))); err != nil {
		t.Fatal(err)
	}
	if s.finish() {
		t.Error("a run with a failing test passed")
	}
	got := b.String()
	for _, want := range []string{
		"--- FAIL: TestFails", "what went wrong", "want 1, got 2",
		"FAIL sample",
		"1 tests passed, 1 failed, 1 skipped, in 1 packages",
		"skipped:\n  sample TestSkips: sample_test.go:15: chromium not found: install Debian package chromium\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

func TestSummaryOfABuildFailure(t *testing.T) {
	var b strings.Builder
	s := newSummary(&b, time.Now)
	s.read(strings.NewReader(`# example.com/broken
broken.go:3:1: syntax error
{"Action":"build-fail","Package":"example.com/broken"}
{"Action":"start","Package":"example.com/broken"}
{"Action":"output","Package":"example.com/broken","Output":"FAIL\texample.com/broken [build failed]\n"}
{"Action":"fail","Package":"example.com/broken","Elapsed":0}
`))
	if s.finish() || !strings.Contains(b.String(), "syntax error") || !strings.Contains(b.String(), "FAIL example.com/broken") {
		t.Errorf("a build failure passed, or was not shown:\n%s", b.String())
	}
}
