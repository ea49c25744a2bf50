# stepkit — Tekton's in-pod helper binaries in Rust.
CARGO   ?= cargo
TARGET  ?= x86_64-unknown-linux-gnu
RELEASE := target/$(TARGET)/release
BINS    := entrypoint git-init workingdir-init creds-init nop

.PHONY: all build test lint fmt demo images e2e bench clean

all: build

## build: static release binaries in target/$(TARGET)/release
build:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --target $(TARGET) $(addprefix --bin ,$(BINS))

## lint: formatting and clippy, warnings are errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## test: everything CI runs (lint, unit and integration tests)
test: lint
	$(CARGO) test --workspace

clean:
	$(CARGO) clean
