# The two commands of the README: `make demo` and `make test`.
GO      ?= go
FUZZTIME ?= 8s
PKGS    := ./...

.PHONY: demo test setup lint unit fuzz fuzz-long soak bench build screenshots

# make demo SERVER=ejabberd puts ejabberd behind the proxy instead of Prosody.
SERVER  ?= prosody

demo: setup
	$(GO) run ./cmd/xmpp-oauth-proxy-demo -server $(SERVER)

test: setup lint unit fuzz

setup:
	@bash scripts/setup-debian.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 10m $(PKGS)

# A short run of every fuzz target; the corpus lives in each package's testdata/fuzz.
fuzz:
	@bash scripts/fuzz-check.sh
	@bash scripts/fuzz-all.sh $(FUZZTIME)

# Every fuzz target for FUZZTIME_LONG each (15 targets: 10m each is 2.5 hours).
# A finding stops the run and is left in the package's testdata/fuzz/<target>:
# commit it with the fix, and `go test` replays it for ever (docs/fuzzing.md).
FUZZTIME_LONG ?= 10m
fuzz-long:
	@bash scripts/fuzz-check.sh
	@bash scripts/fuzz-all.sh $(FUZZTIME_LONG)

# The long soak (docs/reliability.md): SOAK_SESSIONS sessions with stream management
# through a proxy in a child process, while the IdP restarts twice, Prosody once, the
# certificates reload and SIGTERM drains; its figures plotted into docs/soak.png. A short
# one (150 sessions, 20 s) runs in `make unit` as TestSoak. SOAK_SESSIONS=10000 for the big one.
SOAK_SESSIONS ?= 2000
SOAK_DURATION ?= 10m
SOAK_INTERVAL ?= 2s
soak:
	SOAK_SESSIONS=$(SOAK_SESSIONS) SOAK_DURATION=$(SOAK_DURATION) SOAK_INTERVAL=$(SOAK_INTERVAL) SOAK_PLOT=$(CURDIR)/docs/soak.png \
		$(GO) test -count=1 -v -timeout 90m -run '^TestSoak$$' ./internal/app

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 20m $(PKGS)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/xmpp-oauth-proxy ./cmd/xmpp-oauth-proxy

# The self-service page's screenshots in docs/ (a headless Chromium signs in at Glewlwyd).
screenshots:
	PORTAL_SCREENSHOTS=docs $(GO) test -count=1 -run TestPortalInBrowser ./portal
	CONVERSE_SCREENSHOT=$(CURDIR)/docs/websocket-converse.png $(GO) test -count=1 -run TestConverseInBrowser ./internal/app
