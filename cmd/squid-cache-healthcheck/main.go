// Command squid-cache-healthcheck exits 0 when Squid answers an HTTP request
// in time, and 1 with the reason otherwise: the Helm chart's startup,
// readiness and liveness probe of the Squid container, run inside it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

func main() {
	app := kingpin.New("squid-cache-healthcheck", "Exit 0 when Squid answers HTTP in time, 1 otherwise.")
	addr := app.Flag("address", "Squid's http_port, HOST:PORT.").Default("127.0.0.1:3128").String()
	timeout := app.Flag("timeout", "Longest to wait for the answer.").Default("4s").Duration()
	kingpin.MustParse(app.Parse(os.Args[1:]))
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := cachemgr.Alive(ctx, *addr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
