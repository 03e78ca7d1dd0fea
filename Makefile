# squid-cache-exporter
#   make run    build, start a throwaway Squid on loopback, and export it on :9301 (WEB_ADDRESS=host:port)
#   make test   install what the tests need, vet, and run every test (real Squid, real promtool)
#   make test-squid-matrix   the end-to-end tests again on Squid 6 and 7, with and without SMP workers
#   make test-k8s   the Helm chart on a real Kubernetes (hack/test-k8s.sh)
#   make bench-cache   how the cache holds up, in one run on a real Squid: origin fetches and time to last byte
#                      of 1/10/50 clients pulling one cold blob, cached-blob throughput against a bare Go file
#                      server, ranges (about 10 minutes; BENCH_CACHE_SMALL=1 for small blobs; docs/performance.md)
#   make bench-sizing   blob hit ratio by cache_dir size, and Squid's memory: the README's "Sizing the cache" figures
#   make screenshot   docs/status-page.png, the status page as headless Chromium renders it in its test

GO        ?= go
BIN       := squid-cache-exporter
PKG       := github.com/prometheus/common/version
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Revision=$(REVISION) \
             -X $(PKG).Branch=$(BRANCH) -X $(PKG).BuildUser=$(shell id -un)@$(shell hostname) \
             -X $(PKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)
# Debian packages the end-to-end tests run for real; chromium renders the status page.
TEST_PACKAGES := squid-openssl squidclient prometheus skopeo curl ca-certificates chromium
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STATICCHECK_VERSION := 0.8.2
HELM_VERSION := 3.16.3
GOBIN     := $(shell $(GO) env GOPATH)/bin

.PHONY: all build run test test-deps vet lint fmt-check bench fuzz clean images test-k8s test-squid-matrix

all: build

# Static (no libc): as the images ship them, and 1.7 MiB less resident.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/squid-cache-exporter
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o squid-store-id-helper ./cmd/squid-store-id-helper
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o squid-icap-service ./cmd/squid-icap-service
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o squid-cache-secrets ./cmd/squid-cache-secrets
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o squid-cache-healthcheck ./cmd/squid-cache-healthcheck

# Where make run's exporter serves. Empty: 127.0.0.1:9301, or a free port
# when that is in use; an address given here must be free.
WEB_ADDRESS ?=

# A Squid in front of an emulated quay.io, the private-blob helpers, the
# exporter and its prober; prints what to open (hack/demo). First checks
# what it needs (hack/demo/prereqs.sh; INSTALL=1 installs what is missing).
# On a terminal the demo runs as a job of its own (bash -m), so that Ctrl-C
# reaches it, which stops everything and exits 0, and not make.
run:
	@go=$$(GO="$(GO)" INSTALL="$(INSTALL)" hack/demo/prereqs.sh) && \
	echo "Building the exporter and the demo..." && \
	CGO_ENABLED=0 "$$go" build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/squid-cache-exporter && \
	"$$go" build -o _output/demo ./hack/demo && \
	set -- _output/demo -exporter ./$(BIN) -web.listen-address="$(WEB_ADDRESS)" && \
	export PATH="$${go%/go}:$$PATH" && \
	if [ -t 0 ]; then exec bash -mc '"$$@"; exit' demo "$$@"; else exec "$$@"; fi

# Each package is listed as it finishes; the summary at the end lists
# every skipped test with its reason (hack/testsummary).
test: test-deps vet lint fmt-check
	@echo "== go test ./... (about 5 minutes on 2 cores)"
	@bash -o pipefail -c '$(GO) test -count=1 -timeout 15m -json ./... | $(GO) run ./hack/testsummary'

# docs/status-page.png: the status page in headless Chromium, as its test
# renders it (a passing and a failing probe target).
.PHONY: screenshot
screenshot: test-deps
	STATUS_PAGE_SCREENSHOT=$(CURDIR)/docs/status-page.png $(GO) test -count=1 -run '^TestStatusPageInBrowser$$' ./cmd/squid-cache-exporter

# The end-to-end tests on Squid 6.13 (Debian trixie) and 7.7 (sid), run
# from Debian roots that hack/squid-root.sh makes once (about 2.5 minutes)
# and keeps under SQUID_ROOTS; then as one process and with workers 2.
# Needs root. make test covers the host's Squid 5.7.
test-squid-matrix: test-deps
	@command -v debootstrap >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
	$(SUDO) env "PATH=$$PATH" GO=$(GO) ./hack/test-squid-matrix.sh

