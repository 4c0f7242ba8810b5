# Lanyard: the two commands of the README live here.
#   make run    build the UI and the desktop app, then open it
#   make test   everything a clean machine can check: format, lints, UI types, unit and
#               integration tests under a real Secret Service, the e2e suite under Xvfb, and
#               the Debian package installed, started from its desktop entry and removed
#   make package  the Debian package, in target/package/
# Both start with `make setup`, which installs only what is missing.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
NPM ?= npm
TARGET_DIR := $(abspath $(or $(CARGO_TARGET_DIR),target))
APP_BINARY := $(TARGET_DIR)/debug/lanyard-desktop
# Root installs directly; anyone else needs sudo for the system packages.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian 12 packages for building WebKitGTK/Tauri apps, running them headless, the
# Secret Service, and the e2e tools (measured to suffice for `make test`).
DEBIAN_PACKAGES := build-essential pkg-config curl file libwebkit2gtk-4.1-dev libxdo-dev \
	libssl-dev libayatana-appindicator3-dev librsvg2-dev xvfb xauth webkit2gtk-driver \
	dbus-x11 gnome-keyring libsecret-tools keyutils xdotool xclip imagemagick \
	fonts-wqy-microhei lintian appstream desktop-file-utils man-db x11-utils
# Windows: the MinGW-w64 C compiler that -sys crates need for x86_64-pc-windows-gnu, and Wine 8
# to run the Windows lanyard.exe in the CLI's tests (scripts/windows/; 23 s to install here).
WINDOWS_DEBIAN_PACKAGES := gcc-mingw-w64-x86-64 wine64 zip
WINDOWS_TARGET := x86_64-pc-windows-gnu

# One cargo invocation builds every workspace target, the app binary included, so the unit
# tests, the lints' build scripts and the e2e suite all reuse the same artifacts instead of
# rebuilding shared crates with a different feature set.
# Lints ride along with the build: clippy's driver compiles the workspace's own crates (what
# `cargo clippy` does, here with code generation), so one pass over the crates gives both the
# lint verdict, warnings as errors, and the binaries the tests run, instead of a check pass and
# a build pass. Every cargo run that reuses these artifacts sets the same two variables (they are
# part of what cargo compares); installs (tauri-driver, cargo-deb) must not, so they are not
# exported.
CLIPPY_DRIVER := $(shell rustc --print sysroot 2>/dev/null)/bin/clippy-driver
LINTED := RUSTC_WORKSPACE_WRAPPER="$(CLIPPY_DRIVER)" CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
CARGO_BUILD := $(LINTED) $(CARGO) build --workspace --all-targets

# -a: a free display number (a fixed :99 was already taken on a shared machine once).
# -noreset: by default Xvfb resets when its last client leaves, and an app starting during
# the reset fails with "Failed to initialize GTK"; e2e launches the app many times in a row.
XVFB_RUN := xvfb-run -a -s "-screen 0 1280x1024x24 -noreset"
# Every cargo test run's output, so `make test` can close with one total line.
TEST_LOG := $(TARGET_DIR)/test-results.log
# A hung WebDriver session must not eat CI's whole time budget.
E2E_TIMEOUT := 15m
# The Windows build and its Wine tests run beside the e2e suite in `make test`; at the lowest
# priority they take only the CPU the window under test leaves idle.
BACKGROUND := nice -n 19

# The Debian package: cargo-deb at a pinned version, from the release binaries.
CARGO_DEB_VERSION := 3.8.0
RELEASE_DIR := $(TARGET_DIR)/release
PACKAGE_DIR := $(TARGET_DIR)/package
PACKAGE_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
DEB := $(PACKAGE_DIR)/lanyard_$(PACKAGE_VERSION)-1_amd64.deb

UI_SOURCES := $(shell find ui/src -type f 2>/dev/null) ui/index.html ui/vite.config.ts \
	ui/svelte.config.js ui/tsconfig.json ui/package.json

.PHONY: help setup system-packages tauri-driver cargo-deb run test demo bench ui ui-check fmt-check \
	clippy build unit-tests e2e e2e-build icons package package-test ipc-types

help:
	@echo "make run    build and open the desktop app"
	@echo "make test   format, lints, UI type check, unit/integration tests, e2e suite"
	@echo "make package  build the Debian package (target/package/)"
	@echo "make package-windows  a portable Windows zip (target/package/)"
	@echo "make demo   open the app with demo accounts on the simulated services"
	@echo "make setup  install what is missing (Debian packages, npm packages, tauri-driver)"

## ---- setup ------------------------------------------------------------------------------

setup: system-packages ui/node_modules/.package-lock.json tauri-driver windows-target

system-packages:
	@missing=""; \
	for package in $(DEBIAN_PACKAGES) $(WINDOWS_DEBIAN_PACKAGES); do \
		dpkg -s "$$package" >/dev/null 2>&1 || missing="$$missing $$package"; \
	done; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		echo "setup: installing$$missing"; \
		$(SUDO) apt-get update; \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	fi

