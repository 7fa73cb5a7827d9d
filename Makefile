# mcdood: reproduce Yu & Aizawa (ICCV 2019) MCD out-of-distribution results.
#
#   make reproduce   build, get the data, run experiments.toml, print the tables
#   make test        vet and test both builds (OpenBLAS and pure Go)
#
# Variables: DATA (data root, default ./data), MIRROR (a local copy of the data
# sets to copy from instead of downloading; ../shared/data when it exists),
# CONFIG (default experiments.toml), OUT (default out).

GO      ?= go
DATA    ?= data
OUT     ?= out
CONFIG  ?= experiments.toml
MIRROR  ?= $(wildcard ../shared/data)
# Build tags for the BLAS, worked out once per make run (scripts/blas.sh may
# install libopenblas-dev when root with apt; otherwise it says it uses pure Go).
TAGS     = $(eval TAGS := $$(shell scripts/blas.sh))$(TAGS)
BIN     := bin/mcdood

.PHONY: all build test test-short bench reproduce clean smoke-baseline

all: build

build:
	$(GO) build -tags '$(TAGS)' -o $(BIN) ./cmd/mcdood

# The README's test command; .ci/run calls it. CI=1 makes tests that need the
# data mirror fail (not skip) when it is missing. After the unit tests it runs
# the smoke profile on the data mirror and compares it with the committed
# baseline (results/smoke-baseline.json): a metric that got worse fails.
TEST_DATA ?= $(or $(MCDOOD_TEST_DATA),../shared/data)
SMOKE_OUT := $(shell mktemp -u -d /tmp/mcdood-smoke.XXXXXX)

test: build
	$(GO) vet -tags '$(TAGS)' ./...
	$(GO) test -tags '$(TAGS)' -timeout 30m ./...
	@echo "== pure-Go BLAS build =="
	$(GO) test -timeout 20m -short ./nets/...
	@echo "== smoke profile against results/smoke-baseline.json =="
	@if [ -d "$(TEST_DATA)" ]; then \
	  $(BIN) reproduce -c experiments/smoke.toml --data $(TEST_DATA) --out $(SMOKE_OUT) --quiet > $(SMOKE_OUT).log 2>&1 || { cat $(SMOKE_OUT).log; exit 1; }; \
	  $(BIN) compare --baseline results/smoke-baseline.json --results $(SMOKE_OUT); \
	elif [ -n "$$CI" ]; then echo "data mirror missing at $(TEST_DATA)"; exit 1; \
	else echo "data mirror missing at $(TEST_DATA): smoke check skipped"; fi

test-short:
	$(GO) test -tags '$(TAGS)' -short ./...

bench: build
	$(GO) test -tags '$(TAGS)' -run '^$$' -bench . -benchmem ./...

reproduce: build
	$(BIN) data fetch --data $(DATA) $(if $(MIRROR),--mirror $(MIRROR)) --missing-ok cifar10 tinyimagenet
	$(BIN) reproduce -c $(CONFIG) --data $(DATA) --out $(OUT)

# Rewrite the smoke baseline after an intended change (commit the result).
smoke-baseline: build
	$(BIN) reproduce -c experiments/smoke.toml --data $(TEST_DATA) --out $(SMOKE_OUT) --quiet
	$(BIN) compare --results $(SMOKE_OUT) --write-baseline results/smoke-baseline.json

clean:
	rm -rf bin