# Installs the test dependencies. apt does not start the packaged Squid
# here; the tests use free ports, so a system Squid on 3128 does no harm.
test-deps:
	@echo "== test dependencies: Debian packages, staticcheck, helm"
	@missing=""; for p in $(TEST_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@squid -v | head -1; promtool --version 2>&1 | head -1
	@[ -x $(GOBIN)/staticcheck ] && $(GOBIN)/staticcheck -version | grep -q $(STATICCHECK_VERSION) || \
	  $(GO) install honnef.co/go/tools/cmd/staticcheck@v$(STATICCHECK_VERSION)
	@# helm for the chart's tests (./charts): the one on PATH, the cluster tool's, or this one.
	@command -v helm >/dev/null || [ -x /var/cache/sce-k8s/helm-v$(HELM_VERSION)/helm ] || \
	  [ -x $(GOBIN)/helm ] || $(GO) install -ldflags "-X helm.sh/helm/v3/internal/version.version=v$(HELM_VERSION) \
	    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=31" \
	    helm.sh/helm/v3/cmd/helm@v$(HELM_VERSION)

vet:
	@echo "== go vet"
	$(GO) vet ./...

lint:
	@echo "== staticcheck"
	$(GOBIN)/staticcheck ./...

fmt-check:
	@echo "== gofmt"
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The cache's own benchmarks run in bench-cache and bench-sizing: minutes each.
bench:
	$(GO) test -run '^$$' -bench . -skip '^Benchmark(Stampede|CachedBlob|Range|Sizing)' -benchmem ./...

# The figures behind the README's "Sizing the cache" (e2e/sizing_bench_test.go),
# on a real Squid: about 4 minutes on 2 cores; docs/performance.md has a run.
.PHONY: bench-sizing
bench-sizing: test-deps
	$(GO) test -run '^$$' -bench '^BenchmarkSizing' -benchtime 1x -timeout 30m ./e2e/

# The cache benchmarks of e2e/cache_bench_test.go, each run once: they
# fail when a stampede fetches from the origin more than once, a digest is
# wrong, or a range of a cached blob is not a hit.
.PHONY: bench-cache
bench-cache:
	$(GO) test -run '^$$' -bench 'Stampede|CachedBlob|Range' -benchtime 1x -timeout 30m ./e2e/

# What the access log costs, in one run (about 2 minutes, more while the
# machine is busy: each measurement waits for a load average below 1.2):
# allocations per line read (accesslog), then the binary's CPU per line at
# 2,000 lines/s one per write over tcp:// and into a followed file, and its
# bulk lines/s (cmd/squid-cache-exporter/costs_bench_test.go). With
# KONFLUX_EXPORTER=/path/to/squid-per-site-exporter (konflux-ci/caching,
# built outside this tree), its figures are printed beside ours. Then what
# a scrape costs Squid (its CPU, from /proc) and /metrics' wall time, at the
# chart's pace 300 times faster (3 rounds of 300 scrapes, about 5 minutes):
# with BOYNUX_EXPORTER=/path/to/squid-exporter (boynux/squid-exporter, built
# outside this tree) beside ours.
.PHONY: bench-costs
bench-costs:
	$(GO) test -run '^$$' -bench '^BenchmarkSteadyFeed$$' -benchtime 4000x ./accesslog/
	BENCH_COSTS=1 $(GO) test -run '^$$' -bench '^BenchmarkCosts$$' -benchtime 1x -timeout 60m ./cmd/squid-cache-exporter/

# Runs each fuzz target for FUZZTIME (the seed corpus already runs in make test).
FUZZTIME ?= 30s
FUZZ_PACKAGES := ./cachemgr ./accesslog ./storeid ./icap ./cdnurl ./internal/redact ./traffic
fuzz:
	@for pkg in $(FUZZ_PACKAGES); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep ^Fuzz); do \
	    $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Images of the Helm chart (buildah, from scratch; hack/images/), written to
# _output/images/*.tar.
images:
	hack/build-images.sh

# The Helm chart on a real cluster: $$KUBECONFIG's, else ../shared/k8s/cluster.
test-k8s:
	hack/test-k8s.sh

clean:
	rm -f $(BIN) squid-store-id-helper squid-icap-service squid-cache-secrets squid-cache-healthcheck
	rm -rf _output