# npm writes this file on every install: it is newer than the lockfile exactly when
# node_modules matches it.
ui/node_modules/.package-lock.json: ui/package-lock.json ui/package.json
	cd ui && $(NPM) ci --no-audit --no-fund
	@touch $@

windows-target:
	@rustup target list --installed | grep -qx '$(WINDOWS_TARGET)' || rustup target add '$(WINDOWS_TARGET)'

tauri-driver:
	@command -v tauri-driver >/dev/null || $(CARGO) install tauri-driver --locked --version '^2'

cargo-deb:
	@[ "$$(cargo-deb --version 2>/dev/null)" = "cargo-deb $(CARGO_DEB_VERSION)" ] || \
		$(CARGO) install cargo-deb --locked --version '=$(CARGO_DEB_VERSION)'

## ---- build and run ----------------------------------------------------------------------

ui: ui/dist/index.html

ui/dist/index.html: ui/node_modules/.package-lock.json $(UI_SOURCES)
	cd ui && $(NPM) run build

build: ui
	$(CARGO_BUILD)

# On a desktop the app joins the user's session bus and keyring; on a headless machine (no
# session bus, e.g. under `xvfb-run -a make run`) it gets a private bus with an unlocked
# gnome-keyring, as the tests do.
run: setup build
	@if [ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
		echo "make run: no display; on a headless machine try: xvfb-run -a make run" >&2; exit 1; \
	fi
	@if [ -n "$${DBUS_SESSION_BUS_ADDRESS:-}" ]; then \
		exec "$(APP_BINARY)"; \
	else \
		exec scripts/with-secret-service.sh "$(APP_BINARY)"; \
	fi

## ---- test -------------------------------------------------------------------------------

# The e2e suite spends most of its time waiting on the app's window, so the Windows cross-build
# and its Wine tests run beside it (-j2; each job's output is printed whole when it ends). The
# package test comes after both: it relinks the app binary the e2e suite runs.
test: setup fmt-check ui-check clippy build unit-tests
	$(MAKE) --no-print-directory -j2 --output-sync=target e2e windows-test
	$(MAKE) --no-print-directory package-test
	@awk '/^test result:/ { passed += $$4; failed += $$6 } \
		END { printf "tests: %d passed, %d failed\n", passed, failed }' $(TEST_LOG)
	@echo "make test: all checks passed"

fmt-check:
	$(CARGO) fmt --all --check
	cd e2e && $(CARGO) fmt --check

ui-check: ui/node_modules/.package-lock.json
	cd ui && $(NPM) run check

# The app crate embeds ui/dist at compile time, so the lints need the UI built too.
# The workspace is linted by `build` (see LINTED); e2e/ is a workspace of its own.
clippy: build
	cd e2e && $(CARGO) clippy --all-targets -- -D warnings

# Keyring integration tests need a Secret Service; the script provides an unlocked one.
unit-tests: build
	@mkdir -p $(dir $(TEST_LOG)) && : > $(TEST_LOG)
	$(LINTED) scripts/with-secret-service.sh $(CARGO) test --workspace 2>&1 | tee -a $(TEST_LOG)

e2e-build:
	cd e2e && $(CARGO) test --no-run

# One app at a time: the app is single-instance per D-Bus session.
e2e: build e2e-build tauri-driver
	cd e2e && LANYARD_APP_BINARY="$(APP_BINARY)" timeout --signal=TERM $(E2E_TIMEOUT) \
		$(XVFB_RUN) ../scripts/with-secret-service.sh $(CARGO) test -- --test-threads=1 2>&1 | tee -a $(TEST_LOG)
	@echo "e2e artifacts (screenshots, driver logs): $(CURDIR)/target/e2e-artifacts"

## ---- Windows ----------------------------------------------------------------------------
# Built on this machine for x86_64-pc-windows-gnu with MinGW-w64; docs/windows.md says what is
# verified under Wine, what is only compiled and what is untested.
.PHONY: windows-target windows-build windows-test package-windows
WINDOWS_DEBUG_DIR := $(TARGET_DIR)/$(WINDOWS_TARGET)/debug
WINDOWS_RELEASE_DIR := $(TARGET_DIR)/$(WINDOWS_TARGET)/release
WINDOWS_ZIP := $(PACKAGE_DIR)/lanyard-$(PACKAGE_VERSION)-windows-x86_64.zip
WINDOWS_BINS := -p lanyard-cli -p lanyard-sim -p lanyard-desktop --bins

# The three binaries for Windows, linted as they are built (LINTED), warnings as errors. Test code is not linted
# for Windows: it runs on Linux and drives the Windows binaries (windows-test). A debug build,
# one cargo invocation, so the CLI the tests run is the one built here.
windows-build: ui windows-target
	$(LINTED) $(BACKGROUND) $(CARGO) build --target $(WINDOWS_TARGET) $(WINDOWS_BINS)

# The CLI's integration tests against the Windows lanyard.exe under Wine (after unit-tests,
# whose test binary it reuses).
windows-test: windows-build
	@mkdir -p $(dir $(TEST_LOG))
	$(LINTED) LANYARD_CLI_EXE="$(WINDOWS_DEBUG_DIR)/lanyard.exe" $(BACKGROUND) scripts/windows/test-cli-under-wine.sh 2>&1 \
		| tee -a $(TEST_LOG)

# A portable zip: the app, the WebView2Loader.dll it loads, lanyard.exe and a README.txt.
package-windows: setup ui
	$(CARGO) build --release --target $(WINDOWS_TARGET) -p lanyard-desktop -p lanyard-cli \
		--features lanyard-desktop/custom-protocol
	scripts/windows/package-zip.sh "$(WINDOWS_RELEASE_DIR)" "$(WINDOWS_ZIP)"

## ---- package --------------------------------------------------------------------------

# The .deb from the binaries in $(1) (a profile's dir) and what package-assets.sh generates beside
# them, written to $(2); cargo-deb strips the binaries. $(3): extra cargo-deb options.
define make-deb
	scripts/package-assets.sh "$(1)" "$(1)/package"
	mkdir -p "$(dir $(2))" && rm -f "$(2)"
	$(CARGO) deb -p lanyard-desktop --no-build --profile $(if $(filter $(RELEASE_DIR),$(1)),release,dev) \
		$(3) --output "$(2)"
endef

# The release app serves its embedded UI as a bundled build does (custom-protocol); the CLI and
# its man-page generator are built in the same invocation so shared crates compile once.
package: setup ui cargo-deb
	$(CARGO) build --release -p lanyard-desktop -p lanyard-cli --bins --example manpages \
		--features lanyard-desktop/custom-protocol
	rm -rf "$(PACKAGE_DIR)"
	$(call make-deb,$(RELEASE_DIR),$(DEB))
	@echo "package: $(DEB)"

# What `make test` installs, starts and removes (scripts/package-test.sh): the same package built
# from the debug binaries of `build`, with the app's custom-protocol feature added, which
# recompiles only tauri, its plugins and the app (about a minute). The optimised release build
# that `make package` ships takes 8 to 9 minutes on 2 cores, a third of CI's time; the files, their
# places, the desktop entry and the maintainer scripts are the same. (cargo-deb warns that it
# is meant for release profiles; its pinned version takes a dev profile.)
CHECK_DEB := $(TARGET_DIR)/debug/package-check/$(notdir $(DEB))
package-test: build cargo-deb
	$(CARGO_BUILD) --features lanyard-desktop/custom-protocol
	$(call make-deb,$(TARGET_DIR)/debug,$(CHECK_DEB),--fast)
	scripts/package-test.sh "$(CHECK_DEB)"

## ---- later issues -----------------------------------------------------------------------

# The app on a fresh demo data dir (target/demo-data) with accounts on all five simulators,
# logged in through the CLI; the simulators stop when the app quits. Headless: xvfb-run -a make demo
demo: setup build
	scripts/demo.sh

# Performance figures (bench/README.md): release builds of what is measured, then the harness
# (bench/, a workspace member) under an X display and a private session bus with an unlocked
# gnome-keyring. BENCH_ONLY="cli sim desktop keepalive" picks sections, and only what they
# measure is built (the examples in their own invocations: their dev-dependencies must not
# change the binaries' feature set). The desktop section's floor, the minimal Tauri app in
# bench/minimal-app, is built with the app in one invocation: it adds no tauri feature, so both
# link the same compiled tauri and the app's release build stays as it is.
BENCH_SECTIONS := $(or $(BENCH_ONLY),cli sim desktop keepalive)
# In a variable: a comma written inside $(if ...) would end its "then" part.
BENCH_DESKTOP_FEATURES := lanyard-desktop/custom-protocol,minimal-tauri-app/custom-protocol
bench: system-packages $(if $(filter desktop,$(BENCH_SECTIONS)),ui)
	$(if $(filter desktop,$(BENCH_SECTIONS)),$(CARGO) build --release -p lanyard-desktop \
		-p minimal-tauri-app --features $(BENCH_DESKTOP_FEATURES))
	$(CARGO) build --release -p lanyard-cli -p lanyard-sim -p lanyard-bench --bins
	$(if $(filter sim,$(BENCH_SECTIONS)),$(CARGO) build --release -p lanyard-sim --example login_load)
	$(if $(filter keepalive,$(BENCH_SECTIONS)),$(CARGO) build --release -p lanyard-core \
		--example keepalive_idle --example keepalive_round)
	BENCH_ONLY="$(BENCH_SECTIONS)" $(XVFB_RUN) scripts/with-secret-service.sh $(RELEASE_DIR)/lanyard-bench

# Rewrites what the window's side of the IPC contract is generated into from the Rust types:
# ui/src/lib/ipc/types.ts and the browser mock's ui/dev/services.json. The unit test
# ipc_types::tests::checked_in_ipc_types_are_current (part of `make test`) fails while they are stale.
ipc-types:
	LANYARD_WRITE_IPC_TYPES=1 $(CARGO) test -p lanyard-desktop --lib ipc_types::

## ---- maintenance ------------------------------------------------------------------------

# Re-renders icons/*.png, .ico and .icns from icons/lanyard.svg (needs librsvg2-bin).
icons:
	scripts/make-icons.sh
	touch src-tauri/build.rs
