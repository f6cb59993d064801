# wirewatch: see README.md. Everyday targets:
#   make run    the daemon with config/wirewatch.yaml (a local PostgreSQL is started if none is configured)
#   make demo   the daemon on the sample feeds in demo/, offline
#   make test   every test, against a real PostgreSQL, race detector on

GO       ?= go
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
CONFIG   ?= config/wirewatch.yaml
PGDIR    := .wirewatch/pg
DEVDB    := bin/devdb
WIREWATCH := bin/wirewatch
# Feed files for `make corpus-check`; skipped with a message when absent.
CORPUS   ?= ../shared/corpus/wild ../shared/corpus/news
# Extra arguments for `make matches`, e.g. make matches ARGS='--since 24h --format json'
ARGS     ?=

.PHONY: all build test vet run demo demo-matches matches psql db-stop farm-check soak-check stop-check corpus-check \
	instances-check faults-check scale-check bench bench-smoke bench-match bench-stories screenshot clean

all: build

build: $(WIREWATCH) $(DEVDB)

# Always rebuilt: go's own cache makes that cheap and keeps the binary current.
# Static, as deploy/Dockerfile builds it: no libc to load (3 MB less resident
# memory) and the same binary the benchmarks measure.
.PHONY: $(WIREWATCH) $(DEVDB)
$(WIREWATCH):
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/wirewatch
$(DEVDB):
	$(GO) build -o $@ ./cmd/devdb

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# Every test, including those against PostgreSQL: DATABASE_URL when set,
# else a throwaway cluster made with the machine's PostgreSQL server binaries.
# Then the benchmark harness at tiny sizes, so that it keeps working.
test: vet $(DEVDB)
	$(DEVDB) with -- $(GO) test -race -count=1 ./...
	@$(MAKE) --no-print-directory bench-smoke

run: build
	$(DEVDB) exec -dir $(PGDIR) -db wirewatch -config $(CONFIG) -- $(WIREWATCH) run --migrate --config $(CONFIG)

# The demo uses its own database in the same local cluster, so its sample
# items never mix with real ones.
demo: build
	@echo "== wirewatch demo: sample feeds from demo/feeds, database wirewatch_demo in $(PGDIR)"
	$(DEVDB) exec -dir $(PGDIR) -db wirewatch_demo -- sh -c '\
		$(WIREWATCH) poll --migrate --config demo/wirewatch.yaml && \
		{ $(WIREWATCH) reference list --config demo/wirewatch.yaml --format json | grep -q . || \
		  $(WIREWATCH) reference add --config demo/wirewatch.yaml demo/reference.md; } && \
		$(WIREWATCH) matches --config demo/wirewatch.yaml --limit 0 --sort relevance && \
		echo && echo "== the daemon runs on (Ctrl-C stops it); review page: http://127.0.0.1:8089/ ; or: make demo-matches" && \
		exec $(WIREWATCH) run --config demo/wirewatch.yaml'

demo-matches: build
	@$(DEVDB) exec -dir $(PGDIR) -db wirewatch_demo -- $(WIREWATCH) matches --config demo/wirewatch.yaml $(ARGS)

matches: build
	@$(DEVDB) exec -dir $(PGDIR) -db wirewatch -config $(CONFIG) -- $(WIREWATCH) matches --config $(CONFIG) $(ARGS)

# psql on the local cluster (DB=wirewatch_demo for the demo's database).
DB ?= wirewatch
psql: $(DEVDB)
	@$(DEVDB) exec -dir $(PGDIR) -db $(DB) -- sh -c 'exec psql "$$DATABASE_URL"'

db-stop: $(DEVDB)
	$(DEVDB) stop -dir $(PGDIR)

# End-to-end check against a generated feed farm (needs ../shared/bench/feedfarm
# or FEEDFARM=path; skipped with a message without it).
farm-check: build
	bench/farm-check.sh

# wirewatch run for SOAK_MINUTES (default 30) on 1,000 rotating feeds with faults and a database outage: flat, nothing lost.
soak-check:
	SOAK_MINUTES=$(or $(SOAK_MINUTES),30) bench/soak-check.sh

# SIGTERM to wirewatch run with 64 polls in flight: exits in time, nothing half-written, a poll then stores the rest once.
stop-check:
	bench/stop-check.sh

# Fetch and parse every file of the feed corpus (CORPUS) on loopback and count the outcomes.
corpus-check:
	$(GO) run ./bench/corpuscheck $(CORPUS)

# Every benchmark beside its baseline from the same run (bench/harness, see
# BENCHMARKS.md): a generated feed farm on loopback, cold ingest, steady
# state, memory of the daemon, matching, storing and story clustering, on a
# throwaway PostgreSQL. About 6 minutes on 2 cores; prints the table and
# rewrites the "Latest make bench" section of BENCHMARKS.md. BENCH_FULL=1
# adds story clustering with 1,000,000 items stored (one run, about 4
# minutes more).
bench: build
	$(DEVDB) with -- $(GO) run ./bench/harness -wirewatch $(WIREWATCH) -write BENCHMARKS.md -command 'make bench'

# The same harness at tiny sizes, one run of each, in under a minute; it
# checks that the table comes out whole and writes nothing. Part of make test.
bench-smoke: build
	$(DEVDB) with -- $(GO) run ./bench/harness -smoke -wirewatch $(WIREWATCH) -command 'make bench-smoke'

# Three `wirewatch run` share 1,000 feeds through one database; one is killed mid-round (about 8 minutes).
instances-check: build
	bench/instances-check.sh

# One `wirewatch run` on a farm with every kind of fault: outcome by kind, peak RSS (about 6 minutes).
faults-check: build
	bench/faults-check.sh

# One `wirewatch run` on 10,000 feeds every 2 minutes: poll lag, CPU, peak RSS (about 9 minutes).
scale-check: build
	bench/scale-check.sh

# Matching throughput by number of terms, beside Go's regexp (see BENCHMARKS.md).
bench-match:
	$(GO) test -run XXX -bench . -benchtime 2s -count 6 -cpu 1 ./classify

# Time to store a poll's new items with 10k, 100k and 1M items stored; takes
# about a quarter of an hour, most of it generating the million rows, three
# times.
bench-stories: $(DEVDB)
	$(DEVDB) with -- $(GO) test -run XXX -bench StoreNewItems -benchtime 100x -count 3 -timeout 90m ./storage

# The README's picture of the review page (docs/review-page.png): the browser
# test polls the demo's sample feeds and takes a full-page screenshot in
# headless Chromium.
screenshot: $(DEVDB)
	@mkdir -p docs
	$(DEVDB) with -- env WIREWATCH_SCREENSHOT=$(CURDIR)/docs/review-page.png \
		$(GO) test -count=1 -run 'TestBrowser/demo' -v ./cmd/wirewatch/review

clean:
	rm -rf bin
