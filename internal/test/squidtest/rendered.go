package squidtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// StartRendered starts Squid with a whole config of the caller's, such as
// the Helm chart's rendered squid.conf, instead of the one Start writes.
// render gets Squid's directory and port, and returns squid.conf; files
// (relative paths, "{dir}" in their content stands for the directory) are
// written there first. opts supplies what Start would put in the directory:
// Hosts becomes {dir}/hosts, BumpCA {dir}/bump.pem (certificate and key),
// OriginCA {dir}/origin-ca.pem, and an ssl_db is made at {dir}/ssl_db. The
// config must log to {dir}/logs/access.log and {dir}/logs/cache.log, and
// answer the cache manager from localhost, as the readiness check asks it.
func StartRendered(t testing.TB, opts Options, files map[string]string, render func(dir string, port int) string) *Squid {
	t.Helper()
	s := &Squid{t: t, build: selectedBuild(t)}
	s.launch(func() {
		s.writeConfig(opts)
		for name, content := range files {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(s.Dir, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			s.writeFile(name, strings.ReplaceAll(content, "{dir}", s.Dir))
		}
		s.writeFile("squid.conf", render(s.Dir, s.Port))
		s.chownToProxy()
	})
	return s
}
