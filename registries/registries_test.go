package registries

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Every CDN row is usable as shipped: its pattern compiles, can stand on a
// Squid line, is anchored, and matches its example without the query; and
// its signed parameters are the example's.
func TestCDNRows(t *testing.T) {
	for _, r := range Default {
		if r.Name == "" || len(r.Hosts) == 0 {
			t.Errorf("%+v: a name and an API host", r)
		}
		for _, c := range r.CDNs {
			re, err := regexp.Compile(c.URL)
			if err != nil {
				t.Errorf("%s: %v", r.Name, err)
				continue
			}
			if strings.ContainsAny(c.URL, "()") || !strings.HasPrefix(c.URL, "^https://") || !strings.HasSuffix(c.URL, "$") {
				t.Errorf("%s: %q: anchored https, without parentheses", r.Name, c.URL)
			}
			u, err := url.Parse(c.Example)
			if c.Learned && err == nil && u.RawQuery == "" {
				// The credential is the path: a download token.
				if !re.MatchString(c.Example) || c.Source == "" || len(c.Hosts) == 0 {
					t.Errorf("%s: %q does not match its example %q, or no source or hosts", r.Name, c.URL, c.Example)
				}
				continue
			}
			if err != nil || u.RawQuery == "" {
				t.Errorf("%s: example %q is not a signed URL", r.Name, c.Example)
				continue
			}
			bare := *u
			bare.RawQuery = ""
			if !re.MatchString(bare.String()) {
				t.Errorf("%s: %q does not match its example %q", r.Name, c.URL, bare.String())
			}
			if re.MatchString(c.Example) {
				t.Errorf("%s: %q matches inside the query", r.Name, c.URL)
			}
			signed := 0
			for _, p := range c.Signed {
				if u.Query().Has(p) {
					signed++
				}
			}
			if signed == 0 || c.Source == "" || len(c.Hosts) == 0 {
				t.Errorf("%s: the example carries none of %v, or no source or hosts", r.Name, c.Signed)
			}
		}
	}
}

// A name labels one registry; a host belongs to one.
func TestNamesAndHostsAreUnique(t *testing.T) {
	names, hosts := map[string]bool{}, map[string]string{}
	for _, r := range Default {
		if names[r.Name] {
			t.Errorf("%s twice", r.Name)
		}
		names[r.Name] = true
		for _, h := range r.AllHosts() {
			if other, ok := hosts[h]; ok {
				t.Errorf("%s in %s and %s", h, other, r.Name)
			}
			hosts[h] = r.Name
		}
	}
}

func TestSquidDomains(t *testing.T) {
	for _, tt := range []struct {
		name string
		want []string
	}{
		{"quay.io", []string{".quay.io", "quayio-production-s3.s3.amazonaws.com"}},
		{"docker.io", []string{"registry-1.docker.io", "docker.io", "index.docker.io", "production.cloudfront.docker.com", "production.cloudflare.docker.com", ".r2.cloudflarestorage.com"}},
		{"gcr.io", []string{".gcr.io", ".pkg.dev"}},
	} {
		for _, r := range Default {
			if r.Name == tt.name && strings.Join(r.SquidDomains(), " ") != strings.Join(tt.want, " ") {
				t.Errorf("%s: %q, want %q", r.Name, r.SquidDomains(), tt.want)
			}
		}
	}
}
