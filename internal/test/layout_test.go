// Package test holds the test worlds: emulated registries, a real Squid
// on loopback, test CAs, scrapes. Nothing under it may reach a program.
package test

import (
	"os/exec"
	"strings"
	"testing"
)

func TestProgramsLinkNoTestWorld(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../cmd/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "/internal/test/") {
			t.Errorf("a program links %s", pkg)
		}
	}
}
