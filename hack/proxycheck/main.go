// Command proxycheck is make test-k8s's client of the chart's proxy, run in a
// pod as a build pod would run. It is test tooling, not part of the product.
//
//	proxycheck -proxy HOST:PORT deny "GET URL" "CONNECT HOST:PORT" ...
//	    each request must get Squid's access denial (exit 1 otherwise)
//	proxycheck -proxy HOST:PORT -ca FILE tls HOST
//	    a bumped TLS handshake with HOST through the proxy, verified against
//	    FILE with Go's verifier (name constraints enforced); prints the
//	    verdict and the leaf certificate Squid made, PEM
//	proxycheck -proxy HOST:PORT -ca FILE -rate BYTES/S pull IMAGE
//	    pulls the image's first layer through the proxy at most that fast,
//	    and checks its digest (exit 1 on any error or a mismatch)
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	proxy := flag.String("proxy", "", "the proxy, HOST:PORT")
	caFile := flag.String("ca", "", "PEM bundle to trust for bumped TLS")
	rate := flag.Int64("rate", 0, "pull: bytes per second at most (0: no limit)")
	timeout := flag.Duration("timeout", 20*time.Second, "longest one request may take (pull: the whole pull, times 10)")
	flag.Parse()
	args := flag.Args()
	if len(args) < 2 || *proxy == "" {
		fmt.Fprintln(os.Stderr, "usage: proxycheck -proxy HOST:PORT [-ca FILE] [-rate N] deny|tls|pull ARGS...")
		os.Exit(2)
	}
	var ok bool
	switch args[0] {
	case "deny":
		ok = deny(*proxy, args[1:], *timeout)
	case "tls":
		ok = handshake(*proxy, *caFile, args[1], *timeout)
	case "pull":
		ok = pull(*proxy, *caFile, args[1], *rate, 10**timeout)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", args[0])
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}
