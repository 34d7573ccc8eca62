# nnp — see README.md. `make test` and `make demo` install what they need (as root).
CARGO   ?= cargo
PREFIX  ?= /usr
DESTDIR ?=
MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
CATALOGDIR ?= $(PREFIX)/lib/systemd/catalog
# Where libpam looks for modules: Debian multiarch by default; RPM distributions pass
# PAMDIR=/usr/lib64/security.
PAMDIR  ?= $(PREFIX)/lib/$(MULTIARCH)/security
TARGETDIR := $(or $(CARGO_TARGET_DIR),target)
REL     ?= $(TARGETDIR)/release
# nnp-shell is linked statically (static-pie) by its build.rs, however it is built; its
# shell chooser nnp-shell-helper (dynamic: it needs NSS) lives at a path compiled into
# nnp-shell (/usr/lib/nnp/nnp-shell-helper unless NNPLIBDIR says otherwise).
NNPLIBDIR ?= $(PREFIX)/lib/nnp
HELPER_ENV := $(if $(filter-out /usr/lib/nnp,$(NNPLIBDIR)),NNP_SHELL_HELPER=$(NNPLIBDIR)/nnp-shell-helper)

.PHONY: all build deps test lint unit e2e demo bench clean install install-files deb rpm fuzz fuzz-smoke

all: build

deps:
	./scripts/install-deps.sh

build:
	$(HELPER_ENV) $(CARGO) build --release --workspace --locked

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --locked

unit:
	$(CARGO) test --workspace --locked

e2e: build deb rpm
	./tests/run.sh

test: deps lint unit e2e fuzz-smoke

# Fuzzing: 10 minutes per target (grows fuzz/corpus); a 20-second run per target in make test.
fuzz:
	./scripts/fuzz.sh 600

fuzz-smoke:
	./scripts/fuzz.sh 20 smoke

demo: deps build
	./scripts/demo.sh

install: build install-files

# Install what `make build` produced, without building (used by the Debian and RPM builds).
# The config is installed only if absent, so `make install` never overwrites an admin's file.
install-files:
	install -D -m 0644 $(REL)/libpam_nnp.so $(DESTDIR)$(PAMDIR)/pam_nnp.so
	install -D -m 0755 $(REL)/nnp-shell $(DESTDIR)$(BINDIR)/nnp-shell
	install -D -m 0755 $(REL)/nnp-shell-helper $(DESTDIR)$(NNPLIBDIR)/nnp-shell-helper
	install -D -m 0755 $(REL)/nnpctl $(DESTDIR)$(SBINDIR)/nnpctl
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/security/nnp.d
	test -e $(DESTDIR)$(SYSCONFDIR)/security/nnp.toml || \
	  install -D -m 0644 packaging/nnp.toml $(DESTDIR)$(SYSCONFDIR)/security/nnp.toml
	install -D -m 0644 packaging/pam-configs/nnp $(DESTDIR)$(PREFIX)/share/pam-configs/nnp
	install -D -m 0644 packaging/man/pam_nnp.8 $(DESTDIR)$(MANDIR)/man8/pam_nnp.8
	install -D -m 0644 packaging/man/nnp-shell.8 $(DESTDIR)$(MANDIR)/man8/nnp-shell.8
	install -D -m 0644 packaging/man/nnpctl.8 $(DESTDIR)$(MANDIR)/man8/nnpctl.8
	install -D -m 0644 packaging/man/nnp.toml.5 $(DESTDIR)$(MANDIR)/man5/nnp.toml.5
	for u in nnp-guard.service nnp-guard-watch.service nnp-guard-reload.service nnp-guard-reload.path \
	         nnp-metrics.service nnp-metrics.timer; do \
	  install -D -m 0644 packaging/systemd/$$u $(DESTDIR)$(UNITDIR)/$$u; done
	install -D -m 0644 packaging/systemd/nnp.catalog $(DESTDIR)$(CATALOGDIR)/nnp.catalog
	install -D -m 0644 deploy/prometheus/nnp.rules.yml $(DESTDIR)$(PREFIX)/share/nnp/prometheus/nnp.rules.yml

deb: build
	./packaging/build-deb.sh

rpm: build
	./packaging/build-rpm.sh

clean:
	$(CARGO) clean

bench: deps build
	./scripts/bench.sh
	./scripts/bench_directory.sh
	./scripts/bench_degrade.sh
