package traffic

import "bytes"

// Object is what a request fetched.
type Object uint8

// The kinds of object, as the object label says them.
const (
	Blob     Object = iota // /v2/<name>/blobs/sha256:<hex>, or a CDN URL carrying a blob digest
	Manifest               // /v2/<name>/manifests/<ref>
	Other
	numObjects
)

var objectNames = [numObjects]string{"blob", "manifest", "other"}

func (o Object) String() string { return objectNames[o] }

// Cache is what the cache did for a request.
type Cache uint8

// The cache outcomes, as the cache label says them.
const (
	Hit         Cache = iota // served from cache without asking the origin
	Revalidated              // the origin confirmed the cached copy (or the client's)
	Miss                     // the body came from the origin
	Redirect                 // a 3xx, such as a registry's redirect to its CDN
	Error                    // 4xx, 5xx, aborted, timed out, denied
	numCaches
)

var cacheNames = [numCaches]string{"hit", "revalidated", "miss", "redirect", "error"}

func (c Cache) String() string { return cacheNames[c] }

// ClassifyCache reads Squid's result code (TCP_MEM_HIT, TCP_REFRESH_UNMODIFIED_ABORTED,
// NONE_NONE, ...) and the status sent to the client.
func ClassifyCache(code []byte, status int) Cache {
	tag, failed := resultTag(code)
	switch {
	case failed || status == 0 || status >= 400 || isFailure(tag):
		return Error
	case status == 304:
		if isHit(tag) {
			return Hit // TCP_IMS_HIT/304: the client's copy is current, the cache said so
		}
		return Revalidated
	case status >= 300:
		return Redirect
	case isHit(tag):
		return Hit
	case bytes.Equal(tag, []byte("REFRESH_UNMODIFIED")):
		return Revalidated
	}
	return Miss
}

// isFailure: Squid denied the request (a deny_info redirect is still a
// denial), or failed it without asking the origin (NONE_NONE, whatever
// the status).
func isFailure(tag []byte) bool {
	switch string(tag) {
	case "DENIED", "DENIED_REPLY", "REFRESH_FAIL_ERR", "NONE", "":
		return true
	}
	return false
}

// resultTag strips a result code to its core: TCP_CF_MEM_HIT_ABORTED is
// MEM_HIT, and failed says it was aborted or timed out.
func resultTag(code []byte) (tag []byte, failed bool) {
	for _, p := range [][]byte{[]byte("TCP_"), []byte("UDP_"), []byte("NONE_")} {
		if bytes.HasPrefix(code, p) {
			code = code[len(p):]
			break
		}
	}
	code = bytes.TrimPrefix(code, []byte("CF_")) // collapsed forwarding
	for _, s := range [][]byte{[]byte("_ABORTED"), []byte("_TIMEDOUT"), []byte("_IGNORED")} {
		if bytes.HasSuffix(code, s) {
			failed = failed || !bytes.Equal(s, []byte("_IGNORED"))
			code = code[:len(code)-len(s)]
		}
	}
	return code, failed
}

// isHit: served from the cache without the origin. A stale copy served
// because the origin failed (REFRESH_FAIL_OLD, Squid 6's STALE_HIT) is
// one too.
func isHit(tag []byte) bool {
	switch string(tag) {
	case "HIT", "MEM_HIT", "IMS_HIT", "INM_HIT", "NEGATIVE_HIT", "OFFLINE_HIT", "STALE_HIT", "REFRESH_FAIL_OLD":
		return true
	}
	return false
}

// ClassifyPath says what the path of a URL (after its host) fetches.
func ClassifyPath(path []byte) Object {
	o, _ := classifyPath(path)
	return o
}

// classifyPath also returns a blob's hex digest.
func classifyPath(path []byte) (Object, []byte) {
	if digest, ok := blobDigest(path); ok {
		return Blob, digest
	}
	if i := bytes.Index(path, []byte("/v2/")); i >= 0 && bytes.Contains(path[i:], []byte("/manifests/")) {
		return Manifest, nil
	}
	return Other, nil
}

// blobDigest finds the blob digest a path carries: /blobs/sha256:<hex> of
// the registry API, or a path segment of 64 hex digits after "sha256" as
// CDNs name blobs (quay's .../sha256/ab/<hex>, Docker Hub's
// .../sha256/ab/<hex>/data). Most lines have no "sha256" at all: one scan.
func blobDigest(path []byte) ([]byte, bool) {
	if q := bytes.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	if i := bytes.LastIndex(path, []byte("/blobs/sha256:")); i >= 0 { // the last: a repository may be named sha256…
		if hex := path[i+len("/blobs/sha256:"):]; len(hex) == 64 && isHex(hex) {
			return hex, true
		}
		return nil, false
	}
	i := bytes.Index(path, []byte("sha256"))
	if i < 0 {
		return nil, false
	}
	for rest := path[i:]; len(rest) > 0; {
		j := bytes.IndexByte(rest, '/')
		if j < 0 {
			j = len(rest)
		}
		if seg := rest[:j]; len(seg) == 64 && isHex(seg) {
			return seg, true
		}
		if j == len(rest) {
			break
		}
		rest = rest[j+1:]
	}
	return nil, false
}

func isHex(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
