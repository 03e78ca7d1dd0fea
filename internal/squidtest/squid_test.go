package squidtest

import (
	"io"
	"net/http"
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
