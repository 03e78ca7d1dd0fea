package icap

import (
	"bufio"
	"crypto/subtle"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
	"github.com/squid-cache-exporter/squid-cache-exporter/learned"
)

// SecretHeader carries the secret Squid sends with each redirect it
// shows the service at /learn (adaptation_meta). Without it a request
// teaches nothing: a local process that reaches the ICAP port must not be
// able to tie a signed URL it holds to a digest it cannot read.
const SecretHeader = "X-Squid-Cache-Learn-Secret"

// Learner is what /learn needs: which redirects teach, where to keep what
// they teach, and the secret that proves a request came from Squid.
type Learner struct {
	URLs   *cdnurl.Learned
	Store  *learned.Store
	Secret *SecretFile
}

// answerLearn remembers the digest a registry's redirect names for the
// signed URL it redirects to, and always leaves the answer as it is.
// Squid waits for this answer before it sends the redirect on, so the
// client's next request, to that URL, finds what was learned.
func (s *Server) answerLearn(r *bufio.Reader, w *bufio.Writer, req *Request) (string, error) {
	if req.HasBody {
		if err := skipBody(r); err != nil {
			return resultError, err
		}
	}
	result := resultUnmodified
	if s.learn(req) {
		result = resultLearned
	}
	return result, writeNoChange(w, req)
}

func (s *Server) learn(req *Request) bool {
	l := s.Learner
	if l == nil || l.URLs == nil || l.Store == nil || !l.Secret.Matches(req.Header.Get(SecretHeader)) {
		return false
	}
	method, target, ok := requestLine(req.HTTPHdr)
	if !ok || method != "GET" || !isRedirect(statusCode(req.ResHdr)) {
		return false
	}
	cdnURL, hex, ok := l.URLs.Teaches(absoluteURL(target, req.HTTPHdr), headerValue(req.ResHdr, "Location"))
	if !ok {
		return false
	}
	l.Store.Add(cdnURL, hex, expiry(cdnURL))
	s.Metrics.learned.Set(float64(l.Store.Len()))
	return true
}

func isRedirect(status string) bool {
	switch status {
	case "301", "302", "303", "307", "308":
		return true
	}
	return false
}

// expiry is when a presigned S3 URL stops being valid (X-Amz-Date plus
// X-Amz-Expires), and zero for a URL that does not say (the store then
// keeps it for its longest).
func expiry(rawURL string) time.Time {
	u, err := url.Parse(rawURL)
	if err != nil {
		return time.Time{}
	}
	q := u.Query()
	signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	secs, err2 := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || err2 != nil || secs <= 0 {
		return time.Time{}
	}
	return signed.Add(time.Duration(secs) * time.Second)
}

// SecretFile is a secret kept in a file that Squid's start script
// rewrites at each start. It is read again when a request does not match
// what was read before, at most once a second, so that a restarted Squid's
// new secret is taken up and a flood of wrong ones costs no reads.
type SecretFile struct {
	Path string

	mu       sync.Mutex
	secret   []byte
	lastRead time.Time
}

// Matches reports whether got is the secret. An empty or missing secret
// matches nothing.
func (f *SecretFile) Matches(got string) bool {
	if f == nil || got == "" {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.equal(got) {
		return true
	}
	if time.Since(f.lastRead) < time.Second {
		return false
	}
	f.lastRead = time.Now()
	b, err := os.ReadFile(f.Path)
	if err != nil {
		f.secret = nil
		return false
	}
	f.secret = []byte(strings.TrimSpace(string(b)))
	return f.equal(got)
}

func (f *SecretFile) equal(got string) bool {
	return len(f.secret) > 0 && subtle.ConstantTimeCompare(f.secret, []byte(got)) == 1
}
