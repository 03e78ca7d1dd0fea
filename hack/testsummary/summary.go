package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

// summary follows the events of one go test run.
type summary struct {
	w       io.Writer
	now     func() time.Time
	started time.Time

	output   map[string]*strings.Builder // by package + "\x00" + test: until the test ends
	tests    map[string]int              // by action: pass, fail, skip
	skipped  []string                    // "pkg TestName: reason"
	failed   []string                    // "pkg TestName"
	packages int
	badPkgs  []string // packages that failed or did not build
}

func newSummary(w io.Writer, now func() time.Time) *summary {
	return &summary{w: w, now: now, started: now(), output: map[string]*strings.Builder{}, tests: map[string]int{}}
}

// read handles events until r ends. Lines that are not JSON (a build's
// error output, say) are printed as they come.
func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(s.w, sc.Text())
			continue
		}
		s.handle(e)
	}
	return sc.Err()
}

func (s *summary) handle(e event) {
	key := e.Package + "\x00" + e.Test
	switch e.Action {
	case "output", "build-output":
		b := s.output[key]
		if b == nil {
			b = &strings.Builder{}
			s.output[key] = b
		}
		b.WriteString(e.Output)
	case "pass", "fail", "skip":
		if e.Test == "" {
			s.endPackage(e)
		} else {
			s.endTest(e, key)
		}
		delete(s.output, key)
	case "build-fail":
		s.badPkgs = append(s.badPkgs, e.Package)
	}
}

func (s *summary) endTest(e event, key string) {
	s.tests[e.Action]++
	out := s.output[key].String()
	switch e.Action {
	case "fail":
		s.failed = append(s.failed, short(e.Package)+" "+e.Test)
		fmt.Fprint(s.w, out) // the whole story, as go test prints it
	case "skip":
		s.skipped = append(s.skipped, fmt.Sprintf("%s %s: %s", short(e.Package), e.Test, skipReason(out)))
	}
}

func (s *summary) endPackage(e event) {
	s.packages++
	out := s.output[e.Package+"\x00"].String()
	switch {
	case e.Action == "fail":
		s.badPkgs = append(s.badPkgs, e.Package)
		fmt.Fprint(s.w, ownLines(out))
		fmt.Fprintf(s.w, "FAIL %-28s %6.1fs\n", short(e.Package), e.Elapsed)
	case e.Action == "skip": // no test files
	default:
		fmt.Fprintf(s.w, "ok   %-28s %6.1fs   [%s elapsed]\n", short(e.Package), e.Elapsed, s.now().Sub(s.started).Round(time.Second))
	}
}

// finish prints the summary and says whether everything passed.
func (s *summary) finish() bool {
	fmt.Fprintf(s.w, "\n%d tests passed, %d failed, %d skipped, in %d packages (%s)\n",
		s.tests["pass"], s.tests["fail"], s.tests["skip"], s.packages, s.now().Sub(s.started).Round(time.Second))
	if len(s.skipped) > 0 {
		slices.Sort(s.skipped)
		fmt.Fprintln(s.w, "skipped:")
		for _, line := range s.skipped {
			fmt.Fprintln(s.w, "  "+line)
		}
	}
	for _, name := range s.failed {
		fmt.Fprintln(s.w, "--- FAIL:", name)
	}
	for _, pkg := range s.badPkgs {
		fmt.Fprintln(s.w, "FAIL", pkg)
	}
	return len(s.failed) == 0 && len(s.badPkgs) == 0
}

// skipReason is what the test said when it skipped: its output without
// go test's own === and --- lines.
func skipReason(out string) string {
	var reason []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "=== ") && !strings.HasPrefix(line, "--- ") {
			reason = append(reason, line)
		}
	}
	if len(reason) == 0 {
		return "(no reason given)"
	}
	return strings.Join(reason, " ")
}

// ownLines drops go test's verdict lines from a package's output, leaving
// what the package itself said (a panic, a timeout, a build error).
func ownLines(out string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		if t := strings.TrimSpace(line); t == "" || t == "FAIL" || t == "PASS" || strings.HasPrefix(t, "FAIL\t") || strings.HasPrefix(t, "ok ") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// short drops the module path: the packages are all ours.
func short(pkg string) string {
	return strings.TrimPrefix(pkg, "github.com/squid-cache-exporter/squid-cache-exporter/")
}
