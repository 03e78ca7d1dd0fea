package prober

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/squid-cache-exporter/squid-cache-exporter/accesslog"
	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/squidtest"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testenv"
	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/testio"
)

// lab is the test world (testenv) and a prober that pulls through its
// Squid, trusts its bump CA and reads its log.
type lab struct {
	*testenv.Env
	prober *Prober
	creds  string // docker config.json with alice's credentials for quay
}

const alice, alicePassword = "alice", "alice-pw"

func newLab(t testing.TB, storeID string) *lab {
	t.Helper()
	return labIn(t, testenv.Start(t, testenv.Options{Users: map[string]string{alice: alicePassword},
		Private: []string{"org/private"}, StoreID: storeID}), nil)
}

// labIn wires a prober to env, reading log (env's own when nil).
func labIn(t testing.TB, env *testenv.Env, log *accesslog.Hub) *lab {
	squidtest.SkipUnderSMP(t, squidtest.MemHitNeedsOneProcess)
	if log == nil {
		log = env.Log
	}
	return &lab{Env: env, prober: &Prober{Proxy: env.Proxy(), RootCAs: env.Bump.Pool(), Log: log, LogWait: time.Second},
		creds: env.DockerConfig(t, alice, alicePassword)}
}

// proberWith is a prober like the lab's, changed by change.
func (l *lab) proberWith(change func(*Prober)) *Prober {
	p := &Prober{Proxy: l.prober.Proxy, RootCAs: l.prober.RootCAs, Log: l.prober.Log, LogWait: l.prober.LogWait}
	change(p)
	return p
}

func (l *lab) target(name, host, repo string, private bool) *Target {
	h, _ := l.Quay.RandomBlob(256 << 10)
	t := &Target{Name: name, Blob: host + "/" + repo + "@" + h.String(), Private: private,
		HitCodes: DefaultHitCodes, Interval: time.Minute, Timeout: 20 * time.Second}
	if private {
		t.Credentials = l.creds
	}
	return t
}

func TestProbeVerdicts(t *testing.T) {
	plain := newLab(t, "")
	withStoreID := newLab(t, squidtest.StripQueryStoreID)
	tests := []struct {
		name   string
		lab    *lab
		target func(l *lab) *Target
		before func(t *testing.T, l *lab, target *Target) // breaks something
		reason Reason                                     // "" for a pass
		codes  [2]string
		cdn    int // CDN GETs the round should cause, when not 0
	}{
		{name: "public registry blob is a memory hit", lab: plain,
			target: func(l *lab) *Target { return l.target("public", l.Quay.Public, "ubi9/ubi", false) },
			codes:  [2]string{"TCP_MISS", "TCP_MEM_HIT"}},
		{name: "signed redirects without store-ID are never cached", lab: plain,
			target: func(l *lab) *Target { return l.target("quay", l.Quay.Registry, "org/public", false) },
			reason: ReasonNotCached, codes: [2]string{"TCP_MISS", "TCP_MISS"}, cdn: 2},
		{name: "private quay blob with store-ID is a memory hit", lab: withStoreID,
			target: func(l *lab) *Target { return l.target("private", l.Quay.Registry, "org/private", true) },
			codes:  [2]string{"TCP_MISS", "TCP_MEM_HIT"}, cdn: 1},
		{name: "poisoned upstream", lab: plain,
			target: func(l *lab) *Target { return l.target("poisoned", l.Quay.Public, "ubi9/ubi", false) },
			before: func(t *testing.T, l *lab, target *Target) { l.Quay.Poison(digestOf(target)) },
			reason: ReasonDigestMismatch, codes: [2]string{"TCP_MISS", "TCP_MEM_HIT"}},
		{name: "wrong credentials", lab: plain,
			target: func(l *lab) *Target { return l.target("private", l.Quay.Registry, "org/private", true) },
			before: func(t *testing.T, l *lab, target *Target) {
				target.Credentials = l.DockerConfig(t, alice, "wrong")
			},
			reason: ReasonAuth},
		{name: "no credentials for a private repository", lab: plain,
			target: func(l *lab) *Target { return l.target("private", l.Quay.Registry, "org/private", false) },
			reason: ReasonAuth},
		{name: "prober does not trust the bump CA", lab: plain,
			target: func(l *lab) *Target { return l.target("public", l.Quay.Public, "ubi9/ubi", false) },
			before: func(t *testing.T, l *lab, _ *Target) {
				l.prober = l.proberWith(func(p *Prober) { p.RootCAs = x509.NewCertPool() })
			},
			reason: ReasonTLS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := *tt.lab
			target := tt.target(&l)
			if tt.before != nil {
				tt.before(t, &l, target)
			}
			r := l.prober.Probe(context.Background(), target)
			checkResult(t, r, tt.reason, tt.codes)
			if got := l.Quay.CDNGets(digestOf(target)); tt.cdn != 0 && got != tt.cdn {
				t.Errorf("the CDN served the blob %d times, want %d", got, tt.cdn)
			}
		})
	}
}

