// Command squid-cache-healthcheck runs inside the Helm chart's Squid
// container:
//
//	squid-cache-healthcheck [alive]   exit 0 when Squid answers an HTTP request in time (the probes)
//	squid-cache-healthcheck drain     wait until no download is under way (the preStop hook)
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/squid-cache-exporter/squid-cache-exporter/cachemgr"
)

func main() {
	app := kingpin.New("squid-cache-healthcheck", "Squid's health, and a drain before it stops.")
	addr := app.Flag("address", "Squid's http_port, HOST:PORT.").Default("127.0.0.1:3128").String()
	alive := app.Command("alive", "Exit 0 when Squid answers HTTP in time, 1 otherwise.").Default()
	aliveTimeout := alive.Flag("timeout", "Longest to wait for the answer.").Default("4s").Duration()
	drain := app.Command("drain", "Wait until Squid has no client request under way but the cache manager's; exit 1 at the timeout.")
	settle := drain.Flag("settle", "Wait this long first: clients still sent here while the pod leaves the Service's endpoints.").Default("5s").Duration()
	drainTimeout := drain.Flag("timeout", "Longest to wait, settle included.").Default("100s").Duration()
	passwordFile := drain.Flag("password-file", "File with the cache manager password (active_requests needs it).").String()
	switch kingpin.MustParse(app.Parse(os.Args[1:])) {
	case alive.FullCommand():
		ctx, cancel := context.WithTimeout(context.Background(), *aliveTimeout)
		defer cancel()
		exit(cachemgr.Alive(ctx, *addr))
	case drain.FullCommand():
		exit(drainSquid(*addr, *passwordFile, *settle, *drainTimeout))
	}
}

func drainSquid(addr, passwordFile string, settle, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	password := ""
	if passwordFile != "" {
		b, err := os.ReadFile(passwordFile)
		if err != nil {
			return err
		}
		password = strings.TrimSpace(string(b))
	}
	client, err := cachemgr.NewClient("http://"+addr, password)
	if err != nil {
		return err
	}
	select {
	case <-time.After(settle):
	case <-ctx.Done():
	}
	return client.Drain(ctx, time.Second)
}

func exit(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
