/*
 * check_replies.c: the reply catalogue, built-in replies, parsing and
 * validation of policy replies, rendering with hostile values, escaping
 * for libmilter and durations (check_text.c: the cleaner; check_explain.c:
 * `explain`).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "replies.h"

#define RENDER_MAX	(REPLY_LINE_MAX - 12)

/* Number of '%' in s. */
static size_t
count_pct(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '%';
	return n;
}

/* NULL if every byte of s is printable ASCII, else the first bad one. */
static const char *
bad_byte(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return s;
	return NULL;
}

/* Non-zero if s has a run of an odd number of '%' (a lone one). */
static int
has_lone_pct(const char *s)
{
	size_t run;

	while (*s != '\0') {
		for (run = 0; *s == '%'; s++)
			run++;
		if (run % 2)
			return 1;
		if (*s != '\0')
			s++;
	}
	return 0;
}

/* A string of unit repeated up to at least len bytes; caller frees. */
static char *
repeat(const char *unit, size_t len)
{
	size_t ul = strlen(unit), n = 0;
	char *s = malloc(len + ul + 1);

	ck_assert_ptr_nonnull(s);
	while (n < len) {
		memcpy(s + n, unit, ul);
		n += ul;
	}
	s[n] = '\0';
	return s;
}

/* Inline replies, good and bad.  code 0: refused, want is part of err. */
struct parse_case {
	const char *name;
	const char *in;
	int code;
	const char *xcode;
	const char *want;	/* the text line, or a piece of the error */
};

static const struct parse_case parse_cases[] = {
	{ "full", "550 5.7.1 Go away", 550, "5.7.1", "Go away" },
	{ "default xcode 550", "550 Go away", 550, "5.7.1", "Go away" },
	{ "default xcode 421", "421 Busy, bye", 421, "4.7.0", "Busy, bye" },
	{ "default xcode 557", "557 Seen it", 557, "5.7.1", "Seen it" },
	{ "not in catalogue 4", "458 Later", 458, "4.0.0", "Later" },
	{ "not in catalogue 5", "559 No", 559, "5.0.0", "No" },
	{ "three-digit parts", "554 5.123.999 Odd but valid", 554,
	  "5.123.999", "Odd but valid" },
	{ "zero parts", "450 4.0.0 Later", 450, "4.0.0", "Later" },
	{ "macros kept", "550 5.7.1 No relay for %{rcpt}", 550, "5.7.1",
	  "No relay for %{rcpt}" },
	{ "lone percent", "552 5.3.4 Mailbox 100% full", 552, "5.3.4",
	  "Mailbox 100% full" },
	{ "percent at end", "552 5.3.4 100%", 552, "5.3.4", "100%" },
	{ "text starts with digit", "452 3 recipients at most", 452,
	  "4.5.3", "3 recipients at most" },
	{ "extra spaces", "  550   5.7.1   Go", 550, "5.7.1", "Go" },
	{ "2xx", "250 2.0.0 OK", 0, NULL, "must be 4xx" },
	{ "2xx without xcode", "250 OK", 0, NULL, "must be 4xx" },
	{ "3xx", "354 Go ahead", 0, NULL, "must be 4xx" },
	{ "6xx", "650 Nope", 0, NULL, "must be 4xx" },
	{ "class 4 on 5xx", "550 4.7.1 No", 0, NULL, "451 4.3.5" },
	{ "class 5 on 4xx", "450 5.7.1 Later", 0, NULL, "451 4.3.5" },
	{ "xcode two parts", "550 5.7 No", 0, NULL, "CLASS.SUBJECT.DETAIL" },
	{ "xcode four parts", "550 5.7.1.2 No", 0, NULL,
	  "CLASS.SUBJECT.DETAIL" },
	{ "xcode 4-digit subject", "550 5.1000.1 No", 0, NULL,
	  "CLASS.SUBJECT.DETAIL" },
	{ "xcode 4-digit detail", "550 5.7.1000 No", 0, NULL,
	  "CLASS.SUBJECT.DETAIL" },
	{ "xcode empty part", "550 5..1 No", 0, NULL,
	  "CLASS.SUBJECT.DETAIL" },
	{ "xcode class 2", "550 2.0.0 No", 0, NULL, "CLASS.SUBJECT.DETAIL" },
	{ "xcode letters", "550 5.7.x No", 0, NULL, "CLASS.SUBJECT.DETAIL" },
	{ "xcode very long", "550 5.7.11111111111111111111 No", 0, NULL,
	  "CLASS.SUBJECT.DETAIL" },
	{ "missing text", "550 5.7.1", 0, NULL, "missing text" },
	{ "missing text no xcode", "550", 0, NULL, "missing text" },
	{ "blank text", "550 5.7.1     ", 0, NULL, "missing text" },
	{ "empty", "", 0, NULL, "three-digit code" },
	{ "no code", "Go away", 0, NULL, "three-digit code" },
	{ "four digits", "5500 Go away", 0, NULL, "three-digit code" },
	{ "continuation", "550-5.7.1 Go away", 0, NULL, "multi-line" },
	{ "unknown macro", "550 5.7.1 Hi %{nosuch}", 0, NULL,
	  "unknown macro %{nosuch}; known: client_addr, client_name, helo, "
	  "sender, rcpt, auth_user, rule, limit, window, count, "
	  "retry_after, queue_id" },
	{ "empty macro", "550 5.7.1 Hi %{}", 0, NULL, "unknown macro %{}" },
	{ "macro case", "550 5.7.1 Hi %{RCPT}", 0, NULL,
	  "unknown macro %{RCPT}" },
	{ "unterminated macro", "550 5.7.1 Hi %{rcpt", 0, NULL,
	  "unterminated" },
	{ "unterminated at end", "550 5.7.1 Hi %{", 0, NULL,
	  "unterminated" },
	{ "tab", "550 5.7.1 Hi\tthere", 0, NULL, "control character" },
	{ "CR", "550 5.7.1 Hi\r", 0, NULL, "control character" },
	{ "LF", "550 5.7.1 Hi\nRCPT TO:<x>", 0, NULL, "control character" },
	{ "DEL", "550 5.7.1 Hi\x7f", 0, NULL, "control character" },
	{ "UTF-8", "550 5.7.1 Caf\xc3\xa9", 0, NULL, "non-ASCII" },
};

