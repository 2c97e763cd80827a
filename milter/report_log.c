/*
 * report_log.c: this milter's decision lines and over-limit notices out
 * of a mail log; see report_log.h.  Values in those lines never hold a
 * space (the milter writes them as "_"), so a line is read as
 * space-separated "name=value" fields.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "report_log.h"
#include "text.h"

#define PROG	"milter-policy["

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

void
rpl_clock_init(struct rpl_clock *c, int64_t now_s)
{
	time_t t = (time_t)now_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	c->now_year = c->year = tm.tm_year + 1900;
	c->now_month = tm.tm_mon + 1;
	c->month = 0;
}

/* Copy the n bytes at s into dst (size dstsz), cut to fit, cleaned. */
static void
copy_cut(char *dst, size_t dstsz, const char *s, size_t n)
{
	size_t i;

	if (n >= dstsz)
		n = dstsz - 1;
	for (i = 0; i < n; i++)
		dst[i] = text_byte(s[i]);
	dst[n] = '\0';
}

static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* "HH:MM:SS[.frac]": seconds of the day; *end after it. */
static int64_t
day_clock(const char *s, const char **end)
{
	int h, m, sec;

	if (digits(s, 2, &h) < 0 || s[2] != ':' || digits(s + 3, 2, &m) < 0 ||
	    s[5] != ':' || digits(s + 6, 2, &sec) < 0 || h > 23 || m > 59 ||
	    sec > 60)
		return -1;
	for (s += 8; *s == '.' || isdigit((unsigned char)*s); s++)
		;
	*end = s;
	return (int64_t)h * 3600 + m * 60 + sec;
}

static int64_t
civil_day(int y, int m, int d)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d };

	return (int64_t)timegm(&tm) / 86400;
}

/* "Dec  1 11:38:22": seconds, the year from the clock; -1 if not one. */
static int64_t
bsd_time(const char *s, struct rpl_clock *c, const char **end)
{
	int mon, day, n;
	int64_t sec;

	for (mon = 0; mon < 12; mon++)
		if (strncmp(s, months[mon], 3) == 0 && s[3] == ' ')
			break;
	if (mon == 12)
		return -1;
	s += 4;
	if (*s == ' ')
		s++;			/* "Dec  1": a padded day */
	for (day = 0, n = 0; n < 2 && isdigit((unsigned char)*s); n++, s++)
		day = day * 10 + (*s - '0');
	if (n == 0 || *s++ != ' ' || day < 1 || day > 31)
		return -1;
	if ((sec = day_clock(s, end)) < 0)
		return -1;
	mon++;
	if (c->month == 0 && mon > c->now_month)
		c->year = c->now_year - 1;
	else if (c->month != 0 && mon + 6 < c->month)
		c->year++;
	c->month = mon;
	return civil_day(c->year, mon, day) * 86400 + sec;
}

