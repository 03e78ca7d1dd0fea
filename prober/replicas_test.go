package prober

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A replica that is busy (a round of the target under way) answers 429;
// AskReplicas waits as Retry-After says and prints the verdict it gets.
func TestAskReplicasWaitsOutBusyReplica(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/probe/targets":
			fmt.Fprint(w, `["quay"]`)
		case "/probe":
			if asked.Add(1) == 1 {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "a round of quay ran just now", http.StatusTooManyRequests)
				return
			}
			fmt.Fprintln(w, "PASS quay")
		}
	}))
	defer srv.Close()
	url := srv.URL
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out strings.Builder
	if !AskReplicas(ctx, []string{url}, &out) || asked.Load() != 2 {
		t.Errorf("asked %d times, printed:\n%s", asked.Load(), out.String())
	}
	if want := "replica " + url + ": PASS quay\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
}

func TestAskReplicasReportsWhatItCannotReach(t *testing.T) {
	var out strings.Builder
	ok := AskReplicas(context.Background(), []string{"http://user:hunter2@127.0.0.1:1", "::not a url"}, &out)
	if ok || strings.Contains(out.String(), "hunter2") || strings.Count(out.String(), "FAIL") != 2 {
		t.Errorf("ok=%v, printed:\n%s", ok, out.String())
	}
}
