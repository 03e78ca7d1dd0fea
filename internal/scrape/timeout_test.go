package scrape

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestTimeout(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 10 * time.Second},
		{"not a number", 10 * time.Second},
		{"-1", 10 * time.Second},
		{"5", 4500 * time.Millisecond},
		{"0.3", 300 * time.Millisecond}, // too short to take half a second off
		{"60", 10 * time.Second},        // the limit wins
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/metrics", nil)
		if tt.header != "" {
			r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", tt.header)
		}
		if got := Timeout(r, 10*time.Second); got != tt.want {
			t.Errorf("header %q: %v, want %v", tt.header, got, tt.want)
		}
	}
}
