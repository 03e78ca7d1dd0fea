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
	learned, err := NewLearned(registries.Default)
	if err != nil {
		t.Fatal(err)
	}
	acls := snippetACLs(t, "../conf/squid-private-blobs.conf")
	for _, r := range registries.Default {
		for _, c := range r.CDNs {
			u, _ := url.Parse(c.Example)
			if c.Learned {
				_, named := m.SharedKey(c.Example)
				if named || !learned.Match(c.Example) {
					t.Errorf("%s: %q: learned %t, named by a digest %t", r.Name, c.Example, learned.Match(c.Example), named)
				}
				download := anyMatch(acls["learned_download_hosts"], u.Hostname()) && anyMatch(acls["learned_downloads"], u.EscapedPath())
				if !download && !anyMatch(acls["learned_layer_hosts"], u.Hostname()) {
					t.Errorf("%s: the snippet's learned ACLs do not match %s", r.Name, c.Example)
				}
				for _, h := range r.Hosts {
					if h = strings.TrimPrefix(h, "*."); !anyMatch(acls["learned_registries"], h) && !anyMatch(acls["learned_registries"], "x."+h) {
						t.Errorf("%s: the snippet's learned_registries does not match %s", r.Name, h)
					}
				}
				continue
			}
			key, ok := m.SharedKey(c.Example)
			if !ok || !strings.HasPrefix(key, KeyScheme+":sha256:") || !strings.Contains(c.Example, key[len(KeyScheme+":sha256:"):]) {
				t.Errorf("%s: %q filed under %q, %t", r.Name, c.Example, key, ok)
			}
			if learned.Match(c.Example) {
				t.Errorf("%s: %q is taken for a learned URL", r.Name, c.Example)
			}
			if !anyMatch(acls["cdn_blobs"], u.Hostname()) {
				t.Errorf("%s: the snippet's cdn_blobs does not match %s", r.Name, u.Hostname())
			}
			if !anyMatch(acls["cdn_blob_paths"], u.RequestURI()) || !anyMatch(acls["cdn_blob_paths"], u.EscapedPath()) {
				t.Errorf("%s: the snippet's cdn_blob_paths does not match %s", r.Name, u.RequestURI())
			}
		}
	}
}

// snippetACLs reads the dstdom_regex and urlpath_regex ACLs of a Squid
// configuration file by name (POSIX extended regular expressions, which
// these patterns spell as Go's).
func snippetACLs(t *testing.T, path string) map[string][]*regexp.Regexp {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	acls := map[string][]*regexp.Regexp{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "acl" || f[2] != "dstdom_regex" && f[2] != "urlpath_regex" {
			continue
		}
		for _, p := range f[3:] {
			if !strings.HasPrefix(p, "-") {
				acls[f[1]] = append(acls[f[1]], regexp.MustCompile(p))
			}
		}
	}
	return acls
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