START_TEST(test_parse)
{
	const struct parse_case *c = &parse_cases[_i];
	struct reply *r;
	char err[512] = "";

	r = reply_parse(c->in, err, sizeof err);
	if (c->code == 0) {
		ck_assert_msg(r == NULL, "%s: got a reply, want error \"%s\"",
		    c->name, c->want);
		ck_assert_msg(strstr(err, c->want) != NULL,
		    "%s: got error \"%s\", want one containing \"%s\"",
		    c->name, err, c->want);
		return;
	}
	ck_assert_msg(r != NULL, "%s: got error \"%s\", want %d %s",
	    c->name, err, c->code, c->xcode);
	ck_assert_msg(r->code == c->code && strcmp(r->xcode, c->xcode) == 0,
	    "%s: got %d %s, want %d %s", c->name, r->code, r->xcode,
	    c->code, c->xcode);
	ck_assert_msg(r->nlines == 1 && strcmp(r->lines[0], c->want) == 0,
	    "%s: got %d lines, \"%s\", want 1, \"%s\"", c->name, r->nlines,
	    r->lines[0], c->want);
	ck_assert_msg(strcmp(r->name, "inline") == 0,
	    "%s: got name \"%s\", want \"inline\"", c->name, r->name);
	reply_free(r);
}
END_TEST

/* reply_new with several lines; many > 0 makes that many lines "x". */
struct new_case {
	const char *name;
	const char *rname;
	int code;
	const char *xcode;
	const char *lines[3];
	int nlines;
	int many;
	const char *want;	/* NULL: accepted; else a piece of the error */
	const char *want_xcode;
};

