# shellcheck shell=sh
# tests/e2e/lib-assert.sh: reporting, the SMTP client and what a test expects.
# Sourced by lib.sh (see there for the functions and variables); not on its own.

# ---------------------------------------------------------------- reporting

e2e_ok() {
	E2E_PASS=$((E2E_PASS + 1))
	printf 'ok - %s\n' "$1"
}

e2e_fail() {
	E2E_FAIL=$((E2E_FAIL + 1))
	printf 'FAIL: %s\n' "$1"
}

# e2e_die MESSAGE: a setup step failed; nothing after it can be trusted.
e2e_die() {
	e2e_fail "$1"
	exit 1
}

e2e_note() {
	printf '# %s\n' "$*"
}

# e2e_track PID: a process of the test's own (a redis-server, ...) that
# the cleanup stops, also on failure.
E2E_EXTRA_PIDS=
e2e_track() {
	E2E_EXTRA_PIDS="$E2E_EXTRA_PIDS $1"
	echo "$1" >>"$WORK/.pids"
}

# e2e_done: end of a test script.
e2e_done() {
	if [ "$E2E_FAIL" -eq 0 ]; then exit 0; else exit 1; fi
}

# ---------------------------------------------------------------- the client

# smtp_try [swaks options]: one SMTP session against the private Postfix.
# Defaults (override them by giving the option again): --from
# sender@client.e2e.test, --helo client.e2e.test.  Every message gets an
# X-E2E-Tag header so expect_delivered can find it in the sink.
smtp_try() {
	E2E_TRY_N=$((E2E_TRY_N + 1))
	TRANSCRIPT=$WORK/try-$E2E_TRY_N.txt
	E2E_TAG=e2e-$E2E_NAME-$$-$E2E_TRY_N
	{
		printf '### try %s: swaks' "$E2E_TRY_N"
		printf ' %s' "$@"
		printf '\n'
	} >"$TRANSCRIPT"
	swaks --server "127.0.0.1:$SMTPPORT" --timeout 10 \
		--from sender@client.e2e.test --helo client.e2e.test \
		--add-header "X-E2E-Tag: $E2E_TAG" \
		"$@" >>"$TRANSCRIPT" 2>&1 </dev/null
	TRY_RC=$?
	[ -n "${E2E_VERBOSE:-}" ] && sed 's/^/#   /' "$TRANSCRIPT"
	return 0
}

# scenario_try CLIENT BEFORE "SWAKS OPTIONS": BEFORE identical sessions
# from CLIENT, then the one a scenario checks (the options are one string,
# split by the shell, as scenarios.txt writes them).
scenario_try() {
	_st=0
	while [ "$_st" -le "$2" ]; do
		eval "smtp_try --local-interface $1 $3"
		_st=$((_st + 1))
	done
}

# try_reply STAGE [N]: the server's reply lines (prefix stripped) to the Nth
# (default first) command of STAGE in $TRANSCRIPT.
# STAGE: connect (banner), helo (HELO/EHLO), mail, rcpt, data, eom (after
# the final "."), quit, rset, or any other command verb.
try_reply() {
	awk -v stage="$1" -v want="${2:-1}" '
	function cmdstage(line,   v) {
		v = toupper(line)
		sub(/^ -> /, "", v)
		if (v ~ /^(EHLO|HELO)( |$)/) return "helo"
		if (v ~ /^MAIL FROM:/) return "mail"
		if (v ~ /^RCPT TO:/) return "rcpt"
		if (v == "DATA") return "data"
		if (v == "." || v ~ /^[0-9]+ LINES SENT$/) return "eom"	# --suppress-data
		if (v ~ /^(QUIT|RSET|NOOP|STARTTLS|XCLIENT|VRFY|ETRN)( |$)/) { split(v, w, " "); return tolower(w[1]) }
		if (v ~ /^AUTH( |$)/) return "auth"
		return "body"
	}
	BEGIN { cur = "connect"; n["connect"] = 1 }
	/^ -> / {
		s = cmdstage($0)
		if (s == "body") { cur = "body"; next }
		n[s]++
		cur = s
		next
	}
	/^<(-|\*\*)  ?[0-9][0-9][0-9][ -]/ {
		if (cur == stage && n[cur] == want) {
			line = $0
			sub(/^<(-|\*\*)  ?/, "", line)
			print line
		}
	}
	' "$TRANSCRIPT"
}

