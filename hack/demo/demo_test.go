package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// make run works: both probe rounds of the demo pass, the private one
// through the store-ID helper and the ICAP service.
func TestDemoProbesPass(t *testing.T) {
	squidtest.Binary(t)
	exporter := filepath.Join(t.TempDir(), "squid-cache-exporter")
	if out, err := exec.Command("go", "build", "-o", exporter, "../../cmd/squid-cache-exporter").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", squidtest.FreePort(t))
	if !run(t, exporter, "../../cmd/squid-store-id-helper", listen) {
		t.Error("a demo probe failed")
	}
}
