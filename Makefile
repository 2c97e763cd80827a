# milter-policy: the only build system.  See README.md.
#   make          build milter/milter-policy
#   make check    install missing dependencies (Debian), build, run every test
#   make run      build and run the milter in the foreground on the example policy
#   make bench    benchmarks: the engine, the milter alone, Postfix with and
#                 without milters; PEERS=1: rspamd too (installs it)
#   make fuzz     FUZZ_SECONDS=60: every libFuzzer harness (tests/fuzz)
#   make demo     show each kind of reply through a private Postfix (after make check)
#   make install  PREFIX=/usr/local DESTDIR= (binary, man pages, docs, init files, policy)
#   make uninstall
#   make deb      the Debian package, built in a copy under DEB_DIR=build/deb
#   make check-deb  build it, install, upgrade, remove and purge it (root)

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
PKGS      = libconfig libsodium libpcre2-8 hiredis zlib libmicrohttpd libcares
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -pthread -fstack-clash-protection $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Ipolicy

POLICY_SRC = $(sort $(wildcard policy/*.c))
POLICY_OBJ = $(POLICY_SRC:.c=.o)
MILTER_SRC = $(sort $(wildcard milter/*.c))
MILTER_OBJ = $(MILTER_SRC:.c=.o)
TESTS      = $(patsubst %.c,%,$(sort $(wildcard tests/check_*.c)))

EXAMPLE   ?= examples/policy.conf
RUN_SOCKET ?= unix:$(CURDIR)/run/milter-policy.sock

.PHONY: all check check-run unit unit-asan unit-tsan fuzz fuzz-quick fuzz-run e2e deps run demo bench install uninstall clean deb check-deb

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
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -o $@ $< $(CHECK_SRC_$*) policy/libpolicy.a $(CHECK_LIBS) $(PKG_LIBS)

# A suite that tests milter/ code builds its source in (no libmilter).
CHECK_SRC_explain = milter/explain.c
tests/check_explain: $(CHECK_SRC_explain) milter/explain.h
CHECK_SRC_log_once = milter/log_once.c
tests/check_log_once: $(CHECK_SRC_log_once) milter/log_once.h
CHECK_SRC_json = milter/json.c
tests/check_json: $(CHECK_SRC_json) milter/json.h
# check_dns tests milter/'s resolver against a private dnsmasq: built in.
CHECK_SRC_dns = milter/dns.c
tests/check_dns: $(CHECK_SRC_dns) milter/dns.h

# check_replay also tests milter/'s log reader for `replay` (pure code,
# no libmilter): its sources are built in, for each sanitizer too.
REPLAY_SRC = milter/syslog_time.c milter/json.c milter/replay_log.c milter/replay_txn.c milter/replay_res.c milter/replay_run.c
REPLAY_DEP = $(REPLAY_SRC) $(wildcard milter/replay*.h)

tests/check_replay: tests/check_replay.c $(REPLAY_DEP) $(wildcard tests/*.h) policy/libpolicy.a
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Imilter -o $@ $< $(REPLAY_SRC) policy/libpolicy.a $(CHECK_LIBS) $(PKG_LIBS)

# check_report and fuzz_report build in `report`'s log reader the same way.
REPORT_SRC = milter/syslog_time.c milter/json.c milter/logfile.c milter/report_log.c milter/report_tab.c milter/report.c milter/report_out.c
REPORT_DEP = $(REPORT_SRC) $(wildcard milter/report*.h)

tests/check_report: tests/check_report.c $(REPORT_DEP) policy/libpolicy.a
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Imilter -o $@ $< $(REPORT_SRC) policy/libpolicy.a $(CHECK_LIBS) $(PKG_LIBS)

# check_top: `ctl top`'s watch (milter/top.c, no libmilter) on a memory store.
tests/check_top: tests/check_top.c milter/top.c milter/top.h policy/libpolicy.a
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Imilter -o $@ $< milter/top.c policy/libpolicy.a $(CHECK_LIBS) $(PKG_LIBS)

# check_notify: the notify mail's text (milter/notify.c; log.c for its warnings).
tests/check_notify: tests/check_notify.c milter/notify.c milter/notify.h milter/log.c policy/libpolicy.a
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Imilter -o $@ $< milter/notify.c milter/log.c policy/libpolicy.a $(CHECK_LIBS) $(PKG_LIBS)

BENCH      = bench/bench_engine bench/null_milter bench/milter_load bench/null_policyd bench/bench_top

bench/bench_engine: bench/bench_engine.c policy/libpolicy.a
	$(CC) $(ALL_CFLAGS) -o $@ $< policy/libpolicy.a $(PKG_LIBS)

# ctl top against mail: charges' p99 with and without it (issue 16).
bench/bench_top: bench/bench_top.c milter/top.c milter/top.h policy/libpolicy.a
	$(CC) $(ALL_CFLAGS) -Imilter -o $@ $< milter/top.c policy/libpolicy.a $(PKG_LIBS)

bench/null_milter: bench/null_milter.c
	$(CC) $(ALL_CFLAGS) -o $@ $< -lmilter

bench/null_policyd: bench/null_policyd.c
	$(CC) $(ALL_CFLAGS) -o $@ $<

# The MTA's side of the milter protocol, for the load generator and tests.
tests/milter_client.o: tests/milter_client.c tests/milter_client.h
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Hostile input through the milter protocol (tests/e2e/test_protocol.sh).
tests/milter_hostile: tests/milter_hostile.c tests/milter_client.o
	$(CC) $(ALL_CFLAGS) -o $@ $< tests/milter_client.o

# Each thread's stack high-water mark, preloaded (tests/e2e/test_stack.sh).
tests/stackmark.so: tests/stackmark.c
	$(CC) $(ALL_CFLAGS) -shared -fPIC -o $@ $< -ldl

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
	$$(CC) $$(ALL_CFLAGS) $$($(2)) $$(CHECK_CFLAGS) -o $$@ $$< $$(CHECK_SRC_$$*) $(1)/libpolicy.a $$(CHECK_LIBS) $$(PKG_LIBS)

$(1)/check_replay: tests/check_replay.c $$(REPLAY_DEP) $$(wildcard tests/*.h) $(1)/libpolicy.a
	$$(CC) $$(ALL_CFLAGS) $$($(2)) $$(CHECK_CFLAGS) -Imilter -o $$@ $$< $$(REPLAY_SRC) $(1)/libpolicy.a $$(CHECK_LIBS) $$(PKG_LIBS)

$(1)/check_explain: $$(CHECK_SRC_explain) milter/explain.h
$(1)/check_log_once: $$(CHECK_SRC_log_once) milter/log_once.h
$(1)/check_json: $$(CHECK_SRC_json) milter/json.h

$(1)/check_top: tests/check_top.c milter/top.c milter/top.h $(1)/libpolicy.a
	$$(CC) $$(ALL_CFLAGS) $$($(2)) $$(CHECK_CFLAGS) -Imilter -o $$@ $$< milter/top.c $(1)/libpolicy.a $$(CHECK_LIBS) $$(PKG_LIBS)

$(1)/check_notify: tests/check_notify.c milter/notify.c milter/notify.h milter/log.c $(1)/libpolicy.a
	$$(CC) $$(ALL_CFLAGS) $$($(2)) $$(CHECK_CFLAGS) -Imilter -o $$@ $$< milter/notify.c milter/log.c $(1)/libpolicy.a $$(CHECK_LIBS) $$(PKG_LIBS)

$(1)/check_report: tests/check_report.c $$(REPORT_DEP) $(1)/libpolicy.a
	$$(CC) $$(ALL_CFLAGS) $$($(2)) $$(CHECK_CFLAGS) -Imilter -o $$@ $$< $$(REPORT_SRC) $(1)/libpolicy.a $$(CHECK_LIBS) $$(PKG_LIBS)
$(1)/check_dns: $$(CHECK_SRC_dns) milter/dns.h
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
             check_store_redis:core check_store_redis:wrong-answers \
             check_top:threads \
             check_redis_fleet:cluster \
             check_dns:threads
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

# fuzz_ctl compiles milter/ctl.c in, to reach its static command parser,
# with milter/top.c, whose listing `ctl top` prints.
$(FUZZ_DIR)/fuzz_ctl: tests/fuzz/fuzz_ctl.c milter/ctl.c milter/top.c $(wildcard milter/*.h) $(FUZZ_DIR)/libpolicy.a
	$(FUZZ_CC) -std=gnu11 -D_GNU_SOURCE -pthread $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -Ipolicy -Imilter -o $@ $< milter/top.c $(FUZZ_DIR)/libpolicy.a $(PKG_LIBS)

# fuzz_replay also reads milter/'s log reader for `replay` (no libmilter).
$(FUZZ_DIR)/fuzz_replay: tests/fuzz/fuzz_replay.c $(REPLAY_DEP) $(FUZZ_DIR)/libpolicy.a
	$(FUZZ_CC) -std=gnu11 -D_GNU_SOURCE -pthread $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -Ipolicy -Imilter -o $@ $< $(REPLAY_SRC) $(FUZZ_DIR)/libpolicy.a $(PKG_LIBS)

$(FUZZ_DIR)/fuzz_report: tests/fuzz/fuzz_report.c $(REPORT_DEP) $(FUZZ_DIR)/libpolicy.a
	$(FUZZ_CC) -std=gnu11 -D_GNU_SOURCE -pthread $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -Ipolicy -Imilter -o $@ $< $(REPORT_SRC) $(FUZZ_DIR)/libpolicy.a $(PKG_LIBS)

# The policy service's request parser lives in milter/ (glue, no libmilter).
$(FUZZ_DIR)/fuzz_policyd: tests/fuzz/fuzz_policyd.c milter/policyd_req.c milter/policyd_req.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=gnu11 -D_GNU_SOURCE $(FUZZ_FLAGS) -fsanitize=fuzzer -Imilter -o $@ $< milter/policyd_req.c

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

check-run: all $(TESTS) $(BENCH) tests/milter_hostile tests/stackmark.so
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) unit-tsan
	$(MAKE) fuzz-quick
	$(MAKE) e2e

unit: $(TESTS)
	@set -e; for t in $(TESTS); do echo "== $$t"; (cd tests && ../$$t); done

e2e: all tests/milter_hostile tests/stackmark.so
	sh tests/e2e/run-all.sh

# A private Postfix and the milter on loopback: each kind of reply, shown.
demo: all
	sh tests/e2e/demo.sh

# The example policy with its state file under run/, so a first run in a
# checkout writes nothing outside it; then what to do next.
run: all
	@mkdir -p run
	@sed 's|"/var/lib/milter-policy/state"|"$(CURDIR)/run/state"|' $(EXAMPLE) >run/policy.conf
	@printf '%s\n' "milter-policy: $(EXAMPLE) as run/policy.conf (counters in run/state), socket $(RUN_SOCKET)" \
	    "Next: attach a Postfix with these main.cf lines, then postfix reload:" \
	    "    smtpd_milters = $(RUN_SOCKET)" \
	    "    milter_default_action = tempfail" \
	    "    milter_mail_macros = i {auth_authen} {daemon_name}" \
	    "  or see every kind of reply through a private Postfix: make demo" \
	    "  or ask the policy offline: ./milter/milter-policy try -c run/policy.conf --client 203.0.113.9 --from a@example.net --rcpt b@other.org" \
	    "Ctrl-C stops it."
	./milter/milter-policy -f -c run/policy.conf -p $(RUN_SOCKET)

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
	install -m 0644 doc/SECURITY.md $(DESTDIR)$(DOCDIR)/SECURITY.md
	# an admin's files are never overwritten
	test -e $(DESTDIR)$(SYSCONFDIR)/default/milter-policy || \
	    install -m 0644 init/milter-policy.default $(DESTDIR)$(SYSCONFDIR)/default/milter-policy
	test -e $(DESTDIR)$(SYSCONFDIR)/milter-policy/policy.conf || \
	    install -m 0644 init/policy.conf $(DESTDIR)$(SYSCONFDIR)/milter-policy/policy.conf

# The Debian package (debian/, README.Debian): built in a copy of the tree
# under DEB_DIR, after installing the missing build dependencies.
DEB_DIR ?= build/deb
deb:
	sh debian/make-deb.sh $(DEB_DIR)

# Builds, installs, upgrades, removes and purges the package on this
# machine (root), and leaves it as it was.
check-deb:
	sh tests/e2e/run-all.sh tests/e2e/test_deb.sh

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