static const struct new_case new_cases[] = {
	{ "two lines", "mine", 550, "5.7.1", { "One.", "Two %{rcpt}." }, 2,
	  0, NULL, "5.7.1" },
	{ "default xcode", "mine", 452, NULL, { "Full." }, 1, 0, NULL,
	  "4.5.3" },
	{ "empty xcode", "mine", 451, "", { "Oops." }, 1, 0, NULL, "4.3.0" },
	{ "no name", NULL, 550, "5.7.1", { "No." }, 1, 0, NULL, "5.7.1" },
	{ "32 lines", "mine", 550, "5.7.1", { NULL }, 0, 32, NULL, "5.7.1" },
	{ "33 lines", "mine", 550, "5.7.1", { NULL }, 0, 33, "at most 32",
	  NULL },
	{ "no lines", "mine", 550, "5.7.1", { NULL }, 0, 0, "missing text",
	  NULL },
	{ "null line", "mine", 550, "5.7.1", { "One.", NULL }, 2, 0,
	  "text line 2 is empty", NULL },
	{ "empty line", "mine", 550, "5.7.1", { "One.", "" }, 2, 0,
	  "text line 2 is empty", NULL },
	{ "LF in line 3", "mine", 550, "5.7.1", { "a", "b", "c\nd" }, 3, 0,
	  "text line 3 has a control character", NULL },
	{ "macro in line 2", "mine", 550, "5.7.1", { "a", "%{x}" }, 2, 0,
	  "text line 2 uses unknown macro %{x}", NULL },
	{ "code 200", "mine", 200, NULL, { "OK" }, 1, 0, "must be 4xx",
	  NULL },
	{ "code 399", "mine", 399, NULL, { "OK" }, 1, 0, "must be 4xx",
	  NULL },
	{ "code 600", "mine", 600, NULL, { "No" }, 1, 0, "must be 4xx",
	  NULL },
	{ "code -550", "mine", -550, NULL, { "No" }, 1, 0, "must be 4xx",
	  NULL },
	{ "code 400", "mine", 400, NULL, { "Later" }, 1, 0, NULL, "4.0.0" },
	{ "code 599", "mine", 599, NULL, { "No" }, 1, 0, NULL, "5.0.0" },
	{ "class mismatch", "mine", 421, "5.7.0", { "Bye" }, 1, 0,
	  "451 4.3.5", NULL },
	{ "bad xcode", "mine", 421, "4.7.0 ", { "Bye" }, 1, 0,
	  "CLASS.SUBJECT.DETAIL", NULL },
};

START_TEST(test_new)
{
	const struct new_case *c = &new_cases[_i];
	const char *many[40];
	const char *const *lines = c->lines;
	int i, n = c->nlines;
	struct reply *r;
	char err[512] = "";

	if (c->many > 0) {
		for (i = 0; i < c->many; i++)
			many[i] = "x";
		lines = many;
		n = c->many;
	}
	r = reply_new(c->rname, c->code, c->xcode, lines, n, err, sizeof err);
	if (c->want != NULL) {
		ck_assert_msg(r == NULL && strstr(err, c->want) != NULL,
		    "%s: got %s \"%s\", want error containing \"%s\"", c->name,
		    r ? "a reply, err" : "error", err, c->want);
		return;
	}
	ck_assert_msg(r != NULL, "%s: got error \"%s\", want a reply",
	    c->name, err);
	ck_assert_msg(r->nlines == n && strcmp(r->xcode, c->want_xcode) == 0,
	    "%s: got %d lines, %s, want %d, %s", c->name, r->nlines,
	    r->xcode, n, c->want_xcode);
	for (i = 0; i < n; i++)
		ck_assert_msg(strcmp(r->lines[i], lines[i]) == 0 &&
		    r->lines[i] != lines[i], "%s: line %d: got \"%s\" (%s), "
		    "want a copy of \"%s\"", c->name, i, r->lines[i],
		    r->lines[i] == lines[i] ? "borrowed" : "copied", lines[i]);
	ck_assert_msg(strcmp(r->name, c->rname ? c->rname : "inline") == 0,
	    "%s: got name \"%s\", want \"%s\"", c->name, r->name,
	    c->rname ? c->rname : "inline");
	reply_free(r);
}
END_TEST

/* Template lines of n copies of fill: accepted iff they fit on the wire. */
struct long_case {
	const char *name;
	const char *fill;
	size_t n;
	int ok;
};

static const struct long_case long_cases[] = {
	{ "plain at bound", "a", RENDER_MAX, 1 },
	{ "plain over bound", "a", RENDER_MAX + 1, 0 },
	{ "percent at bound", "%", RENDER_MAX / 2, 1 },
	{ "percent over bound", "%", RENDER_MAX / 2 + 1, 0 },
	{ "10 kB", "a", 10240, 0 },
};

START_TEST(test_long_template)
{
	const struct long_case *c = &long_cases[_i];
	char *line = repeat(c->fill, c->n), *inl;
	char err[512] = "";
	struct reply *r;

	r = reply_new("long", 550, "5.7.1", (const char *const *)&line, 1,
	    err, sizeof err);
	ck_assert_msg((r != NULL) == c->ok, "%s: got %s (%s), want %s",
	    c->name, r ? "accepted" : "refused", err,
	    c->ok ? "accepted" : "refused");
	ck_assert_msg(c->ok || strstr(err, "at most") != NULL,
	    "%s: got error \"%s\", want one saying \"at most\"", c->name, err);
	reply_free(r);
	inl = malloc(c->n + 16);
	ck_assert_ptr_nonnull(inl);
	snprintf(inl, c->n + 16, "550 5.7.1 %s", line);
	r = reply_parse(inl, err, sizeof err);
	ck_assert_msg((r != NULL) == c->ok, "%s inline: got %s (%s), want %s",
	    c->name, r ? "accepted" : "refused", err,
	    c->ok ? "accepted" : "refused");
	reply_free(r);
	free(inl);
	free(line);
}
END_TEST

