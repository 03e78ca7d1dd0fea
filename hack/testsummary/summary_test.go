package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The summary of a real go test run: the failure told in full, the
// package's line, the counts, and the skip with its reason.
func TestSummaryOfARealRun(t *testing.T) {
	cmd := exec.Command("go", "test", "-count=1", "-json", "./testdata/sample")
	cmd.Env = append(os.Environ(), "TESTSUMMARY_SAMPLE=1")
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
		"FAIL hack/testsummary/testdata/sample",
		"1 tests passed, 1 failed, 1 skipped, in 1 packages",
		"skipped:\n  hack/testsummary/testdata/sample TestSkips: sample_test.go:13: chromium not found: install Debian package chromium\n",
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
