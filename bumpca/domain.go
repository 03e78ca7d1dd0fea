package bumpca

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Constraints turns Squid dstdomain entries into DNS name constraints: the
// leading dot goes (RFC 5280's "quay.io" already covers its subdomains),
// duplicates go, and anything that is not a DNS name is refused, since a
// wildcard or an address here would either fail to constrain or constrain
// something other than what the operator meant.
func Constraints(domains []string) ([]string, error) {
	if len(domains) == 0 {
		return nil, errors.New("no permitted domains: a CA without them could sign for any name")
	}
	var out []string
	seen := map[string]bool{}
	for _, d := range domains {
		name := strings.TrimPrefix(d, ".")
		if err := checkDNSName(name); err != nil {
			return nil, fmt.Errorf("permitted domain %q: %w", d, err)
		}
		if key := strings.ToLower(name); !seen[key] {
			seen[key] = true
			out = append(out, name)
		}
	}
	return out, nil
}

// checkDNSName accepts a host name as RFC 1123 spells one: labels of
// letters, digits and inner hyphens, at most 63 bytes each and 253 in all.
func checkDNSName(name string) error {
	switch {
	case name == "":
		return errors.New("empty")
	case net.ParseIP(name) != nil:
		return errors.New("an IP address, not a domain")
	case len(name) > 253:
		return errors.New("longer than 253 bytes")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return err
		}
	}
	if isDigits(labels[len(labels)-1]) {
		return errors.New("ends in a numeric label, like an IP address")
	}
	return nil
}

func checkLabel(l string) error {
	if l == "" {
		return errors.New("empty label (a doubled or trailing dot)")
	}
	if len(l) > 63 {
		return fmt.Errorf("label %q is longer than 63 bytes", l)
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with a hyphen", l)
	}
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%q is not allowed in a DNS name (no wildcards, spaces or underscores)", c)
		}
	}
	return nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