static const struct pol_vars vars_hour = { .limit = 100, .window_s = 3600,
    .count = 6, .retry_after_s = 130, .counted = "client 192.0.2.7" };
static const struct pol_vars vars_zero = { .limit = 0 };
static const struct pol_vars vars_one = { .limit = 1, .window_s = 60,
    .count = 1, .retry_after_s = 1, .counted = "sender <>" };

/* Rendering one template line with the values of ctx. */
struct render_case {
	const char *name;
	const char *tmpl;
	struct reply_ctx ctx;
	const char *want;
};

static const struct render_case render_cases[] = {
	{ "every macro",
	  "%{client_addr} %{client_name} %{helo} %{sender} %{rcpt} "
	  "%{auth_user} %{rule} %{queue_id} %{limit} %{window} %{count} "
	  "%{retry_after}",
	  { "192.0.2.7", "mx.example.net", "mx.example.net", "a@example.net",
	    "b@example.org", "alice", "relay", "4XyZ1F2", &vars_hour, NULL, NULL },
	  "192.0.2.7 mx.example.net mx.example.net a@example.net "
	  "b@example.org alice relay 4XyZ1F2 100 1 h 6 2 min 10 s" },
	{ "null sender", "From <%{sender}> as %{sender}",
	  { .sender = "" }, "From <<>> as <>" },
	{ "NULL strings",
	  "%{client_addr} %{client_name} %{helo} %{sender} %{rcpt} "
	  "%{auth_user} %{rule} %{queue_id}",
	  { NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &vars_hour, NULL, NULL },
	  "unknown unknown unknown unknown unknown unknown unknown unknown" },
	{ "empty strings", "[%{helo}] [%{auth_user}] [%{rcpt}]",
	  { .helo = "", .auth_user = "", .rcpt = "" },
	  "[unknown] [unknown] [unknown]" },
	{ "no vars", "%{limit}/%{window}/%{count}/%{retry_after}",
	  { .vars = NULL }, "unknown/unknown/unknown/unknown" },
	{ "zero vars", "%{limit}/%{window}/%{count}/%{retry_after}",
	  { .vars = &vars_zero }, "0/0 s/0/0 s" },
	{ "worded, one", "%{count_times}, %{limit_bytes}, from %{counted}",
	  { .vars = &vars_one }, "1 time, 1 byte, from sender <>" },
	{ "worded, many", "%{count_times}, %{limit_bytes}, from %{counted}",
	  { .vars = &vars_hour }, "6 times, 100 bytes, from client 192.0.2.7" },
	{ "worded, zero", "%{count_times}, %{limit_bytes}, from %{counted}",
	  { .vars = &vars_zero }, "0 times, 0 bytes, from unknown" },
	{ "worded, no vars", "%{count_times} %{limit_bytes} %{counted}",
	  { .vars = NULL }, "unknown unknown unknown" },
	{ "CRLF in helo", "HELO %{helo} refused",
	  { .helo = "evil\r\nRCPT TO:<x@y>" },
	  "HELO evil??RCPT TO:<x@y> refused" },
	{ "control chars", "[%{client_name}]",
	  { .client_name = "\x01\x1b[31mred\x7f\t" }, "[??[31mred??]" },
	{ "UTF-8 bytes", "[%{auth_user}]",
	  { .auth_user = "caf\xc3\xa9 \xe2\x82\xac" }, "[caf?? ???]" },
	{ "percent in value", "to %{rcpt}",
	  { .rcpt = "100%@example.org" }, "to 100%@example.org" },
	{ "macro in value", "HELO %{helo} from %{client_addr}",
	  { .client_addr = "192.0.2.7", .helo = "%{rcpt}%{client_addr}" },
	  "HELO %{rcpt}%{client_addr} from 192.0.2.7" },
	{ "lone percent in template", "50% of %{rcpt}%",
	  { .rcpt = "x" }, "50% of x%" },
	{ "double percent in template", "100%% %%{rcpt}",
	  { .rcpt = "x" }, "100%% %x" },
	{ "template without macros", "Go away.", { NULL }, "Go away." },
	{ "adjacent macros", "%{limit}%{count}",
	  { .vars = &vars_hour }, "1006" },
};