# Shows the last try's transcript, once per try.
e2e_show_transcript() {
	[ -f "$TRANSCRIPT" ] || return 0
	[ "$E2E_SHOWN" = "$TRANSCRIPT" ] && return 0
	E2E_SHOWN=$TRANSCRIPT
	sed 's/^/#   /' "$TRANSCRIPT"
}

# expect_reply STAGE[:N] CODE XCODE "words" [DESCRIPTION]
# The client saw CODE (e.g. 550) with enhanced code XCODE (e.g. 5.7.1; "-"
# skips the check) at STAGE, and the reply text contains every one of the
# space-separated words (case-insensitive; "" for none).
expect_reply() {
	_stage=${1%%:*}
	_nth=1
	case "$1" in *:*) _nth=${1#*:} ;; esac
	_want="$2 $3${4:+ \"$4\"}"
	_desc=${5:-"$1: $_want"}
	_lines=$(try_reply "$_stage" "$_nth")
	if [ -z "$_lines" ]; then
		e2e_fail "$_desc, got no reply at $1 (swaks exit $TRY_RC), want $_want"
		e2e_show_transcript
		return 1
	fi
	_last=$(printf '%s\n' "$_lines" | tail -n 1)
	_code=$(printf '%s' "$_last" | cut -c1-3)
	_rest=$(printf '%s\n' "$_lines" | sed 's/^[0-9][0-9][0-9][ -]//' | tr '\n' ' ')
	_xcode=$(printf '%s' "$_rest" | awk '$1 ~ /^[245]\.[0-9]+\.[0-9]+$/ { print $1 }')
	_got="$(printf '%s\n' "$_lines" | tr '\n' ' ' | sed 's/ $//')"
	_bad=
	[ "$_code" = "$2" ] || _bad=code
	[ "$3" = - ] || [ "$_xcode" = "$3" ] || _bad="$_bad xcode"
	# every line of a multi-line reply must carry the same code
	printf '%s\n' "$_lines" | awk -v c="$_code" 'substr($0, 1, 3) != c { exit 1 }' || _bad="$_bad mixed-codes"
	set -f # the words are not file patterns
	for _w in $4; do
		printf '%s' "$_rest" | grep -qiF -- "$_w" || _bad="$_bad text"
	done
	set +f
	if [ -z "$_bad" ]; then
		e2e_ok "$_desc"
		return 0
	fi
	e2e_fail "$_desc, got \"$_got\", want $_want"
	e2e_show_transcript
	return 1
}

# expect_try_rc RC [DESCRIPTION]: swaks' exit code (0 ok, 23 MAIL refused,
# 24 no RCPT accepted, 25 DATA refused, 26 message refused; see swaks(1)).
expect_try_rc() {
	if [ "$TRY_RC" = "$1" ]; then
		e2e_ok "${2:-swaks exit code $1}"
	else
		e2e_fail "${2:-swaks exit code}, got $TRY_RC, want $1"
		e2e_show_transcript
		return 1
	fi
}

# expect_log ERE [DESCRIPTION]: a line of the milter's log matches (waits
# up to 3 s: the log can trail the reply).
expect_log() {
	_expect_file "$MILTER_LOG" "milter log" "$@"
}

