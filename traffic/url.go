package traffic

import "bytes"

// splitURL cuts a logged URL into its host (lower case as Squid logs it,
// without port or userinfo) and its path: "https://cdn01.quay.io:443/a/b?"
// is cdn01.quay.io and /a/b?. A CONNECT's "host:port" has no path.
func splitURL(u []byte) (host, path []byte) {
	if i := bytes.Index(u, []byte("://")); i >= 0 {
		u = u[i+3:]
	}
	hostPort := u
	if i := bytes.IndexByte(u, '/'); i >= 0 {
		hostPort, path = u[:i], u[i:]
	}
	if i := bytes.LastIndexByte(hostPort, '@'); i >= 0 {
		hostPort = hostPort[i+1:]
	}
	return stripPort(hostPort), path
}

func stripPort(hp []byte) []byte {
	if len(hp) > 0 && hp[0] == '[' { // [::1]:443
		if i := bytes.IndexByte(hp, ']'); i > 0 {
			return hp[1:i]
		}
		return hp
	}
	if i := bytes.LastIndexByte(hp, ':'); i >= 0 {
		return hp[:i]
	}
	return hp
}

// isManager says the URL (and its path) is a cache manager request: the
// exporter's own scrapes, not traffic.
func isManager(u, path []byte) bool {
	return bytes.HasPrefix(path, []byte("/squid-internal-mgr/")) || bytes.HasPrefix(u, []byte("cache_object://"))
}
