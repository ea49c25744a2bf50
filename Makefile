# stepkit — Tekton's in-pod helper binaries in Rust.
CARGO   ?= cargo
TARGET  ?= x86_64-unknown-linux-gnu
RELEASE := target/$(TARGET)/release
BINS    := entrypoint git-init workingdir-init creds-init nop imagedigestexporter sidecarlogresults
# Static, and not position-independent: no start-up relocation pass over .data.rel.ro, whose
# relocated pages would be anonymous memory: 0.5 MiB more per git-init clone as static-pie
# (0.9 vs 0.4 MiB anonymous peak on a 1k-file clone, bench/git/ab.py). Upstream's Go binaries
# are static non-PIE too.
STATIC_RUSTFLAGS := -C target-feature=+crt-static -C relocation-model=static

.PHONY: all build test lint fmt demo images e2e cluster-e2e conformance bench clean fuzz fuzz-smoke fuzz-tool

all: build

## build: static release binaries in target/$(TARGET)/release
build:
	RUSTFLAGS="$(STATIC_RUSTFLAGS)" $(CARGO) build --release --target $(TARGET) \
		$(addprefix --bin ,$(BINS))

## lint: formatting and clippy, warnings are errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## test: everything CI runs (lint, unit and integration tests)
test: lint
	$(CARGO) test --workspace
	python3 -m unittest discover -s bench -p 'test_*.py'

## demo: the seed story (git-init clone from a local git daemon, credentials for a non-root
## step) as a 3-step TaskRun-shaped pod, run locally in a temporary /tekton tree
demo: build
	./scripts/demo.sh $(RELEASE)

## images: OCI archives under target/images (buildah, no daemon, no registry)
IMAGES_FLAGS ?= --check-reproducible
images: build
	./scripts/images.sh $(IMAGES_FLAGS) $(RELEASE)

## e2e: Tekton-shaped pods under podman (installs and configures podman itself)
e2e: images
	./scripts/e2e.sh

## cluster-e2e: real Kubernetes + Tekton's controller, stepkit's images vs upstream's (root;
## Go builds cached in ~/.cache/stepkit-cluster; see docs/cluster-e2e.md)
cluster-e2e: build
	./tests/cluster/run.sh

## conformance: Tekton v1.15.0's own e2e suite (test/, examples/v1) on that cluster, stepkit's
## images vs upstream's; writes docs/conformance.md (root; CONFORMANCE_ARGS=--ci: the CI subset)
conformance: build
	./tests/cluster/conformance/run.sh $(CONFORMANCE_ARGS)

## bench: stepkit side by side with upstream Tekton (BENCH_ARGS=--quick for a short run)
bench: build
	./scripts/bench.sh $(RELEASE) $(BENCH_ARGS)

## fuzz: every fuzz target for FUZZ_SECONDS each, one at a time (docs/fuzzing.md);
## new inputs accumulate in fuzz/corpus/<target> (not committed), crashes in fuzz/artifacts
FUZZ_SECONDS       ?= 3600
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_TARGETS       ?= $(basename $(notdir $(wildcard fuzz/fuzz_targets/*.rs)))
CARGO_FUZZ_VERSION := 0.13.2
# Stable Rust: no sanitizer (that needs nightly's -Zsanitizer); coverage instrumentation,
# debug assertions and overflow checks are on. Scratch files go under fuzz/target/tmp-<make target>.
FUZZ := $(CURDIR)/fuzz
FUZZ_RUN = TMPDIR=$(FUZZ)/target/tmp-$@ nice -n 19 $(CARGO) fuzz run --fuzz-dir $(FUZZ) \
	--sanitizer none --release --debug-assertions
FUZZ_FLAGS := -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

fuzz-tool:
	@$(CARGO) fuzz --version 2>/dev/null | grep -q ' $(CARGO_FUZZ_VERSION)$$' || \
		$(CARGO) install cargo-fuzz --locked --version $(CARGO_FUZZ_VERSION)

fuzz: fuzz-tool
	mkdir -p fuzz/target/tmp-$@
	set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t fuzz/regressions/$$t; \
		$(FUZZ_RUN) $$t $(FUZZ)/corpus/$$t $(FUZZ)/seeds/$$t $(FUZZ)/regressions/$$t -- \
			$(FUZZ_FLAGS) \
			-max_total_time=$(FUZZ_SECONDS); \
	done
	rm -rf fuzz/target/tmp-$@

## fuzz-smoke: every seed and regression input once, then FUZZ_SMOKE_SECONDS per target (CI)
fuzz-smoke: fuzz-tool
	rm -rf fuzz/target/tmp-$@ fuzz/target/smoke && mkdir -p fuzz/target/tmp-$@
	set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/target/smoke/$$t fuzz/regressions/$$t; \
		$(FUZZ_RUN) $$t $(FUZZ)/seeds/$$t $(FUZZ)/regressions/$$t -- $(FUZZ_FLAGS) -runs=0; \
		$(FUZZ_RUN) $$t $(FUZZ)/target/smoke/$$t $(FUZZ)/seeds/$$t -- $(FUZZ_FLAGS) \
			-max_total_time=$(FUZZ_SMOKE_SECONDS); \
	done
	rm -rf fuzz/target/tmp-$@ fuzz/target/smoke

clean:
	$(CARGO) clean
