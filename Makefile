# mcdood: reproduce Yu & Aizawa (ICCV 2019) MCD out-of-distribution results.
#
#   make reproduce   build, get the data, run experiments.toml, print the tables
#   make test        vet and test both builds (OpenBLAS and pure Go), check the docs
#   make docs        regenerate the result tables in README.md and docs/
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
# The binary carries the commit it was built from (mcdood version, every
# record): version-control stamping on, overriding a GOFLAGS=-buildvcs=false,
# wherever git can read this checkout (a source tarball builds without it).
VCS     := $(shell git status --porcelain >/dev/null 2>&1 && echo -buildvcs=auto || echo -buildvcs=false)

.PHONY: all build test test-short bench reproduce clean smoke-baseline cross cwarnings fuzz docs docs-check cluster-test

all: build

build:
	$(GO) build $(VCS) -tags '$(TAGS)' -o $(BIN) ./cmd/mcdood

# The README's test command; .ci/run calls it. CI=1 makes tests that need the
# data mirror fail (not skip) when it is missing. After the unit tests it runs
# the smoke profile on the data mirror on every path this machine takes
# (native kernels, the AVX2 kernels with OpenBLAS's Haswell kernels, the
# pure-Go build) and judges each run against the distribution in
# results/smoke-baseline.json (scripts/smoke.sh).
TEST_DATA ?= $(or $(MCDOOD_TEST_DATA),../shared/data)
GONUM_BIN := bin/mcdood-gonum
# Seeds of the smoke baseline (make smoke-baseline).
SMOKE_SEEDS ?= 1,2,3,4

test: build
	@$(MAKE) --no-print-directory docs-check
	$(GO) build $(VCS) -o $(GONUM_BIN) ./cmd/mcdood
	$(GO) vet -tags '$(TAGS)' ./...
	$(GO) test -tags '$(TAGS)' -timeout 30m ./...
	@case ' $(TAGS) ' in *' dnnl '*) echo "== oneDNN and the kernels capped at AVX2 (and the PyTorch golden logits there) =="; \
	  MCDOOD_KERNELS=avx2 $(GO) test -tags '$(TAGS)' -count=1 -run 'TestDNNLConvMatchesGEMM|TestTorchGolden' ./nets/;; esac
	@echo "== pure-Go BLAS build =="
	$(GO) test -timeout 20m -short ./nets/...
	@$(MAKE) --no-print-directory cwarnings cross fuzz
	@if [ -d "$(TEST_DATA)" ]; then scripts/smoke.sh check $(BIN) $(GONUM_BIN) $(TEST_DATA); \
	elif [ -n "$$CI" ]; then echo "data mirror missing at $(TEST_DATA)"; exit 1; \
	else echo "data mirror missing at $(TEST_DATA): smoke check skipped"; fi
	@if command -v slurmctld >/dev/null && [ -d "$(TEST_DATA)" ]; then $(MAKE) --no-print-directory cluster-test; \
	elif [ -n "$$CI" ]; then echo "cluster-test: SLURM (slurm-wlm, munge) or the data mirror missing"; exit 1; \
	else echo "no SLURM (apt-get install slurm-wlm munge jq) or no data mirror: cluster test skipped"; fi

# A real single-node SLURM on this machine (scripts/slurm/cluster-test.sh,
# about a minute): a small plan run by an array of three workers sharing one
# output folder, the task running the MCD cell requeued mid-cell, each cell
# computed once by the claim logs, and records, scores and tables equal to a
# local run's. Needs slurm-wlm, munge and jq (.ci/run installs them).
cluster-test: build
	scripts/slurm/cluster-test.sh $(BIN) $(TEST_DATA)

# The result tables in README.md and docs/ are `mcdood table` over the records
# committed under docs/records/, spliced between markers that name the command
# (scripts/docs.sh). make docs rewrites them; make docs-check (run by make
# test) fails when one differs from what is committed, and runs
# "mcdood COMMAND -h" for every command the docs' code blocks name.
docs: build
	scripts/docs.sh generate $(BIN)

