package squidtest

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

var (
	recordDir  = flag.String("record", "", "write the cache manager reports of the selected Squid, after some traffic, into this directory (cachemgr/testdata)")
	recordWait = flag.Duration("record.wait", 65*time.Second, "uptime to wait for before recording, so that the 5min and 60min reports have a sample")
)

// recordedReports are the reports kept as parser fixtures.
var recordedReports = []string{"info", "counters", "storedir", "service_times", "store_id", "mem",
	"utilization", "5min", "60min", "menu", "pconn"}

// TestRecordFixtures records the fixtures of cachemgr/testdata from a live
// Squid, named squid-<version>[-workers<N>]-<report>.txt:
//
//	SQUID_ROOT=... SQUID_WORKERS=2 go test ./internal/test/squidtest -run TestRecordFixtures -record ../../../cachemgr/testdata
func TestRecordFixtures(t *testing.T) {
	if *recordDir == "" {
		t.Skip("records fixtures only when asked to with -record DIR; not a CI test")
	}
	started := time.Now()
	s := Start(t, Options{StoreID: StripQueryStoreID, Hosts: map[string]string{"cdn1.test": "127.0.0.1"}})
	sendTraffic(t, s)
	if wait := *recordWait - time.Since(started); wait > 0 {
		time.Sleep(wait)
	}
	prefix := fmt.Sprintf("squid-%s", reportVersion(t, s))
	if n := Workers(t); n > 1 {
		prefix += fmt.Sprintf("-workers%d", n)
	}
	for _, report := range recordedReports {
		name := filepath.Join(*recordDir, prefix+"-"+report+".txt")
		if err := os.WriteFile(name, managerReport(t, s, report), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", name)
	}
}

// sendTraffic makes misses, memory hits, an uncacheable object and a
// store-ID lookup, so that every report has something to show.
func sendTraffic(t *testing.T, s *Squid) {
	origin := StartOrigin(t)
	client := s.Client()
	paths := []string{"/object/0", "/object/1", "/object/2", "/object/0", "/object/1", "/private/0", "/private/0"}
	for _, p := range paths {
		get(t, client, origin.URL+p)
	}
	// The store-ID helper sees https://cdn* URLs only through CONNECT;
	// a plain one still makes Squid ask it, which store_id reports.
	get(t, client, "http://cdn1.test:1/blob?sig=1")
}

func get(t *testing.T, client *http.Client, url string) {
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// managerReport fetches one report's body.
func managerReport(t testing.TB, s *Squid, report string) []byte {
	resp, err := http.Get(s.URL + "/squid-internal-mgr/" + report)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", report, resp.Status)
	}
	// The fixtures show Squid's default service name, not the harness's.
	return bytes.ReplaceAll(body, []byte("Service Name: "+s.ServiceName()), []byte("Service Name: squid"))
}

var versionLine = regexp.MustCompile(`Squid Object Cache: Version (\S+)`)

// reportVersion is the version Squid's info report gives.
func reportVersion(t testing.TB, s *Squid) string {
	m := versionLine.FindSubmatch(managerReport(t, s, "info"))
	if m == nil {
		t.Fatal("no version in the info report")
	}
	return string(m[1])
}
