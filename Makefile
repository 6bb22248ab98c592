# The One Visitor — build, run and test.
#
#   make run     run the system on its embedded defaults (development Hub + cloud on SQLite)
#   make test    vet and test everything (starts a throwaway PostgreSQL; Xvfb for the kiosk)
#   make deps    install the Debian packages the build and tests need (apt-get, as root)
#   make build   build the four binaries into bin/
#   make bench   measure the figures of DESIGN.md §9 ("name value unit" lines)

SHELL := /bin/bash
GO    ?= go
BIN   := bin

# Debian packages: Fyne's cgo toolchain and headers, Xvfb for display
# tests, Chromium for browser tests, PostgreSQL for the store suite, CUPS's
# lp client for the badge printer driver.
DEB_PACKAGES := gcc pkg-config libgl1-mesa-dev xorg-dev libwayland-dev libxkbcommon-dev \
	xvfb xauth chromium postgresql cups-client

# Packages whose concurrency the race detector checks (DESIGN: edge, cloud,
# syncproto, pairing).
RACE_PKGS := ./syncproto/... ./pairing/... ./edge/... ./cloud/...

.PHONY: all deps build run test test-go test-race test-fuzz vet fmt clean bench bench-kiosk

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "deps: missing Debian packages:$$(echo $$missing | sed 's/^/ /')"; \
		echo "deps: run: sudo apt-get update && sudo apt-get install -y $$missing"; exit 1; \
	fi; \
	echo "deps: installing $$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cloud/cmd/visitor-cloud ./cloud/cmd/visitor-devhub ./edge/cmd/visitor-edge ./kiosk-ui/cmd/visitor-kiosk

# run starts the development Hub and the cloud on their defaults (no cgo
# needed) and stops both on Ctrl-C.
run:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cloud/cmd/visitor-cloud ./cloud/cmd/visitor-devhub
	./scripts/run-dev

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# test runs vet, every test (against a throwaway PostgreSQL server, under
# Xvfb when there is no display), then the race detector on the concurrent
# packages.
test: vet
	./scripts/with-postgres ./scripts/with-display $(MAKE) --no-print-directory test-go test-race test-fuzz

test-go:
	$(GO) test -count=1 ./...

test-race:
	$(GO) test -count=1 -race $(RACE_PKGS)

# test-fuzz runs each parser's fuzzer briefly beyond its committed corpus
# (go test alone replays the corpus). FUZZTIME=5m for a longer hunt.
FUZZTIME ?= 8s
test-fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeFrame$$' -fuzztime $(FUZZTIME) ./syncproto
	$(GO) test -run '^$$' -fuzz '^FuzzStreamReader$$' -fuzztime $(FUZZTIME) ./syncproto
	$(GO) test -run '^$$' -fuzz '^FuzzNormalizeUserCode$$' -fuzztime $(FUZZTIME) ./pairing
	$(GO) test -run '^$$' -fuzz '^FuzzParseTemplate$$' -fuzztime $(FUZZTIME) ./edge/badge
	$(GO) test -run '^$$' -fuzz '^FuzzVerifySignature$$' -fuzztime $(FUZZTIME) ./cloud/integration

# bench prints one "name value unit" line per figure of DESIGN.md §9, with
# the machine's raw ceilings measured in the same run. It takes a few
# minutes (the search corpus alone is a million visits); progress goes to
# stderr. BENCH_FLAGS=-quick runs small sizes.
bench:
	./scripts/with-postgres $(GO) run ./perf/cmd/visitor-bench $(BENCH_FLAGS)
	@$(MAKE) --no-print-directory bench-kiosk

# bench-kiosk measures the kiosk app's path from tapping Confirm to the
# visit committed and its badge rendered and queued (a Go benchmark beside
# the Fyne app, headless), printed as a "name value unit" line.
bench-kiosk:
	@$(GO) test -run '^$$' -bench '^BenchmarkKioskCheckinToBadge$$' -benchtime 200x ./kiosk-ui/cmd/visitor-kiosk | \
		awk '{for (i = 2; i <= NF; i++) if ($$i == "p99_ms") { print "kiosk_checkin_to_badge_p99_ms", $$(i-1), "ms"; found = 1 }} END { exit !found }'

clean:
	rm -rf $(BIN)

# package builds the Debian packages visitor-cloud and visitor-kiosk into
# $(DIST)/ with nfpm (pinned in tools/go.mod); packaging/build does the
# work. PKG_VERSION overrides the version made from git describe,
# PKG_BUILDFLAGS the go build flags (default -trimpath).
DIST ?= dist
PKG_BUILDFLAGS ?= -trimpath
.PHONY: package
package:
	GO="$(GO)" DIST="$(DIST)" PKG_VERSION="$(PKG_VERSION)" PKG_BUILDFLAGS="$(PKG_BUILDFLAGS)" ./packaging/build

# demo runs the whole system with a seeded demo organisation (docs/demo.md):
# the development Hub, the cloud on SQLite under ./var/demo and one kiosk:
# the Fyne app when there is a display and it builds, otherwise the
# headless kiosk engine. DEMO_FLAGS passes flags to visitor-demo (for
# example --pair-manually); Ctrl-C stops everything. demo-reset removes the
# demo's data (only ./var/demo) so that the next demo starts over.
.PHONY: demo demo-reset
demo:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cloud/cmd/visitor-cloud ./cloud/cmd/visitor-devhub ./edge/cmd/visitor-edge
	$(GO) build -o $(BIN)/visitor-demo ./demo
	@kiosk=headless; \
	if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		echo "demo: building the kiosk app (cgo; the first build takes a few minutes)"; \
		if $(GO) build -o $(BIN)/ ./kiosk-ui/cmd/visitor-kiosk; then kiosk=app; \
		else echo "demo: the kiosk app did not build (see above); using the headless kiosk engine"; fi; \
	fi; \
	exec ./$(BIN)/visitor-demo --kiosk $$kiosk $(DEMO_FLAGS)

demo-reset:
	./scripts/demo-reset