func checkResult(t *testing.T, r *Result, reason Reason, codes [2]string) {
	t.Helper()
	t.Logf("%s", r)
	if r.Reason != reason || r.Success != (reason == "") {
		t.Errorf("verdict %q (success %t), want %q", r.Reason, r.Success, reason)
	}
	if codes != [2]string{} && r.Codes != codes {
		t.Errorf("codes %v, want %v", r.Codes, codes)
	}
}

func digestOf(t *Target) v1.Hash {
	_, hex, _ := strings.Cut(t.Blob, "@sha256:")
	return v1.Hash{Algorithm: "sha256", Hex: hex}
}

func TestProbeFaults(t *testing.T) {
	l := newLab(t, "")
	public := l.target("public", l.Quay.Public, "ubi9/ubi", false)
	probe := func() *Result { return l.prober.Probe(context.Background(), public) }

	t.Run("log rotated between the two pulls", func(t *testing.T) {
		l.prober.afterPull = func(n int) {
			if n == 1 {
				os.Rename(l.Squid.AccessLog, l.Squid.AccessLog+".1")
				l.Squid.RotateLogs()
			}
		}
		defer func() { l.prober.afterPull = nil }()
		checkResult(t, probe(), "", [2]string{"TCP_MISS", "TCP_MEM_HIT"})
	})
	t.Run("log not followed", func(t *testing.T) {
		blind := l.proberWith(func(p *Prober) { p.Log = &accesslog.Hub{} })
		target := l.target("public", l.Quay.Public, "ubi9/ubi", false)
		checkResult(t, blind.Probe(context.Background(), target), ReasonLogUnavailable, [2]string{})
	})
	t.Run("upstream down", func(t *testing.T) {
		target := l.target("quay", l.Quay.Registry, "org/public", false)
		l.Quay.StopCDN()
		r := l.prober.Probe(context.Background(), target)
		checkResult(t, r, ReasonUpstream, [2]string{})
		if !strings.Contains(r.Err.Error(), "ERR_CONNECT_FAIL") || strings.Contains(r.Err.Error(), "X-Amz-Signature") {
			t.Errorf("the error should name Squid's error and hide the signature: %v", r.Err)
		}
	})
	t.Run("squid hung", func(t *testing.T) {
		l.Squid.Pause()
		defer l.Squid.Resume()
		slow := *public
		slow.Timeout = 500 * time.Millisecond
		checkResult(t, l.prober.Probe(context.Background(), &slow), ReasonTimeout, [2]string{})
	})
	t.Run("squid down", func(t *testing.T) {
		l.Squid.Stop()
		checkResult(t, probe(), ReasonProxyUnreachable, [2]string{})
	})
}

// Squid sends its log over TCP (access_log tcp://...): the sidecar needs no
// shared file.
func TestProbeWithTCPLog(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hub := &accesslog.Hub{}
	var echo testio.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		(&accesslog.Receiver{Hub: hub, Echo: &echo, Logger: log.NewNopLogger()}).Serve(ctx, listener)
		close(done)
	}()
	env := testenv.Start(t, testenv.Options{Extra: []string{"access_log tcp://" + listener.Addr().String() + " logformat=squid_probe on-error=drop"}})
	l := labIn(t, env, hub)
	r := l.prober.Probe(context.Background(), l.target("public", l.Quay.Public, "ubi9/ubi", false))
	checkResult(t, r, "", [2]string{"TCP_MISS", "TCP_MEM_HIT"})
	cancel()
	<-done
	if !strings.Contains(echo.String(), "TCP_MEM_HIT/200") {
		t.Errorf("received lines were not echoed:\n%s", echo.String())
	}
}

// What a round reports it added to Squid's counters is what Squid counted,
// so dashboards can leave the prober out of the hit ratio exactly.
func TestProbeAccountsForItsOwnRequests(t *testing.T) {
	l := newLab(t, squidtest.StripQueryStoreID)
	mgr, err := cachemgr.NewClient(l.Squid.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	counters := func() *cachemgr.Counters {
		body, err := mgr.Fetch(context.Background(), "counters")
		if err != nil {
			t.Fatal(err)
		}
		c, err := cachemgr.ParseCounters(body)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, target := range []*Target{
		l.target("public", l.Quay.Public, "ubi9/ubi", false),
		l.target("private", l.Quay.Registry, "org/private", true),
	} {
		before := counters()
		r := l.prober.Probe(context.Background(), target)
		after := counters()
		// The first counters request completed before the second, so Squid
		// counted it too.
		if got := after.Client.Requests - before.Client.Requests - 1; got != float64(r.ProxyRequests) {
			t.Errorf("%s: Squid counted %v requests, the round reports %d", target.Name, got, r.ProxyRequests)
		}
		if got := after.ClientHits - before.ClientHits; got != float64(r.ProxyHits) || r.ProxyHits != 1 {
			t.Errorf("%s: Squid counted %v hits, the round reports %d", target.Name, got, r.ProxyHits)
		}
	}
}
