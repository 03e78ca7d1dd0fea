package cachemgr

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFetchErrorsSayWhatToFix(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string
	}{
		{"401", status(http.StatusUnauthorized, "ERR_CACHE_MGR_ACCESS_DENIED 0"), "check that the password file matches cachemgr_passwd"},
		{"403", status(http.StatusForbidden, "ERR_ACCESS_DENIED 0"), "http_access allow <acl> manager"},
		{"404", status(http.StatusNotFound, "ERR_INVALID_URL 0"), "no such report (404, ERR_INVALID_URL)"},
		{"500", status(http.StatusInternalServerError, ""), "500 Internal Server Error"},
		{"truncated body", truncated, "truncated response"},
		{"oversized body", oversized, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c, _ := NewClient(srv.URL, "")
			_, err := c.Fetch(context.Background(), "info")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func status(code int, squidError string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if squidError != "" {
			w.Header().Set("X-Squid-Error", squidError)
		}
		w.WriteHeader(code)
	}
}

// truncated promises more than it sends, then hangs up.
func truncated(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Length", "1000")
	w.Write([]byte("Squid Object Cache: Version 5.7\n"))
	conn, _, _ := w.(http.Hijacker).Hijack()
	conn.Close()
}

func oversized(w http.ResponseWriter, _ *http.Request) {
	chunk := []byte(strings.Repeat("x", 1<<16))
	for written := 0; written <= maxReportSize; written += len(chunk) {
		w.Write(chunk)
	}
}

func TestFetchUnreachableAndSlow(t *testing.T) {
	// A port that was free: nothing listens there now.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + l.Addr().String()
	l.Close()
	c, _ := NewClient(closed, "")
	if _, err := c.Fetch(context.Background(), "info"); err == nil || !strings.Contains(err.Error(), "cannot connect to squid") {
		t.Errorf("closed port: %v", err)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer slow.Close()
	c, _ = NewClient(slow.URL, "")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Fetch(ctx, "info"); err == nil || !strings.Contains(err.Error(), "did not answer in time") {
		t.Errorf("slow squid: %v", err)
	}
}

func TestFetchSendsPasswordAsBasicAuth(t *testing.T) {
	var user, pass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ = r.BasicAuth()
	}))
	defer srv.Close()
	c, _ := NewClient(srv.URL, "s3cret")
	if _, err := c.Fetch(context.Background(), "info"); err != nil {
		t.Fatal(err)
	}
	if pass != "s3cret" || user == "" {
		t.Errorf("basic auth = %q:%q", user, pass)
	}
	if c.Requests() != 1 {
		t.Errorf("Requests() = %d, want 1", c.Requests())
	}
}

func TestNewClientRejectsBadAddresses(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:3128", "ftp://squid:21", "http://", "::"} {
		if _, err := NewClient(addr, ""); err == nil {
			t.Errorf("NewClient(%q) accepted it", addr)
		}
	}
}