/* "2026-12-01T11:38:22[.frac](Z|+hh:mm)": seconds; -1 if not one. */
static int64_t
rfc3339_time(const char *s, const char **end)
{
	int y, mo, d, oh, om;
	int64_t sec;

	if (digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0 ||
	    s[7] != '-' || digits(s + 8, 2, &d) < 0 || s[10] != 'T' ||
	    mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	if ((sec = day_clock(s + 11, &s)) < 0)
		return -1;
	sec += civil_day(y, mo, d) * 86400;
	if (*s == 'Z') {
		s++;
	} else if ((*s == '+' || *s == '-') && digits(s + 1, 2, &oh) == 0 &&
	    s[3] == ':' && digits(s + 4, 2, &om) == 0) {
		sec -= (*s == '+' ? 1 : -1) * ((int64_t)oh * 3600 + om * 60);
		s += 6;
	}
	*end = s;
	return sec;
}

/* After "milter-policy[": "PID]: " and the message; NULL if not. */
static const char *
after_prog(const char *p)
{
	size_t n = strspn(p, "0123456789");

	if (n == 0 || p[n] != ']' || p[n + 1] != ':' || p[n + 2] != ' ')
		return NULL;
	return p + n + 3;
}

/* The head: time (if any), host, "milter-policy[PID]: "; the message. */
static const char *
parse_head(const char *line, struct rpl_clock *c, struct rpl_event *ev)
{
	const char *p;
	int64_t t;

	ev->time_ms = -1;
	if (strncmp(line, PROG, sizeof PROG - 1) == 0)
		return after_prog(line + sizeof PROG - 1);
	if ((t = rfc3339_time(line, &p)) < 0 && (t = bsd_time(line, c, &p)) < 0)
		return NULL;
	if (*p++ != ' ' || (p = strchr(p, ' ')) == NULL ||
	    strncmp(p + 1, PROG, sizeof PROG - 1) != 0)
		return NULL;
	ev->time_ms = t * 1000;
	return after_prog(p + 1 + sizeof PROG - 1);
}

/* The next space-separated token at *s: its start, length in *n. */
static const char *
token(const char **s, size_t *n)
{
	const char *t = *s;

	while (*t == ' ')
		t++;
	*n = strcspn(t, " ");
	*s = t + *n;
	return *n ? t : NULL;
}

/* "NAME[ADDR]": the address is in the last brackets. */
static int
set_client(struct rpl_event *ev, const char *v, size_t n)
{
	const char *b = NULL, *p;

	for (p = v; p < v + n; p++)
		if (*p == '[')
			b = p;
	if (b == NULL || n < 2 || v[n - 1] != ']')
		return -1;
	copy_cut(ev->client_name, sizeof ev->client_name, v, (size_t)(b - v));
	copy_cut(ev->client_addr, sizeof ev->client_addr, b + 1,
	    (size_t)(v + n - b - 2));
	return 0;
}

/* "<value>" without its brackets into dst; -1 when not bracketed. */
static int
set_angle(char *dst, size_t dstsz, const char *v, size_t n)
{
	if (n < 2 || v[0] != '<' || v[n - 1] != '>')
		return -1;
	copy_cut(dst, dstsz, v + 1, n - 2);
	return 0;
}

/* One "name=value" field into ev; unknown names are ignored. */
static int
set_field(struct rpl_event *ev, const char *t, size_t n)
{
	const char *eq = memchr(t, '=', n), *v;
	size_t nl, vl;
	int code;

	if (eq == NULL)
		return 0;
	nl = (size_t)(eq - t), v = eq + 1, vl = n - nl - 1;
#define IS(name)	(nl == sizeof name - 1 && memcmp(t, name, nl) == 0)
	if (IS("stage"))
		copy_cut(ev->stage, sizeof ev->stage, v, vl);
	else if (IS("rule"))
		copy_cut(ev->rule, sizeof ev->rule, v, vl);
	else if (IS("code"))
		return vl == 3 && digits(v, 3, &code) == 0 ?
		    (ev->code = code, 0) : -1;
	else if (IS("xcode"))
		copy_cut(ev->xcode, sizeof ev->xcode, v, vl);
	else if (IS("client"))
		return set_client(ev, v, vl);
	else if (IS("sender")) {
		ev->has_sender = 1;
		return set_angle(ev->sender, sizeof ev->sender, v, vl);
	}
	else if (IS("rcpt"))
		return set_angle(ev->rcpt, sizeof ev->rcpt, v, vl);
	else if (IS("key"))
		copy_cut(ev->key, sizeof ev->key, v, vl);
	else if (IS("limit"))
		copy_cut(ev->limit, sizeof ev->limit, v, vl);
#undef IS
	return 0;
}

static int
known_verb(const char *t, size_t n)
{
	static const char *const verbs[] = { "reject", "tempfail", "discard",
	    "quarantine", "error" };
	size_t i;

	if (n > 6 && memcmp(t, "would-", 6) == 0)
		t += 6, n -= 6;
	for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strlen(verbs[i]) == n && memcmp(t, verbs[i], n) == 0)
			return 1;
	return 0;
}

/* "QID: VERB field..." after the head. */
static enum rpl_kind
parse_message(const char *s, struct rpl_event *ev)
{
	const char *t;
	size_t n;

	if ((t = token(&s, &n)) == NULL || n < 2 || t[n - 1] != ':' ||
	    (t = token(&s, &n)) == NULL)
		return RPL_SKIP;
	if (n == 10 && memcmp(t, "over-limit", 10) == 0)
		ev->kind = RPL_OVER;
	else if (known_verb(t, n) && n < sizeof ev->verb) {
		ev->kind = RPL_DECISION;
		copy_cut(ev->verb, sizeof ev->verb, t, n);
		ev->dry_run = strncmp(ev->verb, "would-", 6) == 0;
	} else
		return RPL_SKIP;
	while ((t = token(&s, &n)) != NULL)
		if (set_field(ev, t, n) < 0)
			return ev->kind = RPL_SKIP;
	if (ev->rule[0] == '\0' || (ev->kind == RPL_DECISION &&
	    (ev->stage[0] == '\0' || ev->client_addr[0] == '\0')) ||
	    (ev->kind == RPL_OVER && (ev->key[0] == '\0' || ev->limit[0] == '\0')))
		ev->kind = RPL_SKIP;
	return ev->kind;
}

enum rpl_kind
rpl_parse(const char *line, struct rpl_clock *c, struct rpl_event *ev)
{
	static const struct rpl_event empty;
	const char *msg;

	*ev = empty;
	if ((msg = parse_head(line, c, ev)) == NULL)
		return ev->kind = RPL_SKIP;
	return parse_message(msg, ev);
}
