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

// signStyle is how a CDN spells a signed URL.
type signStyle int

const (
	// s3Style: an S3 presigned URL (quay's CDN). Each redirect gets fresh
	// temporary credentials, so no two signed URLs for a blob are the same.
	s3Style signStyle = iota
	// cloudFrontStyle: CloudFront's canned policy (Docker Hub's CDN):
	// Expires, Signature, Key-Pair-Id.
	cloudFrontStyle
	// sasStyle: an Azure Storage SAS (GHCR's CDN): se (expiry), sig, and
	// the permissions it grants.
	sasStyle
)

// signer makes and checks signed CDN URLs in one style.
type signer struct {
	style   signStyle
	secret  []byte
	expires time.Duration
	now     func() time.Time
	issued  *issued // shared by copies, which sign with another clock
	// sessionToken: S3 URLs carry X-Amz-Security-Token, as those of a
	// service's temporary role (ECR's) do.
	sessionToken bool
}

// issued remembers every signature handed out, so that tests can look for
// them where they must never be: logs, errors, pages.
type issued struct {
	mu   sync.Mutex
	sigs []string
}

func newSigner(style signStyle) *signer {
	secret := make([]byte, 32)
	rand.Read(secret)
	return &signer{style: style, secret: secret, expires: 10 * time.Minute, now: time.Now, issued: &issued{}}
}

const amzDate = "20060102T150405Z"

func (s *signer) sign(rawURL string) string {
	switch s.style {
	case cloudFrontStyle:
		return s.signWith(rawURL, "Expires", strconv.FormatInt(s.now().Add(s.expires).Unix(), 10), "Signature", url.Values{"Key-Pair-Id": {"K2EMULATED"}})
	case sasStyle:
		return s.signWith(rawURL, "se", s.now().Add(s.expires).UTC().Format(time.RFC3339), "sig",
			url.Values{"sp": {"r"}, "spr": {"https"}, "sr": {"b"}, "sv": {"2019-12-12"}})
	}
	return s.signS3(rawURL)
}

// signWith signs the path, the expiry and the fixed parameters, as
// CloudFront and Azure do: the same URL for a blob within the expiry's
// resolution.
func (s *signer) signWith(rawURL, expiryParam, expiry, sigParam string, fixed url.Values) string {
	u, _ := url.Parse(rawURL)
	q := fixed
	q.Set(expiryParam, expiry)
	sig := s.mac(u.Path, q)
	q.Set(sigParam, sig)
	s.issued.mu.Lock()
	s.issued.sigs = append(s.issued.sigs, sig)
	s.issued.mu.Unlock()
	u.RawQuery = q.Encode()
	return u.String()
}

func (s *signer) signS3(rawURL string) string {
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
	if s.sessionToken {
		q.Set("X-Amz-Security-Token", "IQoJ"+hex.EncodeToString(key)+hex.EncodeToString(key))
	}
	sig := s.mac(u.Path, q)
	q.Set("X-Amz-Signature", sig)
	s.issued.mu.Lock()
	s.issued.sigs = append(s.issued.sigs, sig, "ASIA"+hex.EncodeToString(key))
	if s.sessionToken {
		s.issued.sigs = append(s.issued.sigs, q.Get("X-Amz-Security-Token"))
	}
	s.issued.mu.Unlock()
	u.RawQuery = q.Encode()
	return u.String()
}

// signed are the parameters each style's signature covers, besides the
// path.
var signed = map[signStyle][]string{
	s3Style:         {"X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Security-Token"},
	cloudFrontStyle: {"Expires", "Key-Pair-Id"},
	sasStyle:        {"se", "sp", "spr", "sr", "sv"},
}

// signatureParam is where each style puts the signature.
var signatureParam = map[signStyle]string{s3Style: "X-Amz-Signature", cloudFrontStyle: "Signature", sasStyle: "sig"}

func (s *signer) mac(path string, q url.Values) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(path + "\n"))
	for _, p := range signed[s.style] {
		m.Write([]byte(q.Get(p) + "\n"))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (s *signer) verify(u *url.URL) error {
	q := u.Query()
	if !hmac.Equal([]byte(q.Get(signatureParam[s.style])), []byte(s.mac(u.Path, q))) {
		//lint:ignore ST1005 S3's own message, as the CDN sends it
		return errors.New("The request signature we calculated does not match the signature you provided.")
	}
	if end, err := s.expiry(q); err != nil || s.now().After(end) {
		//lint:ignore ST1005 S3's own message, as the CDN sends it
		return errors.New("Request has expired")
	}
	return nil
}

// expiry is when a signed URL stops being valid.
func (s *signer) expiry(q url.Values) (time.Time, error) {
	switch s.style {
	case cloudFrontStyle:
		sec, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
		return time.Unix(sec, 0), err
	case sasStyle:
		return time.Parse(time.RFC3339, q.Get("se"))
	}
	signedAt, err := time.Parse(amzDate, q.Get("X-Amz-Date"))
	if err != nil {
		return time.Time{}, err
	}
	expires, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	return signedAt.Add(time.Duration(expires) * time.Second), err
}
