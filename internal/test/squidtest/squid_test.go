package squidtest

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartServesCacheManager(t *testing.T) {
	s := Start(t, Options{})
	resp, err := http.Get(s.URL + "/squid-internal-mgr/info")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Squid Object Cache: Version") {
		t.Fatalf("info: %s\n%s", resp.Status, body)
	}
	s.Stop()
	if _, err := http.Get(s.URL + "/squid-internal-mgr/info"); err == nil {
		t.Fatal("squid still answers after Stop")
	}
	s.Restart()
	if _, err := http.Get(s.URL + "/squid-internal-mgr/info"); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
}

// The Squid that answers is the one SQUID_ROOT selects, not the host's.
func TestRunsTheSelectedSquid(t *testing.T) {
	b := selectedBuild(t)
	if b.root == "" {
		t.Skip("SQUID_ROOT is unset: the host's Squid, which TestStartServesCacheManager covers (CI runs this in make test-squid-matrix)")
	}
	stamp, err := os.ReadFile(filepath.Join(b.root, ".squid-root-ready"))
	if err != nil {
		t.Fatal(err)
	}
	s := Start(t, Options{})
	want := strings.TrimPrefix(strings.TrimSpace(string(stamp)), "Squid Cache: Version ")
	if got := reportVersion(t, s); got != want {
		t.Errorf("info says version %q, the root has %q", got, want)
	}
}
