package traffic

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	table "github.com/squid-cache-exporter/squid-cache-exporter/registries"
)

// Registry is one registry's label value and the hosts that count as it:
// its API host and the CDN hosts its blobs come from. "*.example.com"
// means every subdomain.
type Registry struct {
	Name  string
	Hosts []string
	// Layers are hosts that serve nothing but blobs under URLs that name
	// no digest (ECR's layer buckets): a GET there is a blob delivery.
	Layers []string
}

// DefaultRegistries are the registries of the registries package's table, each with
// its API hosts and its CDNs' hosts, in the table's order. Anything else
// is "other".
var DefaultRegistries = fromTable(table.Default)

func fromTable(rows []table.Registry) []Registry {
	out := make([]Registry, len(rows))
	for i, r := range rows {
		out[i] = Registry{Name: r.Name, Hosts: r.AllHosts()}
		for _, c := range r.CDNs {
			for _, h := range c.Hosts {
				if c.Learned && !slices.Contains(r.Hosts, h) {
					out[i].Layers = append(out[i].Layers, h)
				}
			}
		}
	}
	return out
}

// otherRegistry labels every host no registry names.
const otherRegistry = "other"

// registries finds the registry of a host without allocating.
type registries struct {
	names    []string       // label values by index; the last is "other"
	api      []string       // each registry's first host: its API, not a CDN
	exact    map[string]int // host -> index
	layers   map[string]bool
	suffixes []suffix // "*." hosts, checked in order
}

type suffix struct {
	dotted []byte // ".quay.io"
	index  int
}

func newRegistries(rs []Registry) (*registries, error) {
	r := &registries{exact: map[string]int{}, layers: map[string]bool{}}
	for i, reg := range rs {
		if reg.Name == "" || reg.Name == otherRegistry || len(reg.Hosts) == 0 {
			return nil, fmt.Errorf("registry %q: a name other than %q and at least one host", reg.Name, otherRegistry)
		}
		r.names = append(r.names, reg.Name)
		r.api = append(r.api, strings.ToLower(reg.Hosts[0]))
		for _, h := range reg.Hosts {
			h = strings.ToLower(h)
			if rest, ok := strings.CutPrefix(h, "*."); ok {
				r.suffixes = append(r.suffixes, suffix{[]byte("." + rest), i})
				continue
			}
			if prev, dup := r.exact[h]; dup && prev != i {
				return nil, fmt.Errorf("host %s is in both %s and %s", h, r.names[prev], reg.Name)
			}
			r.exact[h] = i
		}
		for _, h := range reg.Layers {
			r.layers[strings.ToLower(h)] = true
		}
	}
	r.names = append(r.names, otherRegistry)
	return r, nil
}

// index returns the registry of host (no port), or the index of "other".
func (r *registries) index(host []byte) int {
	if i, ok := r.exact[string(host)]; ok { // no allocation: the compiler reads the bytes in place
		return i
	}
	for _, s := range r.suffixes {
		if bytes.HasSuffix(host, s.dotted) {
			return s.index
		}
	}
	return len(r.names) - 1
}

// isLayer says a request is a blob delivery although its URL names no
// digest: an Artifact Registry download (its path) or a GET from an ECR
// layer bucket (its host).
func (r *registries) isLayer(host, path []byte) bool {
	return bytes.HasPrefix(path, []byte("/artifacts-downloads/")) || r.layers[string(host)]
}

func (r *registries) other() int { return len(r.names) - 1 }

// isAPIHost says host is the registry's own API host (its first): a blob
// it serves itself counts as its own, even if another redirected it.
func (r *registries) isAPIHost(reg int, host []byte) bool {
	return reg < len(r.api) && string(host) == r.api[reg]
}

// ParseRegistry reads the flag form NAME=HOST[,HOST...].
func ParseRegistry(s string) (Registry, error) {
	name, hosts, ok := strings.Cut(s, "=")
	if !ok || name == "" || hosts == "" {
		return Registry{}, fmt.Errorf("registry %q: want NAME=HOST[,HOST...]", s)
	}
	return Registry{Name: name, Hosts: strings.Split(hosts, ",")}, nil
}
