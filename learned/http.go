package learned

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// lookupPath is where the service answers: lookupPath + hex(KeyOf(url)).
const lookupPath = "/digests/"

// Handler answers a lookup by URL key with the digest ("sha256:<hex>"),
// or 404. The client sends the key, never the URL.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var k Key
		raw, ok := strings.CutPrefix(r.URL.Path, lookupPath)
		if !ok || len(raw) != hex.EncodedLen(len(k)) || r.Method != http.MethodGet {
			http.Error(w, "want GET "+lookupPath+"<sha256 of the URL, hex>", http.StatusBadRequest)
			return
		}
		if _, err := hex.Decode(k[:], []byte(raw)); err != nil {
			http.Error(w, "want GET "+lookupPath+"<sha256 of the URL, hex>", http.StatusBadRequest)
			return
		}
		digest, ok := s.Lookup(k)
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "sha256:"+digest)
	})
}

// Client asks a Store's Handler.
type Client struct {
	BaseURL string // http://127.0.0.1:1345
	HTTP    *http.Client
}

// Lookup is the hex of the digest learned for rawURL; false when none is.
func (c *Client) Lookup(ctx context.Context, rawURL string) (string, bool, error) {
	k := KeyOf(rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.BaseURL, "/")+lookupPath+hex.EncodeToString(k[:]), nil)
	if err != nil {
		return "", false, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 128))
	switch {
	case err != nil:
		return "", false, err
	case resp.StatusCode == http.StatusNotFound:
		return "", false, nil
	case resp.StatusCode != http.StatusOK:
		return "", false, fmt.Errorf("digest lookup: %s", resp.Status)
	}
	d, ok := strings.CutPrefix(string(body), "sha256:")
	if !ok || len(d) != 64 || strings.Trim(d, "0123456789abcdef") != "" {
		return "", false, fmt.Errorf("digest lookup: not a digest: %q", body)
	}
	return d, true, nil
}