START_TEST(test_render)
{
	const struct render_case *c = &render_cases[_i];
	const char *lines[1] = { c->tmpl };
	struct reply_text out;
	struct reply *r;
	char err[512] = "";

	r = reply_new("t", 550, "5.7.1", lines, 1, err, sizeof err);
	ck_assert_msg(r != NULL, "%s: template refused: %s", c->name, err);
	memset(&out, 'Z', sizeof out);
	ck_assert_msg(reply_render(r, &c->ctx, &out) == 1 && out.nlines == 1,
	    "%s: got %d lines, want 1", c->name, out.nlines);
	ck_assert_msg(strcmp(out.line[0], c->want) == 0,
	    "%s: got \"%s\", want \"%s\"", c->name, out.line[0], c->want);
	reply_free(r);
}
END_TEST

/*
 * Hostile values: every client string in the context is unit repeated to
 * about 10 kB.  Whatever the template, each rendered line must be clean,
 * fit RENDER_MAX with its '%' doubled, and escape without a cut.
 * want_len/want_suffix, when set, check the line exactly.
 */
struct hostile_case {
	const char *name;
	const char *unit;
	const char *tmpl;
	size_t want_len;
	const char *want_suffix;
};

#define ALL_MACROS \
	"%{client_addr} %{client_name} %{helo} %{sender} %{rcpt} " \
	"%{auth_user} %{rule} %{queue_id}"

static const struct hostile_case hostile_cases[] = {
	{ "10 kB address", "a", "<%{rcpt}>", REPLY_VALUE_MAX + 2, "a...>" },
	{ "10 kB of percent", "%", "%{rcpt}", REPLY_VALUE_MAX, "%..." },
	{ "10 kB of CRLF", "\r\n", "%{helo}", REPLY_VALUE_MAX, "??..." },
	{ "10 kB of UTF-8", "\xc3\xa9", "%{sender}", REPLY_VALUE_MAX, "?..." },
	{ "10 kB of macros", "%{rcpt}", "%{client_name}", REPLY_VALUE_MAX,
	  "..." },
	{ "all macros, letters", "a", ALL_MACROS, RENDER_MAX, NULL },
	{ "all macros, percent", "%", ALL_MACROS, 0, NULL },
	{ "all macros, control", "\x01\x7f\r\n", ALL_MACROS, RENDER_MAX,
	  NULL },
	{ "all macros twice, mixed", "a%\xff", ALL_MACROS " " ALL_MACROS, 0,
	  NULL },
};

static void
check_hostile_line(const struct hostile_case *c, const char *line)
{
	char esc[REPLY_LINE_MAX + 1];
	size_t len = strlen(line), pct = count_pct(line), n;
	const char *bad = bad_byte(line);

	ck_assert_msg(bad == NULL, "%s: got byte 0x%02x at %zu, want "
	    "printable ASCII", c->name, (unsigned char)*bad,
	    bad ? (size_t)(bad - line) : 0);
	ck_assert_msg(len + pct <= RENDER_MAX, "%s: got %zu bytes and %zu "
	    "'%%', want at most %d together", c->name, len, pct, RENDER_MAX);
	n = reply_escape(line, esc, sizeof esc);
	ck_assert_msg(n == len + pct && n <= REPLY_LINE_MAX &&
	    !has_lone_pct(esc), "%s: escaped to %zu bytes, want %zu with "
	    "no lone %%", c->name, n, len + pct);
	if (c->want_len > 0)
		ck_assert_msg(len == c->want_len, "%s: got length %zu, "
		    "want %zu", c->name, len, c->want_len);
	if (c->want_suffix != NULL)
		ck_assert_msg(len >= strlen(c->want_suffix) &&
		    strcmp(line + len - strlen(c->want_suffix),
		    c->want_suffix) == 0, "%s: got ending \"%s\", want \"%s\"",
		    c->name, line + (len > 8 ? len - 8 : 0), c->want_suffix);
}

START_TEST(test_hostile)
{
	const struct hostile_case *c = &hostile_cases[_i];
	char *v = repeat(c->unit, 10240);
	const struct reply_ctx ctx = { v, v, v, v, v, v, v, v, &vars_hour, v, v };
	const char *lines[2] = { c->tmpl, "Second line about %{rcpt}." };
	struct reply_text out;
	struct reply *r;
	char err[512] = "";
	int i;

	r = reply_new("t", 550, "5.7.1", lines, 2, err, sizeof err);
	ck_assert_msg(r != NULL, "%s: template refused: %s", c->name, err);
	memset(&out, 'Z', sizeof out);
	ck_assert_msg(reply_render(r, &ctx, &out) == 2,
	    "%s: got %d lines, want 2", c->name, out.nlines);
	check_hostile_line(c, out.line[0]);
	for (i = 0; i < 2; i++)
		ck_assert_msg(memchr(out.line[i], '\0', REPLY_LINE_MAX + 1)
		    != NULL, "%s: line %d not terminated", c->name, i);
	ck_assert_msg(strncmp(out.line[1], "Second line about ", 18) == 0 &&
	    strlen(out.line[1]) <= 18 + REPLY_VALUE_MAX + 1,
	    "%s: got second line \"%.40s...\"", c->name, out.line[1]);
	reply_free(r);
	free(v);
}
END_TEST

