# Copyright (c) 2026 The aemp developers. ISC licence: see LICENSE.
# aemp: plain GNU make. Outputs go under $(B) (build/, or build/asan with SANITIZE=1).
# The rules below that come before all: (PREFIX_OBJ) must not be the default.
.DEFAULT_GOAL := all
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := libevent jansson sqlite3 openssl libsodium
DEBS    := build-essential pkg-config libevent-dev libjansson-dev libsqlite3-dev check groff-base valgrind clang \
	   libssl-dev libsodium-dev openssl chromium

ifeq ($(SANITIZE),1)
B       := build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B       := build
SANFLAGS :=
endif

OPT     ?= -O2 -g
CFLAGS  ?= $(OPT)
ALLCFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC $(SANFLAGS) \
	   -Icommon -Iprofiles $(shell pkg-config --cflags $(PKGS)) $(CFLAGS) \
	   -DAEMP_PREFIX='"$(PREFIX)"'
LIBS    := $(shell pkg-config --libs $(PKGS)) -lm
CHECKLIBS = $(shell pkg-config --libs check)
LDFLAGS += $(SANFLAGS)

LIB_SRC  := $(wildcard common/*.c profiles/*.c)
CLI_SRC  := $(wildcard cli/*.c)
D_SRC    := $(wildcard daemon/*.c)
EX_SRC   := $(wildcard examples/*.c)
TEST_SRC := $(wildcard tests/check_*.c)
TESTLIB_SRC := $(wildcard tests/util/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/obj/%.o)
D_OBJ    := $(D_SRC:%.c=$(B)/obj/%.o)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(B)/obj/%.o)
EXAMPLES := $(EX_SRC:examples/%.c=$(B)/examples/%)
TESTS    := $(TEST_SRC:tests/%.c=$(B)/tests/%)
MAN      := $(wildcard man/*.[1358])
# The pages as installed: @PREFIX@ replaced.
MAN_OUT  := $(MAN:man/%=$(B)/man/%)
VERSION  := $(shell sed -n 's/^\#define AEMP_VERSION "\(.*\)"/\1/p' common/aemp.h)

# libaemp.so.SOMAJOR is the SONAME: bump it when the ABI changes
# incompatibly; the minor part grows with new functions.
SOMAJOR  := 0
SOREAL   := libaemp.so.$(SOMAJOR).1.0

# AEMP_PREFIX is compiled in: the stamp changes when PREFIX does, and
# what uses AEMP_PREFIX (or is made for PREFIX) depends on it.
PREFIX_STAMP := $(B)/.prefix
$(shell mkdir -p $(B) && { [ "$$(cat $(PREFIX_STAMP) 2>/dev/null)" = '$(PREFIX)' ] || \
  printf '%s\n' '$(PREFIX)' > $(PREFIX_STAMP); })
PREFIX_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(shell grep -l AEMP_PREFIX $(LIB_SRC) $(CLI_SRC) $(D_SRC)))
$(PREFIX_OBJ): $(PREFIX_STAMP)

# Service modules: examples/modules/Pkg/Sub.c is module Pkg::Sub, built as
# $(B)/lib/aemp/Pkg/Sub.so (AEMP_MODULE_PATH for the tests).
MOD_SRC  := $(wildcard examples/modules/*.c examples/modules/*/*.c)
MODULES  := $(MOD_SRC:examples/modules/%.c=$(B)/lib/aemp/%.so)

all: $(B)/lib/libaemp.a $(B)/lib/libaemp.so $(B)/bin/aemp $(B)/bin/aempd $(EXAMPLES) \
	$(MODULES) $(B)/aemp.pc $(MAN_OUT)

