package squidtest

import (
	"strings"
	"testing"
)

// Sizes come before cache_dir, where Squid reads them; the defaults stay
// as they were.
func TestConfigSizes(t *testing.T) {
	index := func(conf, prefix string) int {
		for i, line := range strings.Split(conf, "\n") {
			if strings.HasPrefix(line, prefix) {
				return i
			}
		}
		t.Fatalf("no %q line in:\n%s", prefix, conf)
		return -1
	}
	def := config("/d", 3128, 1, Options{})
	for _, want := range []string{"cache_mem 16 MB\n", "maximum_object_size_in_memory 4 MB\n", "maximum_object_size 64 MB\n", "cache_dir ufs /d/cache 64 4 16\n"} {
		if !strings.Contains(def, want) {
			t.Errorf("default config lacks %q", want)
		}
	}
	conf := config("/d", 3128, 2, Options{CacheMem: "1280 MB", MaxObjectSize: "2048 MB", MaxObjectSizeInMemory: "1025 MB",
		CacheDirMiB: 1280, CacheDirOptions: "slot-size=32768", Extra: []string{"maximum_object_size 1 MB"}})
	if !strings.Contains(conf, "cache_dir rock /d/cache 1280 slot-size=32768\n") || !strings.Contains(conf, "cache_mem 1280 MB\n") {
		t.Errorf("sized config:\n%s", conf)
	}
	if dir := index(conf, "cache_dir "); index(conf, "maximum_object_size 2048 MB") > dir || index(conf, "maximum_object_size_in_memory 1025 MB") > dir {
		t.Errorf("object sizes come after cache_dir:\n%s", conf)
	}
}

// BlobPolicy is the snippet without its helpers, and Squid takes it.
func TestBlobPolicy(t *testing.T) {
	lines := BlobPolicy(t)
	all := strings.Join(lines, "\n")
	for _, unwanted := range []string{"store_id_", "icap_", "adaptation_", "blob_unverified", "quay.io"} {
		if strings.Contains(all, unwanted) {
			t.Errorf("BlobPolicy has %q:\n%s", unwanted, all)
		}
	}
	for _, want := range []string{"collapsed_forwarding on", "range_offset_limit none blob_paths", "cache allow blob_paths", `cdn[0-9]*\.quay\.test$`} {
		if !strings.Contains(all, want) {
			t.Errorf("BlobPolicy lacks %q:\n%s", want, all)
		}
	}
	Start(t, Options{Extra: lines, MaxObjectSize: "1024 MB", CacheDirMiB: 128})
}