/* reply_escape: '%' doubled, cut never between the two. */
struct escape_case {
	const char *name;
	const char *in;
	size_t outsz;
	const char *want;
};

static const struct escape_case escape_cases[] = {
	{ "no percent", "abc", 10, "abc" },
	{ "empty", "", 10, "" },
	{ "doubling", "a%b%%c", 20, "a%%b%%%%c" },
	{ "macro-like", "%{rcpt}", 20, "%%{rcpt}" },
	{ "cut before a pair", "ab%", 4, "ab" },
	{ "pair fits exactly", "ab%", 5, "ab%%" },
	{ "cut plain", "abcdef", 4, "abc" },
	{ "only percents, odd room", "%%%", 6, "%%%%" },
	{ "only percents, even room", "%%%", 7, "%%%%%%" },
	{ "outsz 1", "abc", 1, "" },
	{ "outsz 2 before percent", "%a", 2, "" },
};

START_TEST(test_escape)
{
	const struct escape_case *c = &escape_cases[_i];
	char out[64];
	size_t n;

	memset(out, 'Z', sizeof out);
	n = reply_escape(c->in, out, c->outsz);
	ck_assert_msg(strcmp(out, c->want) == 0 && n == strlen(c->want),
	    "%s: got \"%s\" (%zu), want \"%s\"", c->name, out, n, c->want);
	ck_assert_msg(out[c->outsz] == 'Z' && n < c->outsz,
	    "%s: wrote past outsz %zu", c->name, c->outsz);
	ck_assert_msg(!has_lone_pct(out), "%s: got a lone %% in \"%s\"",
	    c->name, out);
}
END_TEST

/* Escaping every prefix length of a mixed string never leaves a lone '%'. */
START_TEST(test_escape_bounds)
{
	const char *in = "%a%%b%%%c%%%%";
	char out[64];
	size_t sz, n;

	for (sz = 1; sz < 40; sz++) {
		memset(out, 'Z', sizeof out);
		n = reply_escape(in, out, sz);
		ck_assert_msg(n < sz && out[sz] == 'Z' && !has_lone_pct(out),
		    "outsz %zu: got \"%s\" (%zu), want under %zu bytes with "
		    "no lone %%", sz, out, n, sz);
	}
	n = reply_escape(in, out, 0);
	ck_assert_msg(n == 0, "outsz 0: got %zu, want 0", n);
}
END_TEST

struct duration_case {
	unsigned long seconds;
	size_t outsz;
	const char *want;
};

static const struct duration_case duration_cases[] = {
	{ 0, 32, "0 s" },
	{ 1, 32, "1 s" },
	{ 36, 32, "36 s" },
	{ 60, 32, "1 min" },
	{ 130, 32, "2 min 10 s" },
	{ 600, 32, "10 min" },
	{ 3600, 32, "1 h" },
	{ 3660, 32, "1 h 1 min" },
	{ 86400, 32, "1 d" },
	{ 90061, 32, "1 d 1 h 1 min 1 s" },
	{ 604800, 32, "7 d" },
	{ 130, 4, "2 m" },
	{ 130, 1, "" },
};

START_TEST(test_duration)
{
	const struct duration_case *c = &duration_cases[_i];
	char out[64];
	size_t n;

	memset(out, 'Z', sizeof out);
	n = reply_duration(c->seconds, out, c->outsz);
	ck_assert_msg(strcmp(out, c->want) == 0 && n == strlen(c->want),
	    "%lu s in %zu: got \"%s\" (%zu), want \"%s\"", c->seconds,
	    c->outsz, out, n, c->want);
	ck_assert_msg(out[c->outsz] == 'Z', "%lu s: wrote past outsz %zu",
	    c->seconds, c->outsz);
}
END_TEST

/* Codes the catalogue must have, with their usual enhanced codes. */
struct info_case {
	int code;
	const char *xcode;
};

