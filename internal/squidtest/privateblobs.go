package squidtest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// PrivateBlobs returns the lines of conf/squid-private-blobs.conf, the
// snippet users include, made to run the store-ID helper at helper (with
// extra flags) and the ICAP service at icapAddr, for the emulated CDN
// (quay.test, matched by cdnPattern). For Options.Extra.
func PrivateBlobs(t testing.TB, helper, cdnPattern, icapAddr string) []string {
	_, here, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "conf", "squid-private-blobs.conf"))
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer(
		`\.quay\.io$`, `\.quay\.test$`,
		"/usr/local/bin/squid-store-id-helper", fmt.Sprintf("%s --url-pattern=%s --hosts-file={dir}/hosts --ca-file={dir}/origin-ca.pem", helper, cdnPattern),
		"icap://127.0.0.1:1344/", "icap://"+icapAddr+"/",
	)
	var lines []string
	for _, line := range strings.Split(r.Replace(string(b)), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines
}
