# milter-policy: the only build system.  See README.md.
#   make          build milter/milter-policy
#   make check    install missing dependencies (Debian), build, run every test
#   make run      build and run the milter in the foreground on the example policy
#   make bench    benchmarks: the engine, the milter alone, Postfix with and
#                 without milters; PEERS=1: rspamd too (installs it)
#   make fuzz     FUZZ_SECONDS=60: every libFuzzer harness (tests/fuzz)
#   make demo     show each kind of reply through a private Postfix (after make check)
#   make install  PREFIX=/usr/local DESTDIR= (binary, man pages, init files, policy)
#   make uninstall

PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
MANDIR   ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR  ?= $(PREFIX)/lib/systemd/system
DOCDIR   ?= $(PREFIX)/share/doc/milter-policy
DESTDIR  ?=

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN      = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Werror
PKGS      = libconfig libsodium libpcre2-8 hiredis
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -pthread $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Ipolicy

POLICY_SRC = $(sort $(wildcard policy/*.c))
POLICY_OBJ = $(POLICY_SRC:.c=.o)
MILTER_SRC = $(sort $(wildcard milter/*.c))
MILTER_OBJ = $(MILTER_SRC:.c=.o)
TESTS      = $(patsubst %.c,%,$(sort $(wildcard tests/check_*.c)))

EXAMPLE   ?= examples/policy.conf
RUN_SOCKET ?= unix:$(CURDIR)/run/milter-policy.sock

.PHONY: all check check-run unit unit-asan unit-tsan fuzz fuzz-quick fuzz-run e2e deps run demo bench install uninstall clean

all: milter/milter-policy

policy/%.o: policy/%.c $(wildcard policy/*.h)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

milter/%.o: milter/%.c $(wildcard milter/*.h policy/*.h)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

policy/libpolicy.a: $(POLICY_OBJ)
	rm -f $@
	ar rcs $@ $^

milter/milter-policy: $(MILTER_OBJ) policy/libpolicy.a
	$(CC) $(ALL_CFLAGS) -o $@ $(MILTER_OBJ) policy/libpolicy.a -lmilter $(PKG_LIBS)

tests/check_%: tests/check_%.c $(wildcard tests/*.h) policy/libpolicy.a
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -o $@ $< policy/libpolicy.a $(CHECK_LIBS) $(PKG_LIBS)

BENCH      = bench/bench_engine bench/null_milter bench/milter_load

bench/bench_engine: bench/bench_engine.c policy/libpolicy.a
	$(CC) $(ALL_CFLAGS) -o $@ $< policy/libpolicy.a $(PKG_LIBS)

bench/null_milter: bench/null_milter.c
	$(CC) $(ALL_CFLAGS) -o $@ $< -lmilter

# The MTA's side of the milter protocol, for the load generator and tests.
tests/milter_client.o: tests/milter_client.c tests/milter_client.h
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Hostile input through the milter protocol (tests/e2e/test_protocol.sh).
tests/milter_hostile: tests/milter_hostile.c tests/milter_client.o
	$(CC) $(ALL_CFLAGS) -o $@ $< tests/milter_client.o

bench/milter_load: bench/milter_load.c tests/milter_client.o
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< tests/milter_client.o

# Not part of check (which only builds the tools): figures, as ratios.
PEERS ?=
bench: all $(BENCH)
	BENCH_PEERS=$(PEERS) sh bench/run.sh

# sanitized DIR,FLAGSVAR: the engine and its unit tests built apart in
# DIR with the flags in the variable FLAGSVAR, so the objects never mix
# with the normal build.  (A variable's name: the flags hold commas.)
define sanitized
$(1)/policy/%.o: policy/%.c $$(wildcard policy/*.h)
	@mkdir -p $$(@D)
	$$(CC) $$(ALL_CFLAGS) $$($(2)) -c -o $$@ $$<

$(1)/libpolicy.a: $$(patsubst policy/%.c,$(1)/policy/%.o,$$(POLICY_SRC))
	rm -f $$@
	ar rcs $$@ $$^

$(1)/check_%: tests/check_%.c $$(wildcard tests/*.h) $(1)/libpolicy.a
	$$(CC) $$(ALL_CFLAGS) $$($(2)) $$(CHECK_CFLAGS) -o $$@ $$< $(1)/libpolicy.a $$(CHECK_LIBS) $$(PKG_LIBS)
endef

# The engine's unit tests again under AddressSanitizer and UBSan.
ASAN_DIR   = build/asan
ASAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
             -fno-omit-frame-pointer
ASAN_TESTS = $(patsubst tests/%,$(ASAN_DIR)/%,$(TESTS))
$(eval $(call sanitized,$(ASAN_DIR),ASAN_FLAGS))

unit-asan: $(ASAN_TESTS)
	@set -e; for t in $(ASAN_TESTS); do echo "== $$t (ASan, UBSan)"; \
	    (cd tests && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1 ../$$t); done

# The concurrency tests under ThreadSanitizer: each TSAN_CASES entry is
# TEST:TCASE, the Check test case (CK_RUN_CASE) that holds a test with
# threads.  A race ends the test (halt_on_error).
TSAN_DIR   = build/tsan
TSAN_FLAGS = -fsanitize=thread -fno-omit-frame-pointer
TSAN_CASES = check_ratelimit:limits check_store:bounds check_match:big \
             check_store_redis:core check_store_redis:wrong-answers
TSAN_TESTS = $(sort $(foreach c,$(TSAN_CASES),$(TSAN_DIR)/$(firstword $(subst :, ,$(c)))))
$(eval $(call sanitized,$(TSAN_DIR),TSAN_FLAGS))

unit-tsan: $(TSAN_TESTS)
	@set -e; for c in $(TSAN_CASES); do t=$${c%%:*}; echo "== $$t, case $${c#*:} (TSan)"; \
	    (cd tests && CK_RUN_CASE=$${c#*:} TSAN_OPTIONS=halt_on_error=1 \
	    ../$(TSAN_DIR)/$$t); done

# libFuzzer harnesses (clang, ASan, UBSan): make fuzz FUZZ_SECONDS=N runs
# each N seconds on its seed corpus (tests/fuzz/corpus/NAME, grown in
# build/fuzz/corpus/NAME), with tests/fuzz/NAME.dict as -dict= when there
# is one; make check runs each briefly and replays tests/fuzz/regress/NAME,
# the inputs that once crashed.
FUZZ_CC      ?= clang
FUZZ_DIR      = build/fuzz
FUZZ_FLAGS    = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 60
FUZZ_QUICK   ?= 5
FUZZERS       = $(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_OBJ      = $(patsubst policy/%.c,$(FUZZ_DIR)/policy/%.o,$(POLICY_SRC))

$(FUZZ_DIR)/policy/%.o: policy/%.c $(wildcard policy/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=gnu11 -D_GNU_SOURCE -pthread $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -Ipolicy -c -o $@ $<

$(FUZZ_DIR)/libpolicy.a: $(FUZZ_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DIR)/libpolicy.a
	$(FUZZ_CC) -std=gnu11 -D_GNU_SOURCE -pthread $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -Ipolicy -Imilter -o $@ $< $(FUZZ_DIR)/libpolicy.a $(PKG_LIBS)

# fuzz_ctl compiles milter/ctl.c in, to reach its static command parser.
$(FUZZ_DIR)/fuzz_ctl: milter/ctl.c $(wildcard milter/*.h)

fuzz: $(FUZZERS)
	$(MAKE) fuzz-run FUZZ_TIME=$(FUZZ_SECONDS)

fuzz-quick: $(FUZZERS)
	$(MAKE) fuzz-run FUZZ_TIME=$(FUZZ_QUICK)

# libconfig leaks its lexer's buffer on some parse errors: not ours.
fuzz-run:
	@set -e; export LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp; \
	for f in $(FUZZERS); do n=$$(basename $$f); \
	    mkdir -p $(FUZZ_DIR)/corpus/$$n; \
	    if [ -d tests/fuzz/regress/$$n ]; then echo "== $$n: regression inputs"; \
	        $$f -runs=0 tests/fuzz/regress/$$n >/dev/null 2>&1 || { $$f -runs=0 tests/fuzz/regress/$$n; exit 1; }; fi; \
	    echo "== $$n: $(FUZZ_TIME) s"; \
	    d=; if [ -f tests/fuzz/$$n.dict ]; then d=-dict=tests/fuzz/$$n.dict; fi; \
	    $$f -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=10 -rss_limit_mb=2048 $$d \
	        -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus/$$n tests/fuzz/corpus/$$n \
	        >$(FUZZ_DIR)/$$n.log 2>&1 || { tail -n 40 $(FUZZ_DIR)/$$n.log; exit 1; }; \
	    grep -E '^#[0-9]+.*DONE' $(FUZZ_DIR)/$$n.log | tail -n 1; done

# Installs what is missing (Debian packages, as root), then builds and tests.
check: deps
	$(MAKE) check-run

deps:
	sh tests/install-deps.sh

check-run: all $(TESTS) $(BENCH) tests/milter_hostile
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) unit-tsan
	$(MAKE) fuzz-quick
	$(MAKE) e2e

unit: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; (cd tests && ../$$t); done

e2e: all tests/milter_hostile
	sh tests/e2e/run-all.sh

# A private Postfix and the milter on loopback: each kind of reply, shown.
demo: all
	sh tests/e2e/demo.sh

run: all
	@mkdir -p run
	./milter/milter-policy -f -c $(EXAMPLE) -p $(RUN_SOCKET)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/milter-policy \
	    $(DESTDIR)$(SYSCONFDIR)/init.d $(DESTDIR)$(SYSCONFDIR)/default \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 milter/milter-policy $(DESTDIR)$(SBINDIR)/milter-policy
	install -m 0644 doc/milter-policy.8 $(DESTDIR)$(MANDIR)/man8/milter-policy.8
	install -m 0644 doc/milter-policy.conf.5 $(DESTDIR)$(MANDIR)/man5/milter-policy.conf.5
	sed 's|/usr/local/sbin|$(SBINDIR)|g; s|/etc/milter-policy|$(SYSCONFDIR)/milter-policy|g' \
	    init/milter-policy.service >$(DESTDIR)$(UNITDIR)/milter-policy.service
	sed 's|/usr/local/sbin|$(SBINDIR)|g; s|/etc/milter-policy|$(SYSCONFDIR)/milter-policy|g' \
	    init/milter-policy.init >$(DESTDIR)$(SYSCONFDIR)/init.d/milter-policy
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/milter-policy
	install -m 0644 examples/policy.conf init/postfix-main.cf init/sendmail.mc \
	    $(DESTDIR)$(DOCDIR)/examples/
	# an admin's files are never overwritten
	test -e $(DESTDIR)$(SYSCONFDIR)/default/milter-policy || \
	    install -m 0644 init/milter-policy.default $(DESTDIR)$(SYSCONFDIR)/default/milter-policy
	test -e $(DESTDIR)$(SYSCONFDIR)/milter-policy/policy.conf || \
	    install -m 0644 init/policy.conf $(DESTDIR)$(SYSCONFDIR)/milter-policy/policy.conf

# Leaves /etc/milter-policy/policy.conf and /etc/default/milter-policy: the admin's.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/milter-policy \
	    $(DESTDIR)$(MANDIR)/man8/milter-policy.8 \
	    $(DESTDIR)$(MANDIR)/man5/milter-policy.conf.5 \
	    $(DESTDIR)$(UNITDIR)/milter-policy.service \
	    $(DESTDIR)$(SYSCONFDIR)/init.d/milter-policy
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -f policy/*.o policy/libpolicy.a milter/*.o milter/milter-policy $(TESTS) $(BENCH) \
	    tests/milter_client.o tests/milter_hostile
	rm -rf run build
