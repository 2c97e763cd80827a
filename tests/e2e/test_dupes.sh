#!/bin/sh
# Duplicate detection through a real Postfix: with max = 2 the third
# identical message from one client gets 557 5.7.1, a different body still
# gets 250, and a 10 MB message passes without the milter's memory growing
# by anything like its size.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

e2e_init dupes

MILTER_BIN=${E2E_MILTER_BIN:-$E2E_ROOT/milter/milter-policy}
[ -x "$MILTER_BIN" ] || e2e_die "$MILTER_BIN is not built (run make)"

cat >"$WORK/policy.conf" <<'EOF2'
state = { file = ""; };
lists = { local_domains = [ "example.com" ]; };
relay = { local_domains = "@local_domains"; };
rules = (
  { name = "same-body";
    duplicates = { of = "body"; per = [ "client_addr" ]; max = 2; window = "10m"; }; }
);
EOF2

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$(milter_pid)/status"
}

sink_start
milter_start "$MILTER_BIN" -f -c "$WORK/policy.conf" -p "$MILTER_SOCKET"
pf_start "$MILTER_PF_SOCKET"

for n in 1 2; do
	smtp_try --local-interface 127.0.0.7 --to user@example.com --body "The same text, again."
	expect_reply eom 250 2.0.0 "" "copy $n of the same body: queued"
done
smtp_try --local-interface 127.0.0.7 --to user@example.com --body "The same text, again."
expect_reply eom 557 5.7.1 "same message already received 2 times" \
	"copy 3: 557 5.7.1 saying it was already received twice"
expect_log "reject stage=eom rule=same-body code=557 xcode=5.7.1" \
	"milter log: reject stage=eom rule=same-body code=557"
smtp_try --local-interface 127.0.0.7 --to user@example.com --body "A different text."
expect_reply eom 250 2.0.0 "" "a different body from the same client: queued"
smtp_try --local-interface 127.0.0.8 --to user@example.com --body "The same text, again."
expect_reply eom 250 2.0.0 "" "the same body from another client: queued"

# 10 MB: the body is hashed as it streams, never held.
awk 'BEGIN { for (i = 0; i < 160000; i++) printf "line %08d of a big message, with some text to fill it\n", i }' \
	>"$WORK/big.txt"
before=$(rss_kb)
smtp_try --local-interface 127.0.0.9 --to user@example.com --body "$WORK/big.txt"
expect_reply eom 250 2.0.0 "" "a 10 MB message: queued"
after=$(rss_kb)
grew=$((after - before))
if [ "$grew" -lt 2048 ]; then
	e2e_ok "milter RSS grew by $grew kB for a $(($(wc -c <"$WORK/big.txt") / 1024)) kB message (under 2 MB)"
else
	e2e_fail "milter RSS growth for a 10 MB message, got $grew kB, want under 2048 kB"
fi

e2e_done