static const struct info_case info_cases[] = {
	{ 421, "4.7.0" }, { 450, "4.7.1" }, { 451, "4.3.0" },
	{ 452, "4.5.3" }, { 453, "4.7.0" }, { 501, "5.5.2" },
	{ 530, "5.7.0" }, { 550, "5.7.1" }, { 551, "5.1.6" },
	{ 552, "5.3.4" }, { 553, "5.1.3" }, { 554, "5.7.1" },
	{ 557, "5.7.1" },
};

START_TEST(test_catalogue)
{
	const struct info_case *c = &info_cases[_i];
	const struct reply_info *info = reply_info_find(c->code);
	const char *lines[1] = { "x" };
	char err[512] = "";
	struct reply *r;

	ck_assert_msg(info != NULL, "%d: got no entry, want one", c->code);
	ck_assert_msg(info->code == c->code && strcmp(info->xcode, c->xcode)
	    == 0, "%d: got %d %s, want %d %s", c->code, info->code,
	    info->xcode, c->code, c->xcode);
	ck_assert_msg(info->meaning[0] && info->side[0] && info->advice[0],
	    "%d: got an empty meaning, side or advice", c->code);
	r = reply_new(NULL, info->code, info->xcode, lines, 1, err,
	    sizeof err);
	ck_assert_msg(r != NULL, "%d %s: got \"%s\", want a valid pair",
	    c->code, info->xcode, err);
	reply_free(r);
}
END_TEST

/* Unknown codes have no entry; no entry has a class that differs. */
START_TEST(test_catalogue_all)
{
	static const int absent[] = { 0, 200, 299, 499, 599, 600 };
	const struct reply_info *info;
	size_t i;
	int code;

	for (i = 0; i < NELEM(absent); i++)
		ck_assert_msg(reply_info_find(absent[i]) == NULL,
		    "%d: got an entry, want none", absent[i]);
	for (code = 0; code < 1000; code++) {
		if ((info = reply_info_find(code)) == NULL)
			continue;
		ck_assert_msg(info->code == code && (info->xcode[0] - '0' ==
		    code / 100 || (code == 354 && info->xcode[0] == '\0')) &&
		    code >= 200 && code <= 599,
		    "%d: got %d %s, want a 2xx-5xx code of its own class",
		    code, info->code, info->xcode);
	}
}
END_TEST

/* Built-in replies: name, code, xcode; code 0: must not exist. */
struct builtin_case {
	const char *name;
	int code;
	const char *xcode;
};

static const struct builtin_case builtin_cases[] = {
	{ "relay_denied", 550, "5.7.1" },
	{ "access_denied", 550, "5.7.1" },
	{ "try_later", 450, "4.7.1" },
	{ "too_many_connections", 421, "4.7.0" },
	{ "too_many_messages", 453, "4.7.0" },
	{ "too_many_recipients", 452, "4.5.3" },
	{ "too_many_bytes", 452, "4.3.1" },
	{ "message_too_big", 552, "5.3.4" },
	{ "too_many_duplicates", 557, "5.7.1" },
	{ "store_unavailable", 451, "4.3.0" },
	{ "internal_error", 451, "4.3.0" },
	{ "no_such_reply", 0, NULL },
	{ "", 0, NULL },
	{ "RELAY_DENIED", 0, NULL },
};

START_TEST(test_builtin)
{
	const struct builtin_case *c = &builtin_cases[_i];
	const struct reply *b = reply_builtin(c->name);
	struct reply *r, *copy;
	char err[512] = "";
	int i;

	if (c->code == 0) {
		ck_assert_msg(b == NULL, "%s: got a reply, want none", c->name);
		return;
	}
	ck_assert_msg(b != NULL, "%s: got none, want a reply", c->name);
	ck_assert_msg(b->code == c->code && strcmp(b->xcode, c->xcode) == 0 &&
	    strcmp(b->name, c->name) == 0, "%s: got %s %d %s, want %d %s",
	    c->name, b->name, b->code, b->xcode, c->code, c->xcode);
	r = reply_new(b->name, b->code, b->xcode,
	    (const char *const *)b->lines, b->nlines, err, sizeof err);
	ck_assert_msg(r != NULL, "%s: got \"%s\", want a valid reply",
	    c->name, err);
	copy = reply_copy(b);
	ck_assert_msg(copy->code == b->code && copy->nlines == b->nlines &&
	    strcmp(copy->xcode, b->xcode) == 0, "%s: copy differs", c->name);
	for (i = 0; i < b->nlines; i++)
		ck_assert_msg(strcmp(copy->lines[i], b->lines[i]) == 0 &&
		    copy->lines[i] != b->lines[i], "%s: copy of line %d: got "
		    "\"%s\", want \"%s\"", c->name, i, copy->lines[i],
		    b->lines[i]);
	reply_free(copy);
	reply_free(r);
}
END_TEST