# Header dependencies come from the compiler (-MMD -MP: the .d files).
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -c -o $@ $<
-include $(wildcard $(B)/obj/*/*.d $(B)/obj/*/*/*.d)

# The library exports what aemp.h marks AEMP_API, nothing else.
$(LIB_OBJ): ALLCFLAGS += -fvisibility=hidden
# Only the tests (and the chaos harness) use the test helpers.
$(B)/obj/tests/%.o: ALLCFLAGS += -Itests/util
# check_symbols compiles programs against libaemp.so as a user would.
$(B)/obj/tests/check_symbols.o: ALLCFLAGS += -DTEST_CC='"$(CC) $(SANFLAGS)"' \
	-DTEST_LIBS='"$(shell pkg-config --libs libevent jansson)"' \
	-DTEST_CFLAGS='"$(shell pkg-config --cflags libevent jansson)"' \
	-DTEST_SRCDIR='"$(CURDIR)"'
# check_layers reads common/ (the layering rules of common/internal.h).
$(B)/obj/tests/check_layers.o: ALLCFLAGS += -DTEST_SRCDIR='"$(CURDIR)"'

$(B)/lib/libaemp.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/lib/$(SOREAL): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libaemp.so.$(SOMAJOR) -o $@ $^ $(LDFLAGS) $(LIBS)

$(B)/lib/libaemp.so.$(SOMAJOR): $(B)/lib/$(SOREAL)
	ln -sf $(SOREAL) $@

$(B)/lib/libaemp.so: $(B)/lib/libaemp.so.$(SOMAJOR)
	ln -sf libaemp.so.$(SOMAJOR) $@

$(B)/aemp.pc: aemp.pc.in common/aemp.h $(PREFIX_STAMP)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(B)/man/%: man/% $(PREFIX_STAMP)
	@mkdir -p $(dir $@)
	sed 's|@PREFIX@|$(PREFIX)|g' $< > $@

$(B)/bin/aemp: $(CLI_OBJ) $(B)/lib/libaemp.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(CLI_OBJ) $(B)/lib/libaemp.a $(LDFLAGS) $(LIBS)

# Modules call libaemp inside aempd: all of it is linked in and exported.
$(B)/bin/aempd: $(D_OBJ) $(B)/lib/libaemp.a
	@mkdir -p $(dir $@)
	$(CC) -rdynamic -o $@ $(D_OBJ) -Wl,--whole-archive $(B)/lib/libaemp.a \
	  -Wl,--no-whole-archive $(LDFLAGS) $(LIBS) -ldl

# The status page (daemon/status.html) is compiled into aempd as a string.
$(B)/gen/status_html.h: daemon/status.html
	@mkdir -p $(dir $@)
	{ echo 'static const char status_html[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@
$(B)/obj/daemon/http.o: $(B)/gen/status_html.h
$(B)/obj/daemon/http.o: ALLCFLAGS += -I$(B)/gen

# Not linked against libaemp: a second copy of it would be a second kernel.
$(B)/lib/aemp/%.so: examples/modules/%.c common/aemp.h
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -shared -o $@ $< $(LDFLAGS)

$(B)/examples/%: $(B)/obj/examples/%.o $(B)/lib/libaemp.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(B)/lib/libaemp.a $(LDFLAGS) $(LIBS)

$(B)/tests/%: $(B)/obj/tests/%.o $(TESTLIB_OBJ) $(B)/lib/libaemp.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(TESTLIB_OBJ) $(B)/lib/libaemp.a $(LDFLAGS) $(CHECKLIBS) $(LIBS)

# Every Check program runs even when an earlier one fails; the exit status
# says whether all passed. Tests find binaries through AEMP_BUILD.
check: all $(TESTS)
	@fail=0; for t in $(TESTS); do \
	  echo "== $$t"; \
	  AEMP_BUILD=$(CURDIR)/$(B) CK_DEFAULT_TIMEOUT=60 ./$$t || fail=1; \
	done; \
	if command -v groff >/dev/null; then for m in $(MAN); do \
	  w=$$(groff -man -ww -z $$m 2>&1); \
	  if [ -n "$$w" ]; then echo "groff warnings in $$m:"; echo "$$w"; fail=1; fi; \
	done; fi; \
	exit $$fail

# libFuzzer targets (clang). FUZZTIME seconds each.
FUZZTIME ?= 60
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
build/fuzz/%: tests/fuzz/%.c tests/util/testcert.h $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	  -Icommon -Iprofiles $(shell pkg-config --cflags $(PKGS)) -DAEMP_PREFIX='"$(PREFIX)"' \
	  -o $@ $< $(LIB_SRC) $(LIBS)
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	  n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	  echo "== $$n ($(FUZZTIME)s)"; \
	  $$f -max_total_time=$(FUZZTIME) -max_len=8192 build/fuzz/corpus-$$n \
	    tests/corpus/$$n > build/fuzz/$$n.log 2>&1; st=$$?; \
	  tail -2 build/fuzz/$$n.log; \
	  if [ $$st != 0 ]; then grep -A20 ERROR build/fuzz/$$n.log; exit 1; fi; \
	done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/aemp \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man3 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 755 $(B)/bin/aemp $(B)/bin/aempd $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(B)/lib/libaemp.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(B)/lib/$(SOREAL) $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(SOREAL) $(DESTDIR)$(PREFIX)/lib/libaemp.so.$(SOMAJOR)
	ln -sf libaemp.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libaemp.so
	install -m 644 common/aemp.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(B)/aemp.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	for m in $(MAN_OUT); do s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done
	for m in $(MODULES); do r=$${m#$(B)/lib/aemp/}; \
	  install -d $(DESTDIR)$(PREFIX)/lib/aemp/$$(dirname $$r); \
	  install -m 755 $$m $(DESTDIR)$(PREFIX)/lib/aemp/$$r; done
	for u in $(wildcard systemd/*.service.in); do \
	  sed 's|@PREFIX@|$(PREFIX)|g' $$u > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$u .in); done

# What install installed (empty directories of ours go too).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/aemp $(DESTDIR)$(PREFIX)/bin/aempd \
	  $(DESTDIR)$(PREFIX)/lib/libaemp.a $(DESTDIR)$(PREFIX)/lib/libaemp.so* \
	  $(DESTDIR)$(PREFIX)/include/aemp.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/aemp.pc
	for m in $(MAN); do s=$${m##*.}; rm -f $(DESTDIR)$(PREFIX)/share/man/man$$s/$${m#man/}; done
	for m in $(MODULES); do rm -f $(DESTDIR)$(PREFIX)/lib/aemp/$${m#$(B)/lib/aemp/}; done
	for u in $(wildcard systemd/*.service.in); do \
	  rm -f $(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$u .in); done
	-find $(DESTDIR)$(PREFIX)/lib/aemp -depth -type d -empty -delete 2>/dev/null

# The Debian packages, built, linted, installed with dpkg -i and run
# (tests/package/check-package.sh; as root; about 1 minute on 2 shared cores,
# bounded by PKG_TIMEOUT). Not part of check: it installs packages on this
# machine (the README's test command runs it after check).
PKG_DEBS := dpkg-dev debhelper lintian fakeroot
PKG_TIMEOUT := 600
check-package:
	@m=; for t in dpkg-buildpackage dh lintian fakeroot; do \
	  command -v $$t >/dev/null || m=1; done; \
	if [ -n "$$m" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(PKG_DEBS) || \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(PKG_DEBS); }; fi
	timeout $(PKG_TIMEOUT) sh tests/package/check-package.sh $(B)

deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBS) || \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBS); }; \
	else echo "install these packages: $(DEBS)"; fi

clean:
	rm -rf build

.PHONY: all check fuzz install uninstall check-package deps clean
.SECONDARY:

# Benchmarks (not part of check): optimised build under build/bench, then
# bench/run.sh runs each one at least three times (see README, Performance).
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
$(B)/bench/%: bench/%.c bench/bench.h tests/util/testcert.h $(B)/lib/libaemp.a
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $< $(B)/lib/libaemp.a $(LDFLAGS) $(LIBS)
# tput's "scraped" mode runs aempd's status endpoint on its receiver.
$(B)/bench/tput: bench/tput.c bench/bench.h $(B)/lib/libaemp.a \
	  $(B)/obj/daemon/http.o $(B)/obj/daemon/metrics.o
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Idaemon -o $@ $< $(B)/obj/daemon/http.o \
	  $(B)/obj/daemon/metrics.o $(B)/lib/libaemp.a $(LDFLAGS) $(LIBS)
bench-build: $(BENCH_BIN) $(B)/bin/aempd
bench:
	$(MAKE) B=build/bench OPT='-O2 -g' SANITIZE= bench-build
	sh bench/run.sh build/bench

.PHONY: bench bench-build

# Chaos test (not part of check): a seed aempd and chaos nodes killed,
# restarted and stopped at random; see tests/chaos/chaos.c. chaos runs
# CHAOS_TIME seconds of chaos (about 70 s in all), chaos-ci 20 s (about
# 30 s); both exit non-zero when an invariant fails. Logs stay in
# $(B)/chaos and $(B)/chaos-ci.
CHAOS_TIME ?= 60
CHAOS_ARGS ?=
CHAOS_BIN := $(B)/tests/chaos/chaos $(B)/tests/chaos/chaos_node
$(B)/tests/chaos/chaos: $(B)/obj/tests/chaos/chaos.o $(TESTLIB_OBJ) $(B)/lib/libaemp.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(TESTLIB_OBJ) $(B)/lib/libaemp.a $(LDFLAGS) $(CHECKLIBS) $(LIBS)
$(B)/tests/chaos/chaos_node: $(B)/obj/tests/chaos/chaos_node.o $(TESTLIB_OBJ) $(B)/lib/libaemp.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $< $(TESTLIB_OBJ) $(B)/lib/libaemp.a $(LDFLAGS) $(CHECKLIBS) $(LIBS)
chaos-build: $(CHAOS_BIN) $(B)/bin/aempd
chaos: chaos-build
	AEMP_BUILD=$(CURDIR)/$(B) ./$(B)/tests/chaos/chaos --duration $(CHAOS_TIME) \
	  --logs $(B)/chaos $(CHAOS_ARGS)
chaos-ci: chaos-build
	AEMP_BUILD=$(CURDIR)/$(B) ./$(B)/tests/chaos/chaos --duration 20 \
	  --logs $(B)/chaos-ci $(CHAOS_ARGS)

.PHONY: chaos chaos-ci chaos-build
