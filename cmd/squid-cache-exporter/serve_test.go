package main

import (
	"html"
	"io"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/exporter-toolkit/web"
)

// Target names come from the config file: on the landing page they must
// stay text, and their links must lead to the named target.
func TestLandingPageEscapesTargetNames(t *testing.T) {
	for _, name := range []string{"quay-private", `"><script>alert(1)</script>`, "a&debug=false&target=b", "naïve name"} {
		page, err := web.NewLandingPage(web.LandingConfig{Name: "x", Links: []web.LandingLinks{probeLink(name)}})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		page.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		body, _ := io.ReadAll(rec.Body)
		if strings.Contains(string(body), "<script>") {
			t.Errorf("%q: markup got through:\n%s", name, body)
		}
		m := regexp.MustCompile(`<a href="/?(probe\?[^"]*)">([^<]*)</a>`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("%q: no probe link in\n%s", name, body)
		}
		u, err := url.Parse(html.UnescapeString(string(m[1])))
		if err != nil || u.Query().Get("target") != name || u.Query().Get("debug") != "true" {
			t.Errorf("%q: link %q leads to %v", name, m[1], u)
		}
		if text := html.UnescapeString(string(m[2])); text != "Probe "+name {
			t.Errorf("%q: link text %q", name, text)
		}
	}
}