/* Rendering each built-in names no macro left unexpanded. */
START_TEST(test_builtin_render)
{
	const struct builtin_case *c = &builtin_cases[_i];
	const struct reply *b = reply_builtin(c->name);
	const struct reply_ctx ctx = { "192.0.2.7", "mx.example.net",
	    "mx.example.net", "a@example.net", "b@example.org", "alice",
	    "rule1", "4XyZ1F2", &vars_hour, "bl.example", "listed" };
	struct reply_text out;
	int i;

	if (c->code == 0)
		return;
	ck_assert_msg(b != NULL, "%s: got none, want a reply", c->name);
	reply_render(b, &ctx, &out);
	for (i = 0; i < out.nlines; i++)
		ck_assert_msg(strstr(out.line[i], "%{") == NULL &&
		    strstr(out.line[i], "unknown") == NULL &&
		    bad_byte(out.line[i]) == NULL, "%s line %d: got \"%s\", "
		    "want every macro expanded", c->name, i, out.line[i]);
}
END_TEST

/* Built-in texts with a number: singular and plural, and the party a
 * limit counts named instead of the client's address. */
struct words_case {
	const char *name, *reply;
	const struct pol_vars *vars;
	const char *want;
};

static const struct words_case words_cases[] = {
	{ "one duplicate before", "too_many_duplicates", &vars_one,
	  "already received 1 time within 1 min;" },
	{ "six duplicates before", "too_many_duplicates", &vars_hour,
	  "already received 6 times within 1 h;" },
	{ "one byte", "too_many_bytes", &vars_one, "at most 1 byte per 1 min." },
	{ "bytes", "too_many_bytes", &vars_hour, "at most 100 bytes per 1 h." },
	{ "messages per sender", "too_many_messages", &vars_one,
	  "Too many messages from sender <>: at most 1 per 1 min." },
	{ "messages per client", "too_many_messages", &vars_hour,
	  "Too many messages from client 192.0.2.7: at most 100 per 1 h." },
	{ "recipients", "too_many_recipients", &vars_one,
	  "Too many recipients from sender <>: at most 1 per 1 min" },
	{ "connections", "too_many_connections", &vars_hour,
	  "Too many connections from client 192.0.2.7: at most 100 per 1 h." },
	{ "bytes from", "too_many_bytes", &vars_one, "Too much mail from sender <>:" },
};

START_TEST(test_builtin_words)
{
	const struct words_case *c = &words_cases[_i];
	const struct reply *b = reply_builtin(c->reply);
	const struct reply_ctx ctx = { .client_addr = "198.51.100.9",
	    .sender = "", .rule = "r", .vars = c->vars };
	struct reply_text out;

	ck_assert_msg(b != NULL, "%s: no built-in %s", c->name, c->reply);
	reply_render(b, &ctx, &out);
	ck_assert_msg(strstr(out.line[0], c->want) != NULL &&
	    strstr(out.line[0], "198.51.100.9") == NULL, "%s: got \"%s\", "
	    "want it to hold \"%s\" and not the client address", c->name,
	    out.line[0], c->want);
}
END_TEST

START_TEST(test_free_null)
{
	reply_free(NULL);
	ck_assert_msg(reply_builtin(NULL) == NULL,
	    "reply_builtin(NULL): got a reply, want NULL");
}
END_TEST

static Suite *
replies_suite(void)
{
	Suite *s = suite_create("replies");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_parse, 0, NELEM(parse_cases));
	tcase_add_loop_test(tc, test_new, 0, NELEM(new_cases));
	tcase_add_loop_test(tc, test_long_template, 0, NELEM(long_cases));
	tcase_add_loop_test(tc, test_render, 0, NELEM(render_cases));
	tcase_add_loop_test(tc, test_hostile, 0, NELEM(hostile_cases));
	tcase_add_loop_test(tc, test_escape, 0, NELEM(escape_cases));
	tcase_add_test(tc, test_escape_bounds);
	tcase_add_loop_test(tc, test_duration, 0, NELEM(duration_cases));
	tcase_add_loop_test(tc, test_catalogue, 0, NELEM(info_cases));
	tcase_add_test(tc, test_catalogue_all);
	tcase_add_loop_test(tc, test_builtin, 0, NELEM(builtin_cases));
	tcase_add_loop_test(tc, test_builtin_render, 0, NELEM(builtin_cases));
	tcase_add_loop_test(tc, test_builtin_words, 0, NELEM(words_cases));
	tcase_add_test(tc, test_free_null);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run_suite(replies_suite());
}
