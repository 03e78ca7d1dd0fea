package quaytest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// signer makes and checks S3-style presigned URLs. Each redirect gets fresh
// temporary credentials, so no two signed URLs for a blob are the same.
type signer struct {
	secret  []byte
	expires time.Duration
	now     func() time.Time
	issued  *issued // shared by copies, which sign with another clock
}

// issued remembers every signature handed out, so that tests can look for
// them where they must never be: logs, errors, pages.
type issued struct {
	mu   sync.Mutex
	sigs []string
}

func newSigner() *signer {
	secret := make([]byte, 32)
	rand.Read(secret)
	return &signer{secret: secret, expires: 10 * time.Minute, now: time.Now, issued: &issued{}}
}

const amzDate = "20060102T150405Z"

func (s *signer) sign(rawURL string) string {
	u, _ := url.Parse(rawURL)
	key := make([]byte, 8)
	rand.Read(key)
	now := s.now().UTC()
	q := url.Values{}
	q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
	q.Set("X-Amz-Credential", "ASIA"+hex.EncodeToString(key)+"/"+now.Format("20060102")+"/us-east-1/s3/aws4_request")
	q.Set("X-Amz-Date", now.Format(amzDate))
	q.Set("X-Amz-Expires", strconv.Itoa(int(s.expires.Seconds())))
	q.Set("X-Amz-SignedHeaders", "host")
	sig := s.mac(u.Path, q)
	q.Set("X-Amz-Signature", sig)
	s.issued.mu.Lock()
	s.issued.sigs = append(s.issued.sigs, sig, "ASIA"+hex.EncodeToString(key))
	s.issued.mu.Unlock()
	u.RawQuery = q.Encode()
	return u.String()
}

func (s *signer) mac(path string, q url.Values) string {
	m := hmac.New(sha256.New, s.secret)
	for _, part := range []string{path, q.Get("X-Amz-Credential"), q.Get("X-Amz-Date"), q.Get("X-Amz-Expires")} {
		m.Write([]byte(part + "\n"))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (s *signer) verify(u *url.URL) error {
	q := u.Query()
	if !hmac.Equal([]byte(q.Get("X-Amz-Signature")), []byte(s.mac(u.Path, q))) {
		//lint:ignore ST1005 S3's own message, as the CDN sends it
		return errors.New("The request signature we calculated does not match the signature you provided.")
	}
	signed, err := time.Parse(amzDate, q.Get("X-Amz-Date"))
	expires, err2 := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || err2 != nil || s.now().After(signed.Add(time.Duration(expires)*time.Second)) {
		//lint:ignore ST1005 S3's own message, as the CDN sends it
		return errors.New("Request has expired")
	}
	return nil
}
