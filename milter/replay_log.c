/*
 * replay_log.c: a Postfix mail log line into a struct rlog_event.  See
 * replay_log.h for what is understood; everything else is a skip.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay_log.h"

#define NELEM(a)	(sizeof (a) / sizeof (a)[0])

static const char *const skip_names[RLOG_NSKIP] = {
	[RLOG_SKIP_HEAD] = "not a syslog line",
	[RLOG_SKIP_PROGRAM] = "another program",
	[RLOG_SKIP_UNUSED] = "a Postfix line replay does not use",
	[RLOG_SKIP_MALFORMED] = "a Postfix line not as expected",
};

const char *
rlog_skip_name(enum rlog_skip s)
{
	return s < RLOG_NSKIP ? skip_names[s] : "?";
}

/* Copy the n bytes at s into dst (size dstsz), cut to fit. */
static void
copy_cut(char *dst, size_t dstsz, const char *s, size_t n)
{
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/*
 * The head: time, host, "prog[pid]: ".  Sets ev->time_ms, ev->session
 * and *service (the program's last path component: "smtpd"); returns the
 * message text, or NULL (ev->skip says why).
 */
static const char *
parse_head(const char *line, struct syslog_clock *c, struct rlog_event *ev,
    char *service, size_t servicesz)
{
	const char *p, *host, *prog, *bracket, *slash;
	int64_t t;

	if ((t = syslog_time(line, c, &p)) < 0)
		return ev->skip = RLOG_SKIP_HEAD, NULL;
	ev->time_ms = t;
	if (*p++ != ' ')
		return ev->skip = RLOG_SKIP_HEAD, NULL;
	host = p;
	if ((p = strchr(host, ' ')) == NULL)
		return ev->skip = RLOG_SKIP_HEAD, NULL;
	prog = p + 1;
	if ((p = strstr(prog, ": ")) == NULL || (bracket = memchr(prog, '[',
	    (size_t)(p - prog))) == NULL || p[-1] != ']')
		return ev->skip = RLOG_SKIP_PROGRAM, NULL;
	if (strncmp(prog, "postfix", 7) != 0 ||
	    (slash = memrchr(prog, '/', (size_t)(bracket - prog))) == NULL)
		return ev->skip = RLOG_SKIP_PROGRAM, NULL;
	copy_cut(service, servicesz, slash + 1, (size_t)(bracket - slash - 1));
	copy_cut(ev->session, sizeof ev->session, host, (size_t)(p - host));
	return p + 2;
}

/* A queue ID and ": " at s: copied into ev->qid; the text after it. */
static const char *
parse_qid(const char *s, struct rlog_event *ev)
{
	size_t n = strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz");

	if (n < 5 || n >= sizeof ev->qid || s[n] != ':' || s[n + 1] != ' ')
		return NULL;
	copy_cut(ev->qid, sizeof ev->qid, s, n);
	return s + n + 2;
}

/*
 * The value of "NAME=<...>" in s (without <>) into dst; 0 when absent.
 * Postfix puts these fields at the end of a line, after a reply text the
 * client may have shaped: the last occurrence is the field.
 */
static int
field_angle(const char *s, const char *name, char *dst, size_t dstsz)
{
	char pat[32];
	const char *v = NULL, *at, *e;
	size_t n = (size_t)snprintf(pat, sizeof pat, "%s=<", name);

	for (at = s; (at = strstr(at, pat)) != NULL; at++)
		if (at == s || at[-1] == ' ')
			v = at + n;
	if (v == NULL)
		return 0;
	/* the closing '>' is the one before a separator or the end */
	for (e = v; (e = strchr(e, '>')) != NULL; e++)
		if (e[1] == '\0' || e[1] == ',' || e[1] == ' ' || e[1] == ';')
			break;
	if (e == NULL)
		return 0;
	copy_cut(dst, dstsz, v, (size_t)(e - v));
	return 1;
}

/* The value of "NAME=VALUE" (up to ',' or ' ') into dst; 0 when absent. */
static int
field_plain(const char *s, const char *name, char *dst, size_t dstsz)
{
	char pat[32];
	const char *v;

	snprintf(pat, sizeof pat, " %s=", name);
	if ((v = strstr(s, pat)) == NULL)
		return 0;
	v += strlen(pat);
	copy_cut(dst, dstsz, v, strcspn(v, ", "));
	return 1;
}

/* "NAME[ADDR]" at s into the event's client; the text after, or NULL. */
static const char *
parse_client(const char *s, struct rlog_event *ev)
{
	const char *open = strchr(s, '['), *close;

	if (open == NULL || (close = strchr(open, ']')) == NULL ||
	    memchr(s, ' ', (size_t)(open - s)) != NULL)
		return NULL;
	copy_cut(ev->client_name, sizeof ev->client_name, s, (size_t)(open - s));
	copy_cut(ev->client_addr, sizeof ev->client_addr, open + 1,
	    (size_t)(close - open - 1));
	return close + 1;
}

/* "reject: STAGE from NAME[ADDR]: ...; from=<S> to=<R> proto=P helo=<H>" */
static enum rlog_kind
parse_reject(const char *s, struct rlog_event *ev, int by_milter)
{
	size_t n = strcspn(s, " ");

	ev->by_milter = by_milter;
	copy_cut(ev->reject_stage, sizeof ev->reject_stage, s, n);
	s += n;
	if (strncmp(s, " from ", 6) != 0 || parse_client(s + 6, ev) == NULL)
		return ev->skip = RLOG_SKIP_MALFORMED, RLOG_SKIP;
	ev->has_sender = field_angle(s, "from", ev->sender, sizeof ev->sender);
	field_angle(s, "to", ev->rcpt, sizeof ev->rcpt);
	field_angle(s, "helo", ev->helo, sizeof ev->helo);
	field_angle(s, "sasl_username", ev->user, sizeof ev->user);
	if (strcmp(ev->reject_stage, "DATA") == 0 ||
	    strcmp(ev->reject_stage, "END-OF-MESSAGE") == 0)
		return ev->qid[0] != '\0' ? RLOG_QREJECT : RLOG_REJECT;
	return RLOG_REJECT;
}

static enum rlog_kind
parse_smtpd(const char *s, struct rlog_event *ev)
{
	const char *t;

	if (strncmp(s, "connect from ", 13) == 0)
		return parse_client(s + 13, ev) ? RLOG_CONNECT :
		    (ev->skip = RLOG_SKIP_MALFORMED, RLOG_SKIP);
	if (strncmp(s, "disconnect from ", 16) == 0)
		return parse_client(s + 16, ev) ? RLOG_DISCONNECT :
		    (ev->skip = RLOG_SKIP_MALFORMED, RLOG_SKIP);
	if (strncmp(s, "NOQUEUE: ", 9) == 0)
		t = s + 9;
	else if ((t = parse_qid(s, ev)) == NULL)
		return ev->skip = RLOG_SKIP_UNUSED, RLOG_SKIP;
	if (strncmp(t, "client=", 7) == 0) {
		if (parse_client(t + 7, ev) == NULL)
			return ev->skip = RLOG_SKIP_MALFORMED, RLOG_SKIP;
		field_plain(t, "sasl_username", ev->user, sizeof ev->user);
		return RLOG_CLIENT;
	}
	if (strncmp(t, "reject: ", 8) == 0)
		return parse_reject(t + 8, ev, 0);
	if (strncmp(t, "milter-reject: ", 15) == 0)
		return parse_reject(t + 15, ev, 1);
	return ev->skip = RLOG_SKIP_UNUSED, RLOG_SKIP;
}

static enum rlog_kind
parse_cleanup(const char *s, struct rlog_event *ev)
{
	const char *t;

	if ((t = parse_qid(s, ev)) == NULL)
		return ev->skip = RLOG_SKIP_UNUSED, RLOG_SKIP;
	if (strncmp(t, "message-id=", 11) == 0) {
		t += 11;
		if (*t == '<')
			t++;
		copy_cut(ev->msgid, sizeof ev->msgid, t, strcspn(t, ">"));
		return RLOG_MSGID;
	}
	/* a milter at end of data, or header/body checks */
	if (strncmp(t, "milter-reject: ", 15) == 0)
		return parse_reject(t + 15, ev, 1) == RLOG_SKIP ? RLOG_SKIP : RLOG_QREJECT;
	if (strncmp(t, "reject: ", 8) == 0)
		return parse_reject(t + 8, ev, 0) == RLOG_SKIP ? RLOG_SKIP : RLOG_QREJECT;
	return ev->skip = RLOG_SKIP_UNUSED, RLOG_SKIP;
}

static enum rlog_kind
parse_qmgr(const char *s, struct rlog_event *ev)
{
	const char *t;
	char num[32];

	if ((t = parse_qid(s, ev)) == NULL)
		return ev->skip = RLOG_SKIP_UNUSED, RLOG_SKIP;
	if (strcmp(t, "removed") == 0)
		return RLOG_REMOVED;
	if (strncmp(t, "from=<", 6) != 0 || strstr(t, ", size=") == NULL)
		return ev->skip = RLOG_SKIP_UNUSED, RLOG_SKIP;
	if (!field_angle(t, "from", ev->sender, sizeof ev->sender))
		return ev->skip = RLOG_SKIP_MALFORMED, RLOG_SKIP;
	if (field_plain(t, "size", num, sizeof num))
		ev->size = strtoul(num, NULL, 10);
	if (field_plain(t, "nrcpt", num, sizeof num))
		ev->nrcpt = strtoul(num, NULL, 10);
	return RLOG_FROM;
}

static enum rlog_kind
parse_delivery(const char *s, struct rlog_event *ev)
{
	const char *t;

	if ((t = parse_qid(s, ev)) == NULL || strncmp(t, "to=<", 4) != 0)
		return ev->skip = RLOG_SKIP_UNUSED, RLOG_SKIP;
	/* the address as the client gave it, when aliasing changed it */
	if (!field_angle(t, "orig_to", ev->rcpt, sizeof ev->rcpt) &&
	    !field_angle(t, "to", ev->rcpt, sizeof ev->rcpt))
		return ev->skip = RLOG_SKIP_MALFORMED, RLOG_SKIP;
	return RLOG_TO;
}

static const struct {
	const char *service;
	enum rlog_kind (*parse)(const char *, struct rlog_event *);
} services[] = {
	{ "smtpd", parse_smtpd }, { "cleanup", parse_cleanup },
	{ "qmgr", parse_qmgr }, { "smtp", parse_delivery },
	{ "lmtp", parse_delivery }, { "local", parse_delivery },
	{ "virtual", parse_delivery }, { "pipe", parse_delivery },
	{ "error", parse_delivery }, { "discard", parse_delivery },
	{ "retry", parse_delivery },
};

enum rlog_kind
rlog_parse(const char *line, struct syslog_clock *c, struct rlog_event *ev)
{
	char service[32];
	const char *text;
	size_t i;

	memset(ev, 0, sizeof *ev);
	if ((text = parse_head(line, c, ev, service, sizeof service)) == NULL)
		return ev->kind = RLOG_SKIP;
	for (i = 0; i < NELEM(services); i++)
		if (strcmp(service, services[i].service) == 0)
			return ev->kind = services[i].parse(text, ev);
	ev->skip = RLOG_SKIP_UNUSED;
	return ev->kind = RLOG_SKIP;
}

int64_t
rlog_parse_time(const char *s)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	int k = sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n);

	if (k != 3 || mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	s += n;
	if ((*s == ' ' || *s == 'T') &&
	    sscanf(s + 1, "%2d:%2d%n", &h, &mi, &n) == 2) {
		s += 1 + n;
		if (*s == ':' && sscanf(s + 1, "%2d%n", &sec, &n) == 1)
			s += 1 + n;
	}
	if (*s != '\0' || h > 23 || mi > 59 || sec > 60)
		return -1;
	return (syslog_civil_day(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000;
}
