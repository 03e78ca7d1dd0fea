package prober

import (
	"fmt"
	"strings"
)

// String is the verdict for people: PASS or FAIL first, then the codes,
// the digest and the timings, and what went wrong.
func (r *Result) String() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.Success {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%s %s", verdict, r.Target)
	if !r.Success {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	fmt.Fprintf(&b, "\n  blob:     %s (%d bytes, digest match: %t)\n", orDash(r.Digest), r.Bytes, r.DigestMatch)
	fmt.Fprintf(&b, "  squid:    first pull %s, second pull %s\n", orDash(r.Codes[0]), orDash(r.Codes[1]))
	fmt.Fprintf(&b, "  timings: ")
	for _, p := range Phases {
		if d, ok := r.Durations[p]; ok {
			fmt.Fprintf(&b, " %s %s,", p, d.Round(100_000))
		}
	}
	fmt.Fprintf(&b, " total %s", r.Total.Round(100_000))
	if r.Err != nil {
		fmt.Fprintf(&b, "\n  error:    %v", r.Err)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
