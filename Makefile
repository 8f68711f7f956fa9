# certsentry - build, test, bench, install, demo.
# `make` builds build/certsentry (BPF object embedded via a bpftool skeleton).

BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

# SAN=1 builds everything with ASan+UBSan (the test suite does this in build/san).
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Iuser -I$(BUILD)
ifeq ($(SAN),1)
CC       := clang
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
endif
LDLIBS   += -lbpf -lelf -lz -lssl -lcrypto -lpcap -lmicrohttpd -lsqlite3 -lcurl -lseccomp -ljson-c
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude -I$(BUILD)

DEB_PKGS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libssl-dev \
	    libpcap-dev libcmocka-dev libjson-c-dev libmicrohttpd-dev libcurl4-openssl-dev libclang-rt-14-dev python3 pkg-config openssl iproute2 tcpdump jq \
	    procps psmisc ethtool tshark libsqlite3-dev sqlite3 curl clang-format libseccomp-dev

# The real peers the live tests and the demo run against.
DEMO_PKGS := nginx-light
TEST_PKGS := nginx-light gnutls-bin libnss3-tools chromium golang-go rsyslog rsyslog-kafka \
	     rsyslog-elasticsearch prometheus systemd man-db logrotate

USER_SRCS := $(filter-out user/certsentry.c,$(wildcard user/*.c))
USER_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/test_*.c)
BPFT_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(BPFT_SRCS))
TOOL_SRCS := $(wildcard tools/*.c tools/bench/*.c)
TOOL_BINS := $(patsubst %.c,$(BUILD)/%,$(TOOL_SRCS))

.PHONY: format format-check all deps test test-unit test-san test-bpf test-e2e bench demo install uninstall clean fuzz
.DELETE_ON_ERROR:

all: $(BUILD)/certsentry $(UNIT_BINS) $(BPFT_BINS) $(TOOL_BINS) $(BUILD)/certsentry.8

# Installs whatever Debian packages are missing (a fresh Debian 12, as root).
# A policy-rc.d that answers 101 keeps packages with services (nginx, rsyslog,
# prometheus) from starting them: the tests start their own, in namespaces.
deps:
	@missing=$$(for p in $(DEB_PKGS) $(EXTRA_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "deps: need root to apt-get install $$missing" >&2; exit 1; fi; \
		rc=/usr/sbin/policy-rc.d; own=; \
		if [ ! -e $$rc ]; then printf '#!/bin/sh\nexit 101\n' > $$rc && chmod 755 $$rc && own=1; fi; \
		(apt-get install -y -q $$missing >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing)); \
		st=$$?; [ -n "$$own" ] && rm -f $$rc; \
		[ $$st = 0 ] || { echo "deps: apt-get install failed" >&2; exit 1; }; \
	fi

$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/certsentry.bpf.o: bpf/certsentry.bpf.c $(wildcard include/*.h) $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/certsentry.skel.h: $(BUILD)/certsentry.bpf.o
	$(BPFTOOL) gen skeleton $< name certsentry_bpf > $@

# The uprobe source (local TLS servers) is a second object with its own skeleton.
$(BUILD)/uprobe.bpf.o: bpf/uprobe.bpf.c include/cs_uprobe.h $(BUILD)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/uprobe.skel.h: $(BUILD)/uprobe.bpf.o
	$(BPFTOOL) gen skeleton $< name uprobe_bpf > $@

$(BUILD)/user/%.o: user/%.c $(wildcard user/*.h user/*.def include/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# Only the live source embeds the BPF object.
$(BUILD)/user/capture.o: $(BUILD)/certsentry.skel.h
$(BUILD)/user/uprobe.o: $(BUILD)/uprobe.skel.h

# Tests and tools link the stages from an archive: each pulls in only the
# stages it uses.
$(BUILD)/libcs.a: $(USER_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/certsentry: $(BUILD)/user/certsentry.o $(BUILD)/libcs.a
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libcs.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(BUILD)/libcs.a $(LDFLAGS) $(LDLIBS) -lcmocka -ljson-c -o $@

$(BUILD)/tests/%: tests/bpf/%.c $(wildcard tests/bpf/*.h) $(BUILD)/libcs.a $(BUILD)/certsentry.skel.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(BUILD)/libcs.a $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tools/%: tools/%.c $(wildcard tools/*.h tests/bpf/*.h) $(BUILD)/libcs.a $(BUILD)/certsentry.skel.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(BUILD)/libcs.a $(LDFLAGS) $(LDLIBS) -lpthread -o $@

# The whole suite: unit tests, the same under ASan+UBSan, BPF_PROG_TEST_RUN
# tests, then live end-to-end tests in network namespaces.
test:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="$(TEST_PKGS)"
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory BUILD=build/san SAN=1 all
	@tests/run.sh

bench: deps all
	tools/bench/run.sh

demo:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="$(DEMO_PKGS)"
	@$(MAKE) --no-print-directory all
	tools/demo.sh

# ---- install (issue 12) -------------------------------------------------------
# The config and logrotate snippet go to /etc whatever PREFIX is (the daemon
# reads /etc/certsentry/certsentry.conf); systemd, sysusers and bash-completion
# also search /usr/local. An existing config is kept, and uninstall removes it
# only if it is still the one shipped.
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

# The options, findings and events sections come from the binary: they cannot drift.
$(BUILD)/certsentry.8: dist/certsentry.8.in tools/mkman.sh $(BUILD)/certsentry
	tools/mkman.sh $(BUILD)/certsentry $< $@

# Not `deps` nor the tests: a DESTDIR install (packaging) needs neither root nor cmocka.
install: $(BUILD)/certsentry $(BUILD)/certsentry.8
	install -D -m 0755 $(BUILD)/certsentry $(DESTDIR)$(SBINDIR)/certsentry
	install -D -m 0644 $(BUILD)/certsentry.8 $(DESTDIR)$(MANDIR)/man8/certsentry.8
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/certsentry.service.in > $(DESTDIR)$(UNITDIR)/certsentry.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/certsentry.service
	install -D -m 0644 dist/certsentry.sysusers $(DESTDIR)$(SYSUSERSDIR)/certsentry.conf
	install -D -m 0644 dist/certsentry.bash-completion $(DESTDIR)$(BASHCOMPDIR)/certsentry
	install -D -m 0644 dist/certsentry.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/certsentry
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/certsentry/certsentry.conf ]; then \
		echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/certsentry/certsentry.conf"; \
	else \
		install -D -m 0644 dist/certsentry.conf $(DESTDIR)$(SYSCONFDIR)/certsentry/certsentry.conf; \
	fi
	@[ -n "$(DESTDIR)" ] || echo "install: next: systemd-sysusers; systemctl daemon-reload;" \
		"systemctl enable --now certsentry"

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/certsentry $(DESTDIR)$(MANDIR)/man8/certsentry.8 \
	      $(DESTDIR)$(UNITDIR)/certsentry.service $(DESTDIR)$(SYSUSERSDIR)/certsentry.conf \
	      $(DESTDIR)$(BASHCOMPDIR)/certsentry $(DESTDIR)$(SYSCONFDIR)/logrotate.d/certsentry
	@if cmp -s dist/certsentry.conf $(DESTDIR)$(SYSCONFDIR)/certsentry/certsentry.conf; then \
		rm -f $(DESTDIR)$(SYSCONFDIR)/certsentry/certsentry.conf; \
		rmdir $(DESTDIR)$(SYSCONFDIR)/certsentry 2>/dev/null || true; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/certsentry/certsentry.conf ]; then \
		echo "uninstall: keeping the changed $(DESTDIR)$(SYSCONFDIR)/certsentry/certsentry.conf"; \
	fi

# The C sources in the tree's one style (.clang-format: the kernel's, 100 columns).
FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRCS)

# Fails naming each file clang-format would change (run by make test).
format-check:
	@bad=$$(for f in $(FORMAT_SRCS); do clang-format --dry-run -Werror "$$f" >/dev/null 2>&1 || echo "$$f"; done); \
	if [ -n "$$bad" ]; then echo "format-check: not in .clang-format's style (make format):" $$bad; exit 1; fi

clean:
	rm -rf build

# ---- fuzzing (issue 6) ------------------------------------------------------
# libFuzzer harnesses (tests/fuzz/fuzz_*.c) over the parser stages, built with
# ASan+UBSan into build/fuzz. `make fuzz FUZZ_SECONDS=N` runs each for N
# seconds (seeds in build/fuzz/seeds, corpora kept in build/fuzz/corpus);
# `make test` runs a short smoke of each through tests/fuzz/run.sh.
FUZZ_BUILD   := build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_CC      := clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -g -O1 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Iuser \
		$(FUZZ_SAN) -DCS_FUZZ
FUZZ_SRCS    := $(filter-out user/certsentry.c user/capture.c user/uprobe.c,$(wildcard user/*.c))
FUZZ_OBJS    := $(patsubst user/%.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_SRCS))
FUZZ_HARN    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_HARN))

.PHONY: fuzz fuzz-build

$(FUZZ_BUILD)/obj/%.o: user/%.c $(wildcard user/*.h user/*.def include/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libcs-fuzz.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_BUILD)/libcs-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_BUILD)/libcs-fuzz.a \
		$(LDLIBS) -ljson-c -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh long
