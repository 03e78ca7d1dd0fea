package cdnurl

import (
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

// Every CDN of the registries table, as its example URL shows it: the
// default matcher files it under its digest, and the snippet's ACLs let
// Squid cache it, collapse it and hand it to the helpers.
func TestDefaultsCoverTheTable(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	hosts, paths := snippetACLs(t, "../conf/squid-private-blobs.conf")
	for _, r := range registries.Default {
		for _, c := range r.CDNs {
			key, ok := m.SharedKey(c.Example)
			if !ok || !strings.HasPrefix(key, KeyScheme+":sha256:") || !strings.Contains(c.Example, key[len(KeyScheme+":sha256:"):]) {
				t.Errorf("%s: %q filed under %q, %t", r.Name, c.Example, key, ok)
			}
			u, _ := url.Parse(c.Example)
			if !anyMatch(hosts, u.Hostname()) {
				t.Errorf("%s: the snippet's cdn_blobs does not match %s", r.Name, u.Hostname())
			}
			if !anyMatch(paths, u.RequestURI()) || !anyMatch(paths, u.EscapedPath()) {
				t.Errorf("%s: the snippet's cdn_blob_paths does not match %s", r.Name, u.RequestURI())
			}
		}
	}
}

// snippetACLs reads the cdn_blobs and cdn_blob_paths patterns of a Squid
// configuration file (POSIX extended regular expressions, which these
// patterns spell as Go's).
func snippetACLs(t *testing.T, path string) (hosts, paths []*regexp.Regexp) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "acl" {
			continue
		}
		var into *[]*regexp.Regexp
		switch {
		case f[1] == "cdn_blobs" && f[2] == "dstdom_regex":
			into = &hosts
		case f[1] == "cdn_blob_paths" && f[2] == "urlpath_regex":
			into = &paths
		default:
			continue
		}
		for _, p := range f[3:] {
			if strings.HasPrefix(p, "-") {
				continue
			}
			*into = append(*into, regexp.MustCompile(p))
		}
	}
	return hosts, paths
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
