package prober

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
)

// BenchmarkProbeRound compares one round (auth, two pulls, log match) with
// what a person would run by hand: two curl pulls of the same cached blob
// through the same Squid. The target: a round costs at most 1.2× that.
func BenchmarkProbeRound(b *testing.B) {
	curl := squidtest.RequireTool(b, "curl", "/usr/bin/curl", "curl")
	l := newLab(b, "")
	target := l.target("public", l.Quay.Public, "ubi9/ubi", false)
	blobURL := "https://" + l.Quay.Public + "/v2/ubi9/ubi/blobs/" + target.Blob[len(target.Blob)-71:]
	caFile := filepath.Join(b.TempDir(), "bump.pem")
	l.Bump.WriteCert(b, caFile)
	if r := l.prober.Probe(context.Background(), target); !r.Success { // warm the cache
		b.Fatal(r)
	}

	b.Run("round/file-log", func(b *testing.B) {
		for b.Loop() {
			if r := l.prober.Probe(context.Background(), target); !r.Success {
				b.Fatal(r)
			}
		}
	})
	b.Run("curl-twice", func(b *testing.B) {
		for b.Loop() {
			for i := 0; i < 2; i++ {
				out, err := exec.Command(curl, "-sf", "-o", "/dev/null", "--proxy", l.Squid.URL, "--cacert", caFile, blobURL).CombinedOutput()
				if err != nil {
					b.Fatalf("curl: %v %s", err, out)
				}
			}
		}
	})
}
