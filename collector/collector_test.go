package collector

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var allReports = []string{"counters", "info", "service_times", "store_id", "storedir"}

// fakeManager serves report fixtures as Squid's cache manager would;
// files maps an action to a fixture, and a missing action is a 404.
func fakeManager(t *testing.T, files map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := strings.TrimPrefix(r.URL.Path, "/squid-internal-mgr/")
		name, ok := files[action]
		if !ok {
			w.Header().Set("X-Squid-Error", "ERR_INVALID_URL 0")
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		http.ServeFile(w, r, filepath.Join("testdata", name))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func scrapeOnce(t *testing.T, url string, reports []string) *prometheus.Registry {
	t.Helper()
	squid := newSquid(t, url, Config{Reports: reports})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(squid.Scrape(context.Background()))
	return reg
}

func TestCollectorGolden(t *testing.T) {
	fixtures := func(prefix string, reports ...string) map[string]string {
		files := map[string]string{}
		for _, r := range reports {
			files[r] = prefix + r + ".txt"
		}
		return files
	}
	tests := []struct {
		golden  string
		files   map[string]string
		reports []string // default: allReports
	}{
		{"squid-5.7.prom", fixtures("squid-5.7-", allReports...), nil},
		// Squid 7.7 with workers 2 and a rock dir: the memory cache's size
		// comes from storedir exactly, not from info's sum of the kids
		// (316 KB used of 32358400 bytes); the kids' helpers are added up.
		{"squid-7.7-workers2.prom", fixtures("squid-7.7-workers2-", allReports...), nil},
		// store_id_bypass off: no count in the report, and none bypassed.
		{"store_id-bypass-off.prom", map[string]string{"store_id": "squid-5.7-bypass-off-store_id.txt"}, []string{"store_id"}},
		{"storedir-smp.prom", map[string]string{"storedir": "squid-smp-storedir.txt"}, []string{"storedir"}},
		// Squid 5.7, two workers sharing a ufs dir: it counts once.
		{"storedir-shared-ufs.prom", map[string]string{"storedir": "squid-5.7-workers2-storedir.txt"}, []string{"storedir"}},
		{"info-missing.prom", fixtures("squid-5.7-", "counters", "service_times", "store_id", "storedir"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			srv := fakeManager(t, tt.files)
			reports := allReports
			if tt.reports != nil {
				reports = tt.reports
			}
			compareGolden(t, scrapeOnce(t, srv.URL, reports), filepath.Join("testdata", tt.golden))
		})
	}
}

// compareGolden gathers once and compares everything but the report
// durations and ages, which vary, with the golden file.
func compareGolden(t *testing.T, reg *prometheus.Registry, golden string) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var text strings.Builder
	for _, mf := range mfs {
		if n := mf.GetName(); n == "squid_exporter_report_duration_seconds" || n == "squid_exporter_report_age_seconds" {
			continue
		}
		names = append(names, mf.GetName())
		if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
			t.Fatal(err)
		}
	}
	if *update {
		if err := os.WriteFile(golden, []byte(text.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	snapshot := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return mfs, nil })
	if err := testutil.GatherAndCompare(snapshot, want, names...); err != nil {
		t.Error(err)
	}
}

// newSquid is a collector of the Squid at url.
func newSquid(t *testing.T, url string, cfg Config) *Squid {
	t.Helper()
	client, err := cachemgr.NewClient(url, "")
	if err != nil {
		t.Fatal(err)
	}
	squid, err := New(client, cfg, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	return squid
}
