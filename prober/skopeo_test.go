package prober

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/squidtest"
)

// A real client, skopeo, pulls an image through the bumping Squid twice;
// the log reader must parse its lines and find each layer's delivery, a
// miss and then a memory hit, as it does for the prober's own pulls.
func TestSkopeoPullsAreClassified(t *testing.T) {
	skopeo := squidtest.RequireTool(t, "skopeo", "/usr/bin/skopeo", "skopeo")
	l := newLab(t, "")
	img, err := random.Image(200<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref := l.Quay.Push(t, l.Quay.Public, "ubi9/ubi", img)
	layers, _ := img.Layers()
	watches := map[string]*accesslog.Watch{}
	for _, layer := range layers {
		d, _ := layer.Digest()
		// skopeo sends no marker: its lines are the GETs that hold the digest.
		w := l.prober.Log.Watch(func(e *accesslog.Entry) bool {
			return string(e.Method) == http.MethodGet && bytes.Contains(e.URL, []byte(d.Hex))
		})
		defer w.Close()
		watches[d.Hex] = w
	}

	certs := t.TempDir()
	l.Bump.WriteCert(t, filepath.Join(certs, "ca.crt"))
	for i := 0; i < 2; i++ {
		cmd := exec.Command(skopeo, "--insecure-policy", "copy", "--src-cert-dir", certs,
			"docker://"+ref.String(), "dir:"+filepath.Join(t.TempDir(), "image"))
		cmd.Env = append(os.Environ(), "HTTPS_PROXY="+l.Squid.URL, "https_proxy="+l.Squid.URL, "NO_PROXY=", "no_proxy=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy: %v\n%s", err, out)
		}
	}

	for hex, w := range watches {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		lines, _ := w.Wait(ctx, func(r []accesslog.Record) bool { return len(deliveries(r)) >= 2 })
		cancel()
		got := deliveries(lines)
		if len(got) != 2 || got[0].Result != "TCP_MISS" || got[1].Result != "TCP_MEM_HIT" {
			t.Errorf("layer %s: deliveries %+v, want a TCP_MISS then a TCP_MEM_HIT", hex[:12], got)
		}
	}
	if m := l.prober.Log.Malformed.Load(); m != 0 {
		t.Errorf("%d of skopeo's log lines were not parsed", m)
	}
}
