package icap

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
)

// sharedCacheControl replaces the registry's Cache-Control on a blob it
// served itself: a blob named by its digest never changes, and who may
// read it is decided per request by the store-ID helper's check, not by
// the origin's "private".
const sharedCacheControl = "public, max-age=31536000"

// answerRespmod lets Squid store a 200 that a self-serving registry gave
// to a blob GET with Authorization: without "public" Squid stores no
// answer to a request with credentials (RFC 9111 section 3.5). Squid asks
// only for requests the store-ID helper verified (the snippet's
// adaptation_access on its note); the service checks the URL, the method
// and the status again, so that a mistake in squid.conf shares nothing
// else, and the head must say the body is the digest's content. The
// client's copy of the answer says "private" again (the snippet's
// reply_header_replace): only this Squid may store it. The body is never read: the answer is 206 with new headers and
// "use-original-body=0" (ICAP Partial Content extension), so a blob of
// gigabytes costs this service a few hundred bytes.
func (s *Server) answerRespmod(r *bufio.Reader, w *bufio.Writer, req *Request) (string, error) {
	if req.HasBody {
		if err := skipBody(r); err != nil { // the zero preview
			return resultError, err
		}
	}
	method, target, ok := requestLine(req.HTTPHdr)
	storable := ok && method == "GET" && req.HasBody && statusCode(req.ResHdr) == "200" &&
		strings.Contains(req.Header.Get("Allow"), "206")
	if storable {
		key, ok := s.Registries.SharedKey(absoluteURL(target, req.HTTPHdr))
		storable = ok && isContentOf(req.ResHdr, key)
	}
	if !storable {
		return resultUnmodified, writeNoChange(w, req)
	}
	hdr := withField(req.ResHdr, "Cache-Control", sharedCacheControl)
	hdr, _ = withoutField(hdr, "Pragma")
	hdr, _ = withoutField(hdr, "Set-Cookie")
	fmt.Fprintf(w, "ICAP/1.0 206 Partial Content\r\nISTag: %s\r\nEncapsulated: res-hdr=0, res-body=%d\r\n\r\n", ISTag, len(hdr))
	w.Write(hdr)
	_, err := w.WriteString("0; use-original-body=0\r\n\r\n")
	return resultModified, err
}

// isContentOf reports whether a response head says its body is the content
// the key names: Docker-Content-Digest is the key's digest, the body is not
// re-encoded, and a manifest has a manifest's media type. What is stored
// serves every client of the digest for a year: a login page, a converted
// manifest or a gzipped body under it would break their pulls.
func isContentOf(hdr []byte, key string) bool {
	digest := "sha256:" + key[len(key)-64:]
	if headerValue(hdr, "Docker-Content-Digest") != digest || headerValue(hdr, "Content-Encoding") != "" {
		return false
	}
	if !strings.HasPrefix(key, cdnurl.ManifestKeyPrefix) {
		return true
	}
	mediaType, _, _ := strings.Cut(headerValue(hdr, "Content-Type"), ";")
	return slices.Contains(cdnurl.ManifestTypes, strings.TrimSpace(mediaType))
}

// statusCode is the status of an HTTP response header block.
func statusCode(hdr []byte) string {
	line, _, _ := bytes.Cut(hdr, []byte("\r\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "HTTP/") {
		return ""
	}
	return fields[1]
}

// withField is the header block with every line of the named field
// replaced by one "name: value" before the empty line that ends it.
func withField(hdr []byte, name, value string) []byte {
	out, _ := withoutField(hdr, name)
	end := bytes.LastIndex(out, []byte("\r\n\r\n"))
	if end < 0 {
		return out
	}
	field := name + ": " + value + "\r\n"
	return append(out[:end+2:end+2], append([]byte(field), out[end+2:]...)...)
}
