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
parse_head(const char *line, struct syslog_clock *c, struct rpl_event *ev)
{
	const char *p;
	int64_t t;

	ev->time_ms = -1;
	if (strncmp(line, PROG, sizeof PROG - 1) == 0)
		return after_prog(line + sizeof PROG - 1);
	if ((t = syslog_time(line, c, &p)) < 0)
		return NULL;
	if (*p++ != ' ' || (p = strchr(p, ' ')) == NULL ||
	    strncmp(p + 1, PROG, sizeof PROG - 1) != 0)
		return NULL;
	ev->time_ms = t;
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

	if (eq == NULL)
		return 0;
	nl = (size_t)(eq - t), v = eq + 1, vl = n - nl - 1;
#define IS(name)	(nl == sizeof name - 1 && memcmp(t, name, nl) == 0)
	if (IS("stage"))
		copy_cut(ev->stage, sizeof ev->stage, v, vl);
	else if (IS("rule"))
		copy_cut(ev->rule, sizeof ev->rule, v, vl);
	else if (IS("code"))
		return vl == 3 && isdigit((unsigned char)v[0]) &&
		    isdigit((unsigned char)v[1]) && isdigit((unsigned char)v[2]) ?
		    (ev->code = (v[0] - '0') * 100 + (v[1] - '0') * 10 +
		    (v[2] - '0'), 0) : -1;
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
rpl_parse(const char *line, struct syslog_clock *c, struct rpl_event *ev)
{
	static const struct rpl_event empty;
	const char *msg;

	*ev = empty;
	if ((msg = parse_head(line, c, ev)) == NULL)
		return ev->kind = RPL_SKIP;
	return parse_message(msg, ev);
}
