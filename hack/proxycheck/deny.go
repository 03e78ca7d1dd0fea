package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/squid-cache-exporter/squid-cache-exporter/internal/test/proxycheck"
)

// deny sends each request and says whether Squid denied them all.
func deny(proxy string, requests []string, timeout time.Duration) bool {
	all := true
	for _, req := range requests {
		method, target, _ := strings.Cut(req, " ")
		r, err := proxycheck.Do(proxy, method, target, timeout)
		switch {
		case err != nil:
			fmt.Printf("NOT DENIED %s: %v\n", req, err)
			all = false
		case r.Denied():
			fmt.Printf("denied %s: %s\n", req, r)
		default:
			fmt.Printf("NOT DENIED %s: %s\n", req, r)
			all = false
		}
	}
	return all
}
