package squidtest

import (
	"fmt"
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
	s := &Squid{t: t, Port: FreePort(t), build: selectedBuild(t)}
	bin := s.build.binary(t)
	s.makeDir()
	write := func() {
		s.URL = fmt.Sprintf("http://127.0.0.1:%d", s.Port)
		s.writeConfig(opts)
		for name, content := range files {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(s.Dir, name)), 0o755); err != nil {
				t.Fatal(err)
			}
			s.writeFile(name, strings.ReplaceAll(content, "{dir}", s.Dir))
		}
		s.writeFile("squid.conf", render(s.Dir, s.Port))
		s.chownToProxy()
	}
	write()
	s.run(bin, s.flags("-z", "-N")...)
	t.Cleanup(func() { s.Stop(); os.RemoveAll(s.Dir) })
	for attempt := 1; ; attempt++ {
		out, err := s.start()
		if err == nil {
			return s
		}
		if attempt == 3 || !strings.Contains(out+s.tail(s.CacheLog), "Address already in use") {
			t.Fatalf("squid did not come up: %v\noutput: %s\ncache.log:\n%s", err, out, s.tail(s.CacheLog))
		}
		s.Port = FreePort(t)
		write()
	}
}
