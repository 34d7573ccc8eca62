# nnp — see README.md. `make test` and `make demo` install what they need (as root).
CARGO   ?= cargo
PREFIX  ?= /usr
DESTDIR ?=
MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)

.PHONY: all build deps test lint unit e2e demo bench clean

all: build

deps:
	./scripts/install-deps.sh

build:
	$(CARGO) build --release --workspace --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --locked

unit:
	$(CARGO) test --workspace --locked

e2e: build
	./tests/run.sh

test: deps lint unit e2e

demo: deps build
	./scripts/demo.sh

clean:
	$(CARGO) clean
