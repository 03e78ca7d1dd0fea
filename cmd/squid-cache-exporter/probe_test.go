package main

import (
	"testing"
)

func TestParsePeers(t *testing.T) {
	got, err := parsePeers([]string{"10.1.2.3/8", "::1/128"})
	if err != nil || len(got) != 2 || got[0].String() != "10.0.0.0/8" {
		t.Errorf("parsePeers = %v, %v", got, err)
	}
	if _, err := parsePeers([]string{"10.0.0.1"}); err == nil {
		t.Error("an address without a prefix length was accepted")
	}
}
