package cachemgr

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// Missing marks a value the report did not contain; emitters skip it.
var Missing = math.NaN()

// IsMissing reports whether v was absent from the report.
func IsMissing(v float64) bool { return math.IsNaN(v) }

// parseNumber reads a decimal number. Squid prints "-0.0" early on; it is 0.
func parseNumber(b []byte) (float64, error) {
	// string(b) does not escape here, so it does not allocate.
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("not a number: %q", b)
	}
	return v + 0, nil // + 0 turns -0 into 0
}

// parseWithUnit reads "<number> <unit>", as in "40444 KB" or "0.847 seconds".
func parseWithUnit(b []byte, unit string) (float64, error) {
	num, ok := bytes.CutSuffix(b, []byte(unit))
	if !ok {
		return 0, fmt.Errorf("want a value in %s, got %q", unit, b)
	}
	return parseNumber(bytes.TrimSpace(num))
}

// parseKB reads "40444 KB" (or "40444.00 KB") as bytes.
func parseKB(b []byte) (float64, error) {
	v, err := parseWithUnit(b, "KB")
	return v * 1024, err
}

// parsePercent reads "37.5%" as the ratio 0.375.
func parsePercent(b []byte) (float64, error) {
	v, err := parseWithUnit(b, "%")
	return v / 100, err
}
