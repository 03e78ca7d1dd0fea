package accesslog

import (
	"strings"
	"testing"
)

// The squid_probe format is the native one plus the marker: a line with
// the marker field parses as the native line does, and the marker is the
// header's value, or none for Squid's "-".
func TestParseMarker(t *testing.T) {
	const native = "1795980353.937      2 127.0.0.1 TCP_MEM_HIT/200 262547 GET https://r.test/v2/x/blobs/sha256:cd - HIER_NONE/- application/octet-stream"
	tests := []struct {
		name        string
		line        string
		marker      string
		markerField bool
	}{
		{"native format", native, "", false},
		{"marked request", native + " 6a7d4f92cf485732cee3e58b94ab7032", "6a7d4f92cf485732cee3e58b94ab7032", true},
		{"request without the header", native + " -", "", true},
		{"padded", native + "   6a7d", "6a7d", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Entry
			if err := Parse([]byte(tt.line), &e); err != nil {
				t.Fatal(err)
			}
			if string(e.Marker) != tt.marker || (e.Marker == nil) != (tt.marker == "") || e.MarkerField != tt.markerField {
				t.Errorf("marker %q (field %t), want %q (field %t)", e.Marker, e.MarkerField, tt.marker, tt.markerField)
			}
			var plain Entry
			Parse([]byte(native), &plain)
			got, want := e.Record(), plain.Record()
			if got.Marker != tt.marker {
				t.Errorf("record's marker %q, want %q", got.Marker, tt.marker)
			}
			got.Marker = ""
			if got != want || string(e.MimeType) != string(plain.MimeType) {
				t.Errorf("the marker changed other fields:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// A marked line that Squid wrote is read with its marker, and a line
// without the header has none.
func TestParseMarkerFromRealSquid(t *testing.T) {
	var marked, unmarked int
	for _, line := range fixture(t, probeFixture) {
		var e Entry
		if err := Parse(line, &e); err != nil {
			t.Fatal(err)
		}
		switch {
		case e.Marker == nil:
			unmarked++
		case len(e.Marker) == 32 && strings.Trim(string(e.Marker), "0123456789abcdef") == "":
			marked++
		default:
			t.Errorf("marker %q: %s", e.Marker, line)
		}
	}
	// Three rounds' GETs carry the marker; CONNECTs and the cache
	// manager's requests do not.
	if marked != 15 || unmarked != 8 {
		t.Errorf("%d marked and %d unmarked lines, want 15 and 8", marked, unmarked)
	}
}

// The parser allocates nothing, in either format: it runs for every line
// of a busy proxy's log.
func TestParseAllocatesNothing(t *testing.T) {
	for _, path := range []string{nativeFixture, probeFixture} {
		lines := fixture(t, path)
		var e Entry
		allocs := testing.AllocsPerRun(10, func() {
			for _, line := range lines {
				Parse(line, &e)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per pass, want 0", path, allocs)
		}
	}
}

// The format users copy into squid.conf ends with the native format plus
// the header the prober sends.
func TestProbeLogFormat(t *testing.T) {
	const native = "%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt"
	if ProbeLogFormat != "logformat squid_probe "+native+" %{"+MarkerHeader+"}>h" {
		t.Errorf("ProbeLogFormat = %q", ProbeLogFormat)
	}
}
