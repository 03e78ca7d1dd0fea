// Package hostsfile dials names listed in a hosts file (the format of
// /etc/hosts, and of Squid's hosts_file) at their listed addresses, so a
// helper resolves names exactly as the Squid that runs it does.
package hostsfile

import (
	"bufio"
	"context"
	"net"
	"os"
	"strings"
)

// Load reads a hosts file into name -> address.
func Load(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hosts := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line, _, _ := strings.Cut(s.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 || net.ParseIP(fields[0]) == nil {
			continue
		}
		for _, name := range fields[1:] {
			if _, seen := hosts[name]; !seen {
				hosts[name] = fields[0]
			}
		}
	}
	return hosts, s.Err()
}

// DialContext dials the listed address of a listed name, and anything else
// as usual.
func DialContext(hosts map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil {
			if ip, ok := hosts[host]; ok {
				addr = net.JoinHostPort(ip, port)
			}
		}
		return d.DialContext(ctx, network, addr)
	}
}
