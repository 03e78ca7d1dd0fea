package prober

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
)

// A real client, skopeo, pulls an image through the bumping Squid twice;
// the log reader must parse its lines and find each layer's delivery, a
// miss and then a memory hit, as it does for the prober's own pulls.
func TestSkopeoPullsAreClassified(t *testing.T) {
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

	for range 2 {
		l.SkopeoCopy(t, ref.String())
	}

	for hex, w := range watches {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		lines, _ := w.Wait(ctx, func(r []accesslog.Record) bool { return len(unmarkedDeliveries(r)) >= 2 })
		cancel()
		got := unmarkedDeliveries(lines)
		if len(got) != 2 || got[0].Result != "TCP_MISS" || got[1].Result != "TCP_MEM_HIT" {
			t.Errorf("layer %s: deliveries %+v, want a TCP_MISS then a TCP_MEM_HIT", hex[:12], got)
		}
	}
	if m := l.prober.Log.Malformed.Load(); m != 0 {
		t.Errorf("%d of skopeo's log lines were not parsed", m)
	}
}

// unmarkedDeliveries are the lines that sent a blob's bytes, oldest first:
// skopeo's, which carry no marker.
func unmarkedDeliveries(lines []accesslog.Record) []accesslog.Record {
	var out []accesslog.Record
	for _, l := range lines {
		if l.Status < 300 || l.Status >= 400 {
			out = append(out, l)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}
