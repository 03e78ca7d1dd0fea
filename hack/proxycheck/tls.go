package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/proxycheck"
)

// handshake tunnels to host:443 through the proxy and verifies the
// certificate Squid presents for host against the CA bundle.
func handshake(proxy, caFile, host string, timeout time.Duration) bool {
	roots, err := loadRoots(caFile)
	if err != nil {
		fmt.Println("error:", err)
		return false
	}
	conn, err := proxycheck.Tunnel(proxy, host+":443", timeout)
	if err != nil {
		fmt.Println("error:", err)
		return false
	}
	defer conn.Close()
	var leaf *x509.Certificate
	var verr error
	c := tls.Client(conn, &tls.Config{
		ServerName: host,
		// Verified below, by hand, so that the leaf is kept and printed
		// when verification fails.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			leaf = cs.PeerCertificates[0]
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, verr = leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
			return nil
		},
	})
	if err := c.Handshake(); err != nil {
		fmt.Println("error: handshake:", err)
		return false
	}
	if verr != nil {
		fmt.Println("rejected:", verr)
	} else {
		fmt.Println("verified")
	}
	pem.Encode(os.Stdout, &pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	return true
}

func loadRoots(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no certificate", file)
	}
	return pool, nil
}
