package icap

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/squid-cache-exporter/squid-cache-exporter/cdnurl"
)

const pattern = `^https://cdn[0-9]*\.quay\.test:[0-9]+/.+/sha256/.+/[a-f0-9]{64}`

// captured is a REQMOD the real Squid 5.7 sent for a client's CDN GET
// (captured by the e2e tests with -update).
func captured(t testing.TB) string { return readFixture(t, "testdata/squid-5.7-reqmod.txt") }

func readFixture(t testing.TB, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// exchange sends requests over one connection and returns the responses'
// heads and bodies, as the client reads them.
func exchange(t *testing.T, requests ...string) []string {
	t.Helper()
	urls, _ := cdnurl.New(pattern)
	return exchangeWith(t, &Server{URLs: urls, Logger: log.NewNopLogger(), Metrics: NewMetrics(prometheus.NewRegistry())}, requests...)
}

// exchangeWith is exchange with the server s.
func exchangeWith(t *testing.T, s *Server, requests ...string) []string {
	t.Helper()
	client, server := net.Pipe()
	go s.serveConn(server)
	defer client.Close()
	go func() {
		for _, r := range requests {
			io.WriteString(client, r)
		}
	}()
	r := bufio.NewReader(client)
	var out []string
	for range requests {
		head := readHead(t, r)
		if n := encapsulatedSize(head); n > 0 {
			body := make([]byte, n)
			io.ReadFull(r, body)
			head += string(body)
			if strings.Contains(head, "res-body=") { // a 206: its last chunk
				head += readHead(t, r)
			}
		}
		out = append(out, head)
	}
	return out
}

func readHead(t *testing.T, r *bufio.Reader) string {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a response: %v (so far %q)", err, b.String())
		}
		b.WriteString(line)
		if line == "\r\n" {
			return b.String()
		}
	}
}

// encapsulatedSize is the req-hdr or res-hdr length a response announces.
func encapsulatedSize(head string) int {
	for _, line := range strings.Split(head, "\r\n") {
		_, v, ok := strings.Cut(line, "Encapsulated: req-hdr=0, null-body=")
		if !ok {
			_, v, ok = strings.Cut(line, "Encapsulated: res-hdr=0, res-body=")
		}
		if ok {
			n := 0
			for _, c := range v {
				n = n*10 + int(c-'0')
			}
			return n
		}
	}
	return 0
}

func TestRemovesAuthorizationFromCDNBlobRequests(t *testing.T) {
	resp := exchange(t, captured(t))[0]
	if !strings.HasPrefix(resp, "ICAP/1.0 200 OK\r\n") || !strings.Contains(resp, "ISTag: ") {
		t.Fatalf("response:\n%s", resp)
	}
	if strings.Contains(resp, "Authorization") {
		t.Errorf("Authorization is still there:\n%s", resp)
	}
	// Every other header is kept, byte for byte.
	_, httpHdr, _ := strings.Cut(captured(t), "\r\n\r\n")
	want, _ := withoutField([]byte(httpHdr), "Authorization")
	if !strings.HasSuffix(resp, string(want)) || !strings.Contains(resp, "X-Amz-Signature=") {
		t.Errorf("the request was changed beyond Authorization:\n%s", resp)
	}
}

func TestLeavesEverythingElseAlone(t *testing.T) {
	fixture := captured(t)
	_, httpHdr, _ := strings.Cut(fixture, "\r\n\r\n")
	registry := reqmod(strings.Replace(httpHdr, "GET https://cdn01.quay.test", "GET https://quay.test", 1), "null-body", "")
	noAuth := reqmod("GET https://cdn01.quay.test:1/x/sha256/cc/"+strings.Repeat("a", 64)+" HTTP/1.1\r\nHost: cdn01.quay.test:1\r\n\r\n", "null-body", "")
	post := reqmod("POST https://cdn01.quay.test:1/x/sha256/cc/"+strings.Repeat("a", 64)+" HTTP/1.1\r\nHost: x\r\nAuthorization: Basic eA==\r\nContent-Length: 5\r\n\r\n", "req-body", "0\r\n\r\n")
	options := "OPTIONS icap://127.0.0.1:1344/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
	got := exchange(t, registry, noAuth, post, options, fixture)
	for i, name := range []string{"registry request", "CDN request without Authorization", "request with a body"} {
		if !strings.HasPrefix(got[i], "ICAP/1.0 204 No Content\r\n") {
			t.Errorf("%s: want 204, got\n%s", name, got[i])
		}
	}
	for _, want := range []string{"Methods: REQMOD", "Allow: 204", "Preview: 0", "ISTag: "} {
		if !strings.Contains(got[3], want) {
			t.Errorf("OPTIONS lacks %q:\n%s", want, got[3])
		}
	}
	if !strings.HasPrefix(got[4], "ICAP/1.0 200 OK") {
		t.Errorf("the connection did not carry on after the others:\n%s", got[4])
	}
}

func reqmod(httpHdr, bodyKind, body string) string {
	return "REQMOD icap://127.0.0.1:1344/reqmod ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\nPreview: 0\r\n" +
		"Encapsulated: req-hdr=0, " + bodyKind + "=" + itoa(len(httpHdr)) + "\r\n\r\n" + httpHdr + body
}

func itoa(n int) string {
	var b []byte
	for ; n > 0 || len(b) == 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestBadRequestsCloseTheConnection(t *testing.T) {
	for _, bad := range []string{
		"HELLO\r\n\r\n",
		"REQMOD icap://x/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0\r\n\r\n",
		"REQMOD icap://x/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, null-body=999999999\r\n\r\n",
		"REQMOD icap://x/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=10, null-body=5\r\n\r\n",
	} {
		if resp := exchange(t, bad)[0]; !strings.HasPrefix(resp, "ICAP/1.0 400 Bad Request") {
			t.Errorf("%q: got\n%s", bad, resp)
		}
	}
}

func FuzzReadRequest(f *testing.F) {
	f.Add([]byte(captured(f)))
	f.Add([]byte(reqmod("POST / HTTP/1.1\r\nHost: x\r\n\r\n", "req-body", "5\r\nhello\r\n0; ieof\r\n\r\n")))
	f.Add([]byte("OPTIONS icap://x/reqmod ICAP/1.0\r\n\r\n"))
	f.Add([]byte(capturedRespmod(f)))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		req, err := ReadRequest(r)
		if err != nil {
			return
		}
		if req.HasBody {
			_ = skipBody(r)
		}
		requestLine(req.HTTPHdr)
		withoutField(req.HTTPHdr, "Authorization")
		statusCode(req.ResHdr)
		withField(req.ResHdr, "Cache-Control", sharedCacheControl)
	})
}
