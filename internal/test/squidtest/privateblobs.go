package squidtest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Origins are the registries whose own answers the helpers share after a
// HEAD with the client's Authorization: Blobs serve their blobs themselves
// (--self-serving-registry), Manifests have their manifests by digest
// shared (--manifests-by-digest). host:port each.
type Origins struct {
	Blobs, Manifests []string
	// LearnSecret, when set, is what Squid sends the ICAP service with
	// the redirects it learns digests from (adaptation_meta), and
	// DigestsURL where the helper asks for them (--digests-url).
	LearnSecret, DigestsURL string
}

// PrivateBlobs returns the lines of conf/squid-private-blobs.conf, the
// snippet users include, made to run the store-ID helper at helper (with
// extra flags) and the ICAP service at icapAddr, for the emulated CDN
// (quay.test, matched by cdnPattern), and the registries of o. For
// Options.Extra.
func PrivateBlobs(t testing.TB, helper, cdnPattern, icapAddr string, o Origins) []string {
	flags := fmt.Sprintf("%s --url-pattern=%s --hosts-file={dir}/hosts --ca-file={dir}/origin-ca.pem", helper, cdnPattern)
	blobACL, manifestACL := "acl self_serving_registries dstdomain -n .invalid", "acl manifest_registries dstdomain -n .invalid"
	for _, r := range o.Blobs {
		flags += " --self-serving-registry=" + r
		blobACL += " " + hostOf(r)
	}
	for _, r := range o.Manifests {
		flags += " --manifests-by-digest=" + r
		manifestACL += " " + hostOf(r)
	}
	if o.DigestsURL != "" {
		flags += " --digests-url=" + o.DigestsURL
	}
	r := strings.NewReplacer(
		"/usr/local/bin/squid-store-id-helper", flags,
		"icap://127.0.0.1:1344/", "icap://"+icapAddr+"/",
		"acl self_serving_registries dstdomain -n .invalid", blobACL,
		"acl manifest_registries dstdomain -n .invalid", manifestACL,
	)
	lines := snippet(t)
	for i := range lines {
		lines[i] = r.Replace(lines[i])
	}
	if o.LearnSecret != "" {
		lines = append(lines, fmt.Sprintf("adaptation_meta %s %q learned_registries blob_paths", LearnSecretHeader, o.LearnSecret))
	}
	return lines
}

// LearnSecretHeader is icap.SecretHeader (squidtest imports no product
// package; a test holds them equal).
const LearnSecretHeader = "X-Squid-Cache-Learn-Secret"

func hostOf(hostPort string) string {
	host, _, _ := strings.Cut(hostPort, ":")
	return host
}

// BlobPolicy returns the blob cache policy of conf/squid-private-blobs.conf
// without the private-blob helpers: which paths are stored and served,
// collapsed forwarding, whole-blob range fetches and finished aborts, as a
// Squid with no store-ID helper and no ICAP service runs it. Left out are
// the store_id_*, icap_* and adaptation_* lines and the unverified-request
// rule (its note comes from the helper). The CDN's name is the emulated
// one (quay.test). For Options.Extra.
func BlobPolicy(t testing.TB) []string {
	var lines []string
	for _, line := range snippet(t) {
		name := strings.Fields(line)[0]
		if strings.HasPrefix(name, "store_id_") || strings.HasPrefix(name, "icap_") || strings.HasPrefix(name, "adaptation_") ||
			strings.HasSuffix(line, " blob_unverified") || strings.HasPrefix(line, "acl blob_unverified ") {
			continue
		}
		lines = append(lines, line)
	}
	return lines
}

// snippet reads conf/squid-private-blobs.conf: its lines without comments
// and blank lines, the CDN's name made the emulation's.
func snippet(t testing.TB) []string {
	_, here, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "..", "conf", "squid-private-blobs.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, line := range strings.Split(strings.ReplaceAll(string(b), `\.quay\.io$`, `\.quay\.test$`), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	return lines
}