# expect_no_log ERE [DESCRIPTION]
expect_no_log() {
	if grep -qE -- "$1" "$MILTER_LOG" 2>/dev/null; then
		e2e_fail "${2:-milter log has no line matching /$1/}, got: $(grep -E -- "$1" "$MILTER_LOG" | head -n 1)"
		return 1
	fi
	e2e_ok "${2:-milter log has no line matching /$1/}"
}

# expect_pflog ERE [DESCRIPTION]: the same on Postfix's log.
expect_pflog() {
	_expect_file "$PF_LOG" "Postfix log" "$@"
}

_expect_file() { # FILE TITLE ERE [DESCRIPTION]
	_d=${4:-"$2 has a line matching /$3/"}
	if e2e_wait 10 grep -qE -- "$3" "$1" 2>/dev/null; then
		e2e_ok "$_d"
		return 0
	fi
	e2e_fail "$_d, got no such line in $1, want /$3/"
	e2e_tail "$2" "$1"
	return 1
}

e2e_in_sink() {
	grep -qF "X-E2E-Tag: $1" "$SINK_DUMP" 2>/dev/null
}

# expect_delivered [DESCRIPTION]: the message of the last smtp_try reached
# the sink (waits up to 10 s for Postfix to relay it).
expect_delivered() {
	_d=${1:-"message of try $E2E_TRY_N reached the sink"}
	if e2e_wait 10 e2e_in_sink "$E2E_TAG"; then
		e2e_ok "$_d"
		return 0
	fi
	e2e_fail "$_d, got nothing tagged $E2E_TAG in $SINK_DUMP after 10 s ($(pf_queue_count "$E2E_QUEUES") still queued), want the message"
	return 1
}

# expect_not_delivered [DESCRIPTION]: Postfix's queue drains and the last
# try's message is not in the sink.
expect_not_delivered() {
	_d=${1:-"message of try $E2E_TRY_N did not reach the sink"}
	e2e_wait 10 pf_queue_empty
	if e2e_in_sink "$E2E_TAG"; then
		e2e_fail "$_d, got it in $SINK_DUMP, want nothing"
		return 1
	fi
	e2e_ok "$_d"
}

# sink_message [TAG]: the sink's copy of a message (default: the last
# try's), from smtp-sink's X-Client-Addr line to the next one.  smtp-sink
# records the envelope as X-Mail-Args / X-Rcpt-Args lines.
sink_message() {
	awk -v tag="X-E2E-Tag: ${1:-$E2E_TAG}" '
	/^X-Client-Addr: / { if (found) exit; buf = "" }
	{ buf = buf $0 "\n" }
	index($0, tag) == 1 { found = 1 }
	END { if (found) printf "%s", buf }
	' "$SINK_DUMP"
}

# expect_sink ERE [DESCRIPTION]: the last try's message reached the sink and
# its copy there (envelope lines included) has a line matching ERE.
expect_sink() {
	_d=${2:-"message of try $E2E_TRY_N in the sink matches /$1/"}
	e2e_wait 10 e2e_in_sink "$E2E_TAG"
	if sink_message "$E2E_TAG" | grep -qE -- "$1"; then
		e2e_ok "$_d"
		return 0
	fi
	e2e_fail "$_d, got no such line, want /$1/"
	sink_message "$E2E_TAG" | sed 's/^/#   /'
	return 1
}

# expect_no_sink ERE [DESCRIPTION]: the last try's message reached the sink
# and has no line matching ERE (e.g. a refused recipient's X-Rcpt-Args).
expect_no_sink() {
	_d=${2:-"message of try $E2E_TRY_N in the sink has no line matching /$1/"}
	if ! e2e_wait 10 e2e_in_sink "$E2E_TAG"; then
		e2e_fail "$_d, got no message in the sink, want one"
		return 1
	fi
	if sink_message "$E2E_TAG" | grep -qE -- "$1"; then
		e2e_fail "$_d, got: $(sink_message "$E2E_TAG" | grep -E -- "$1" | head -n 1)"
		return 1
	fi
	e2e_ok "$_d"
}