docs-check: build
	scripts/docs.sh check $(BIN)

# The C files with every warning an error, on the host compiler: cgo builds
# them without -Werror, and the aarch64 check below runs only where that
# compiler is installed (a warning at the generic level once passed locally
# and failed CI). conv_dnnl.c is checked where oneDNN's headers are.
C_KERNELS := nets/kernels_v1.c nets/kernels_v3.c nets/kernels_v4.c nets/kernels_dispatch.c
cwarnings:
	@echo "== C warnings (host $(CC)) =="
	$(CC) -O3 -Wall -Werror -fsyntax-only $(C_KERNELS)
	@if [ -f /usr/include/dnnl.h ]; then $(CC) -O3 -Wall -Werror -fopenmp -fsyntax-only nets/conv_dnnl.c && echo "conv_dnnl.c: no warnings"; \
	else echo "no oneDNN headers: conv_dnnl.c not checked"; fi

# arm64: the pure-Go build cross-compiles and vets; the C kernels (their x86
# parts guarded) pass an aarch64 compiler's syntax check where Debian's
# gcc-aarch64-linux-gnu is installed (.ci/run installs it).
cross:
	@echo "== arm64 cross-build =="
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/mcdood
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) vet ./...
	@if command -v aarch64-linux-gnu-gcc >/dev/null; then \
	  aarch64-linux-gnu-gcc -O3 -Wall -Werror -fsyntax-only nets/kernels_v1.c nets/kernels_v3.c nets/kernels_v4.c nets/kernels_dispatch.c && \
	  echo "C kernels: aarch64-linux-gnu-gcc syntax check passed"; \
	else echo "C kernels: no aarch64-linux-gnu-gcc, arm64 syntax check skipped"; fi

# Every parser of a user's file (plans, weights, score files, records,
# image archives and folders, CIFAR records) fuzzed for FUZZTIME each
# beyond its seed corpus, which the unit tests already run. A crasher is
# written under the package's testdata/fuzz/ and fails the run: commit it
# with the fix, as a regression test.
FUZZTIME ?= 4s
FUZZ := experiments:FuzzParse torchfile:FuzzParse cmd/mcdood:FuzzReadScores \
	results:FuzzDecodeScores results:FuzzFileName results:FuzzDecodeRecord results:FuzzNPY results:FuzzNPZ results:FuzzScoresCSV \
	loaders:FuzzImageArchive loaders:FuzzCIFARArchive loaders:FuzzCIFARRecords loaders:FuzzDecodeImage loaders:FuzzReadJPEGInfo
fuzz:
	@echo "== fuzzing the file parsers, $(FUZZTIME) each =="
	@log=$$(mktemp); for t in $(FUZZ); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) ./$$pkg/ >$$log 2>&1 \
	  && echo "$$pkg $$fn: ok" || { cat $$log; rm -f $$log; echo "$$pkg $$fn: FAILED"; exit 1; }; done; rm -f $$log

test-short:
	$(GO) test -tags '$(TAGS)' -short ./...

bench: build
	$(GO) test -tags '$(TAGS)' -run '^$$' -bench . -benchmem ./...

reproduce: build
	$(BIN) data fetch --data $(DATA) $(if $(MIRROR),--mirror $(MIRROR)) --missing-ok cifar10 tinyimagenet isun
	$(BIN) reproduce -c $(CONFIG) --data $(DATA) --out $(OUT)

# Rewrite the smoke baseline after an intended change (commit the result,
# and say why in the commit): the smoke profile over SMOKE_SEEDS on the native
# and AVX2 kernel paths, as one distribution per cell.
smoke-baseline: build
	scripts/smoke.sh write $(BIN) $(TEST_DATA) $(SMOKE_SEEDS)

clean:
	rm -rf bin
