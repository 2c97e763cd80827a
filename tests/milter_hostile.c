/*
 * milter_hostile: hostile input straight through the milter protocol, the
 * way no well-behaved MTA would send it: stages out of order, EOM twice,
 * 64 kB addresses, CR/LF, NUL, 8-bit bytes and `%` in every envelope
 * field and macro, missing macros, 10,000 recipients, 100,000 headers, a
 * header over libmilter's packet limit, clients that leave at every stage,
 * and 1,000 connections at once.
 *
 *	milter_hostile SOCKET PID
 *
 * SOCKET is the milter's (unix:/PATH or inet:PORT@HOST), PID its process,
 * for its resident memory and to see it is still alive.  The milter runs
 * tests/e2e/hostile.conf: no client may relay, example.com is local, 3
 * messages and 5,000 recipients per client.  After every case a well-formed
 * transaction must still get its right answers.  Prints "ok - ..." or
 * "FAIL: ..." per check, for tests/e2e/test_protocol.sh.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include "milter_client.h"
#include "util.h"

#define TIMEOUT_MS	10000
#define CONCURRENT	1000
#define RSS_PER_CONN_KB	64	/* the bound stated in doc/SECURITY.md */

static const char *sock;
static pid_t milter_pid;
static int failures;

static void
check(int cond, const char *fmt, ...)
{
	va_list ap;

	fputs(cond ? "ok - " : "FAIL: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	failures += !cond;
}

static long
rss_kb(void)
{
	char path[64], line[256];
	long kb = -1;
	FILE *fp;

	snprintf(path, sizeof path, "/proc/%d/status", (int)milter_pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, fp) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

static int
alive(void)
{
	return kill(milter_pid, 0) == 0;
}

/* A negotiated connection, or NULL (reported). */
static struct mc_conn *
conn_open(int timeout_ms)
{
	char err[256];
	struct mc_conn *c = mc_open(sock, timeout_ms, err, sizeof err);

	if (c == NULL) {
		check(0, "connect to %s: %s", sock, err);
		return NULL;
	}
	if (mc_negotiate(c, 0, 0, 0) != MC_OK) {
		check(0, "negotiate: %s", mc_error(c));
		mc_close(c);
		return NULL;
	}
	return c;
}

/* A reply's text is whole SMTP lines: "DDD[ -]..." of printable ASCII,
 * joined by CRLF, the code the same on each; no bare CR or LF. */
static int
text_clean(const char *t)
{
	const char *line = t;

	if (*t == '\0')
		return 1;
	for (;;) {
		if (strncmp(line, t, 3) != 0 || (line[3] != ' ' && line[3] != '-'))
			return 0;
		for (; *line >= 0x20 && *line < 0x7f; line++)
			;
		if (*line == '\0')
			return 1;
		if (line[0] != '\r' || line[1] != '\n')
			return 0;
		line += 2;
	}
}

/* The answer is one a milter may give, with clean text. */
static int
reply_sane(const struct mc_reply *r)
{
	switch (r->action) {
	case SMFIR_CONTINUE: case SMFIR_ACCEPT: case SMFIR_REJECT:
	case SMFIR_TEMPFAIL: case SMFIR_DISCARD: case SMFIR_REPLYCODE:
		return text_clean(r->text);
	default:
		return 0;
	}
}

/* A well-formed transaction from 192.0.2.N: a relay attempt gets
 * 550 5.7.1, a local recipient is taken, the message passes. */
static void
healthy(const char *after)
{
	static int n;	/* a client of its own each time: 3 messages each */
	static const char *from[] = { "<alice@client.test>", NULL };
	static const char *far[] = { "<bob@other.test>", NULL };
	static const char *local[] = { "<bob@example.com>", NULL };
	struct mc_conn *c = conn_open(TIMEOUT_MS);
	struct mc_reply r1, r2, r3;
	char addr[32];
	int ok;

	if (c == NULL)
		return;
	memset(&r1, 0, sizeof r1);
	r3 = r2 = r1;
	snprintf(addr, sizeof addr, "192.0.2.%d", ++n);
	ok = mc_connect(c, "client.test", addr, 4000, NULL) >= 0 &&
	    mc_helo(c, "client.test", NULL) >= 0 &&
	    mc_mail(c, from, NULL) >= 0 &&
	    mc_rcpt(c, far, &r1) == MC_OK && mc_rcpt(c, local, &r2) == MC_OK &&
	    mc_data(c, NULL) >= 0 && mc_header(c, "Subject", "hi", NULL) >= 0 &&
	    mc_eoh(c, NULL) >= 0 && mc_body(c, "hello\r\n", 7, NULL) >= 0 &&
	    mc_eom(c, &r3) == MC_OK;
	ok = ok && r1.action == SMFIR_REPLYCODE &&
	    strncmp(r1.text, "550", 3) == 0 && strncmp(r1.text + 4, "5.7.1", 5) == 0 &&
	    r2.action == SMFIR_CONTINUE &&
	    (r3.action == SMFIR_CONTINUE || r3.action == SMFIR_ACCEPT);
	check(ok, "after %s: the milter is up and answers the next client right",
	    after);
	if (!ok)
		printf("# got %s \"%.60s\", %s, %s: %s\n", mc_cmd_name(r1.action,
		    1), r1.text, mc_cmd_name(r2.action, 1),
		    mc_cmd_name(r3.action, 1), mc_error(c));
	mc_quit(c);
	mc_close(c);
}

/* hostile.conf gathers the body for a fingerprint, and a header rule
 * answers at each header: one round trip saved, the other kept. */
static void
case_negotiation(void)
{
	struct mc_conn *c = conn_open(TIMEOUT_MS);

	if (c == NULL)
		return;
	check(mc_no_reply(c, SMFIC_BODY), "negotiation: no answer asked for "
	    "body chunks (only gathered)");
	check(!mc_no_reply(c, SMFIC_HEADER), "negotiation: headers answered "
	    "(a header rule may refuse there)");
	mc_close(c);
}

/* SMFIC_QUIT_NC: a new session on the same connection, after the first
 * one's close; the negotiated steps still hold and answers line up. */
static void
case_quit_nc(void)
{
	static const char *from[] = { "<q@client.test>", NULL };
	static const char *to[] = { "<u@example.com>", NULL };
	struct mc_conn *c = conn_open(2000);
	struct mc_packet pk;
	struct mc_reply r;
	int round, ok = 1;

	if (c == NULL)
		return;
	for (round = 0; round < 2 && ok; round++) {
		memset(&r, 0, sizeof r);
		ok = mc_connect(c, "h", "198.51.100.9", 25, NULL) >= 0 &&
		    mc_mail(c, from, NULL) >= 0 && mc_rcpt(c, to, NULL) >= 0 &&
		    mc_header(c, "Subject", "x", NULL) >= 0 &&
		    mc_eoh(c, NULL) >= 0 && mc_body(c, "b\r\n", 3, NULL) >= 0 &&
		    mc_eom(c, &r) == MC_OK &&
		    (r.action == SMFIR_CONTINUE || r.action == SMFIR_ACCEPT);
		if (round == 0)
			mc_send(c, SMFIC_QUIT_NC, "", 0);
	}
	mc_set_timeout(c, 300);
	check(ok && mc_read(c, &pk) == MC_TIMEOUT, "QUIT_NC, then a second "
	    "session on the same connection: its answers line up, none extra");
	mc_close(c);
}

/* ---- stages out of order ---- */

struct step { int cmd; const char *data; size_t len; };

#define S(cmd, lit)	{ cmd, lit, sizeof lit }
#define END		{ 0, NULL, 0 }

static const struct {
	const char *name;
	struct step steps[6];
} disorders[] = {
	{ "BODY before MAIL", { S(SMFIC_BODY, "body"), S(SMFIC_BODYEOB, ""), END } },
	{ "EOM first of all", { S(SMFIC_BODYEOB, ""), END } },
	{ "RCPT before CONNECT", { S(SMFIC_RCPT, "<x@other.test>"), END } },
	{ "HEADER and EOH before MAIL", { S(SMFIC_HEADER, "Subject\0x"),
	    S(SMFIC_EOH, ""), END } },
	{ "EOM twice", { S(SMFIC_CONNECT, "h\0" "4\x0f\xa0" "192.0.2.7"),
	    S(SMFIC_MAIL, "<a@b.test>"), S(SMFIC_RCPT, "<c@example.com>"),
	    S(SMFIC_BODYEOB, ""), S(SMFIC_BODYEOB, ""), END } },
	{ "MAIL twice, then ABORT twice", { S(SMFIC_CONNECT, "h\0" "4\x0f\xa0" "192.0.2.7"),
	    S(SMFIC_MAIL, "<a@b.test>"), S(SMFIC_MAIL, "<a@b.test>"),
	    S(SMFIC_ABORT, ""), S(SMFIC_ABORT, ""), END } },
	{ "an unknown command byte", { { 'Z', "zzz", 3 }, END } },
	{ "CONNECT with a truncated address", { S(SMFIC_CONNECT, "h\0" "4"), END } },
};

static void
case_disorder(void)
{
	struct mc_reply r;
	size_t i, k;
	int sane;

	for (i = 0; i < NELEM(disorders); i++) {
		struct mc_conn *c = conn_open(2000);

		if (c == NULL)
			return;
		sane = 1;
		for (k = 0; disorders[i].steps[k].data != NULL; k++) {
			const struct step *s = &disorders[i].steps[k];
			int rc;

			if (mc_send(c, s->cmd, s->data, s->len) != MC_OK)
				break;
			if (s->cmd == SMFIC_ABORT)
				continue;	/* never answered */
			rc = mc_reply(c, &r);
			if (rc == MC_CLOSED || rc == MC_TIMEOUT || rc == MC_ERROR)
				break;	/* hanging up or saying nothing is fine */
			sane &= rc == MC_OK && reply_sane(&r);
		}
		mc_close(c);
		check(sane && alive(), "%s: a sane answer or a hang-up, and the "
		    "milter is alive", disorders[i].name);
	}
	healthy("stages out of order");
}

/* ---- hostile values ---- */

/* One transaction with these values; every answer must be sane. */
static int
transaction(const char *host, const char *addr, const char *helo,
    const char *sender, const char *rcpt, const char *const *macros)
{
	const char *from[] = { sender, NULL }, *to[] = { rcpt, NULL };
	struct mc_conn *c = conn_open(TIMEOUT_MS);
	struct mc_reply r[5];
	int ok, i;

	if (c == NULL)
		return 0;
	memset(r, 0, sizeof r);
	if (macros != NULL)
		mc_macro(c, SMFIC_CONNECT, macros);
	ok = mc_connect(c, host, addr, 25, &r[0]) >= 0 &&
	    mc_helo(c, helo, &r[1]) >= 0;
	if (ok && macros != NULL)
		mc_macro(c, SMFIC_MAIL, macros);
	ok = ok && mc_mail(c, from, &r[2]) >= 0 && mc_rcpt(c, to, &r[3]) >= 0 &&
	    mc_eom(c, &r[4]) >= 0;
	for (i = 0; ok && i < 5; i++)
		if (!(ok = r[i].action == 0 || reply_sane(&r[i])))
			printf("# step %d: %s \"%s\"\n", i, mc_cmd_name(r[i].action,
			    1), r[i].text);
	if (!ok && i == 0)
		printf("# %s\n", mc_error(c));
	mc_quit(c);
	mc_close(c);
	return ok;
}

/* libmilter itself hangs up on an address it cannot parse. */
static void
bad_client_address(void)
{
	struct mc_conn *c = conn_open(2000);
	struct mc_reply r;
	int rc;

	if (c == NULL)
		return;
	rc = mc_connect(c, "h", "not-an-address", 25, &r);
	check(alive() && (rc < 0 || reply_sane(&r)), "a client address that is "
	    "not one: a hang-up or a sane answer");
	mc_close(c);
}

static char *
long_address(size_t n, const char *domain)
{
	char *a = malloc(n + strlen(domain) + 4);

	a[0] = '<';
	memset(a + 1, 'x', n);
	snprintf(a + 1 + n, strlen(domain) + 3, "@%s>", domain);
	return a;
}

static void
case_values(void)
{
	static const char *dirty[] = { "{daemon_name}", "mx\r\n550 5.0.0 fake%n",
	    "{auth_authen}", "user%s\r\n\x1b[2J", "i", "Q%dID\r\n", "j",
	    "\xff\xfe%%", NULL };
	char *big = long_address(64000, "other.test"), *bigl =
	    long_address(64000, "example.com");

	check(transaction("h", "192.0.2.101", "helo.test", big, bigl, NULL),
	    "64 kB sender and recipient: sane answers");
	check(transaction("h\r\nx", "192.0.2.102", "evil\r\n250 fake%n%s",
	    "<a\r\nb%x@evil.test>", "<%n\r\n@other.test>", dirty),
	    "CR/LF and %% in every envelope field and macro: clean replies");
	check(transaction("\xff\x80", "192.0.2.103", "\xc3\xa4\xff.test",
	    "<\xff\xfe@evil.test>", "<\x80@other.test>", NULL),
	    "8-bit bytes in every field: clean replies");
	check(transaction("", NULL, "", "<>", "<>", NULL),
	    "no address, empty HELO and null addresses: sane answers");
	check(transaction("h", "192.0.2.104", "h", "<@a,@b:c@other.test>",
	    "<c%d@example.com@other.test>", NULL),
	    "routed addresses: sane answers");
	bad_client_address();
	free(big);
	free(bigl);
	healthy("hostile values");
}

/* NUL inside a field: the packet as it is on the wire. */
static void
case_nul(void)
{
	static const char helo[] = "a\0b\0c";
	static const char mail[] = "<a@b\0.test>\0SIZE=1\0\0\0";
	struct mc_conn *c = conn_open(2000);
	struct mc_reply r;
	int rc, sane = 1;

	if (c == NULL)
		return;
	mc_connect(c, "h", "192.0.2.105", 25, NULL);
	if (mc_send(c, SMFIC_HELO, helo, sizeof helo) == MC_OK &&
	    !mc_no_reply(c, SMFIC_HELO) && (rc = mc_reply(c, &r)) == MC_OK)
		sane &= reply_sane(&r);
	if (mc_send(c, SMFIC_MAIL, mail, sizeof mail) == MC_OK &&
	    (rc = mc_reply(c, &r)) == MC_OK)
		sane &= reply_sane(&r);
	mc_close(c);
	check(sane && alive(), "NUL bytes inside HELO and MAIL: sane answers");
	healthy("NUL bytes");
}

/* ---- volume ---- */

static void
case_many_recipients(void)
{
	static const char *from[] = { "<many@client.test>", NULL };
	struct mc_conn *c = conn_open(TIMEOUT_MS);
	long before = rss_kb();
	struct mc_reply r;
	char rcpt[64];
	const char *to[] = { rcpt, NULL };
	int i, sane = 1, refused = 0;

	if (c == NULL)
		return;
	memset(&r, 0, sizeof r);
	mc_connect(c, "h", "198.51.100.1", 25, NULL);
	mc_mail(c, from, NULL);
	for (i = 0; i < 10000 && sane; i++) {
		snprintf(rcpt, sizeof rcpt, "<u%d@example.com>", i);
		sane = mc_rcpt(c, to, &r) == MC_OK && reply_sane(&r);
		refused += r.action != SMFIR_CONTINUE;
	}
	mc_eom(c, &r);
	check(sane && i == 10000, "10,000 recipients in one transaction: "
	    "10,000 sane answers (%d refused by the recipient limit)", refused);
	check(refused == 10000 - 5000, "the recipient limit (5000) held: %d "
	    "refused, want 5000", refused);
	check(rss_kb() - before < 4096, "10,000 recipients: RSS %ld kB -> %ld kB",
	    before, rss_kb());
	mc_quit(c);
	mc_close(c);
	healthy("10,000 recipients");
}

static void
case_headers(void)
{
	static const char *from[] = { "<h@client.test>", NULL };
	static const char *to[] = { "<u@example.com>", NULL };
	struct mc_conn *c = conn_open(TIMEOUT_MS);
	long before = rss_kb();
	struct mc_reply r;
	char name[32], *big;
	int i, sane = 1, rc;

	if (c == NULL)
		return;
	mc_connect(c, "h", "198.51.100.2", 25, NULL);
	mc_mail(c, from, NULL);
	mc_rcpt(c, to, NULL);
	for (i = 0; i < 100000 && sane; i++) {
		snprintf(name, sizeof name, "X-H%d", i);
		rc = mc_header(c, name, "v", &r);
		sane = rc == MC_SKIPPED || (rc == MC_OK && (r.action == 0 ||
		    reply_sane(&r)));
	}
	sane = sane && mc_eoh(c, &r) >= 0 && mc_eom(c, &r) == MC_OK &&
	    reply_sane(&r);
	check(sane, "100,000 headers: sane answers to the end");
	check(rss_kb() - before < 4096, "100,000 headers: RSS %ld kB -> %ld kB",
	    before, rss_kb());
	mc_close(c);

	/* over libmilter's largest packet: it hangs up; nothing else */
	if ((c = conn_open(5000)) == NULL)
		return;
	big = malloc(1024 * 1024);
	memset(big, 'y', 1024 * 1024 - 1);
	big[1024 * 1024 - 1] = '\0';
	mc_connect(c, "h", "198.51.100.2", 25, NULL);
	mc_mail(c, from, NULL);
	rc = mc_header(c, "X-Big", big, &r);
	check(alive() && (rc != MC_OK || reply_sane(&r)),
	    "a 1 MB header: a hang-up or a sane answer, and the milter is alive");
	free(big);
	mc_close(c);
	healthy("100,000 headers and a 1 MB header");
}

/* ---- leaving ---- */

/* Goes `depth` steps into a transaction, then drops the connection. */
static void
leave_at(int depth)
{
	static const char *from[] = { "<l@client.test>", NULL };
	static const char *to[] = { "<u@example.com>", NULL };
	struct mc_conn *c = conn_open(TIMEOUT_MS);

	if (c == NULL)
		return;
	if (depth > 0)
		mc_connect(c, "h", "198.51.100.3", 25, NULL);
	if (depth > 1)
		mc_helo(c, "h", NULL);
	if (depth > 2)
		mc_mail(c, from, NULL);
	if (depth > 3)
		mc_rcpt(c, to, NULL);
	if (depth > 4)
		mc_header(c, "Subject", "x", NULL);
	if (depth > 5)
		mc_eoh(c, NULL);
	if (depth > 6)
		mc_body(c, "half a bo", 9, NULL);
	mc_close(c);	/* no QUIT */
}

static void
case_leavers(void)
{
	long before;
	int i, depth;

	for (i = 0; i < 20; i++)	/* warm up: thread stacks, caches */
		leave_at(i % 8);
	before = rss_kb();
	for (i = 0; i < 50; i++)
		for (depth = 0; depth < 8; depth++)
			leave_at(depth);
	usleep(200000);
	check(alive() && rss_kb() - before < 1024, "400 clients that leave "
	    "at every stage: RSS %ld kB -> %ld kB", before, rss_kb());
	healthy("400 clients that leave");
}

/* ---- 1,000 at once ---- */

static void
case_concurrent(void)
{
	static const char *from[] = { "<c@client.test>", NULL };
	static const char *to[] = { "<u@example.com>", NULL };
	struct mc_conn **c = calloc(CONCURRENT, sizeof *c);
	struct rlimit rl;
	long before = rss_kb(), peak;
	int i, open = 0;
	char addr[32];

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	for (i = 0; i < CONCURRENT; i++) {
		snprintf(addr, sizeof addr, "10.%d.%d.1", i / 250, i % 250);
		if ((c[i] = conn_open(TIMEOUT_MS)) == NULL)
			break;
		if (mc_connect(c[i], "h", addr, 25, NULL) < 0 ||
		    mc_mail(c[i], from, NULL) < 0 || mc_rcpt(c[i], to, NULL) < 0) {
			check(0, "connection %d: %s", i, mc_error(c[i]));
			break;
		}
		open++;
	}
	peak = rss_kb();
	check(open == CONCURRENT, "%d connections open at once, each in a "
	    "transaction", open);
	check(open > 0 && (peak - before) / open <= RSS_PER_CONN_KB,
	    "memory per connection: RSS %ld kB -> %ld kB with %d open, %ld kB "
	    "each (bound %d kB)", before, peak, open,
	    open ? (peak - before) / open : 0, RSS_PER_CONN_KB);
	for (i = 0; i < CONCURRENT && c[i] != NULL; i++) {
		mc_quit(c[i]);
		mc_close(c[i]);
	}
	free(c);
	healthy("1,000 connections at once");
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: milter_hostile SOCKET PID\n");
		return 2;
	}
	sock = argv[1];
	milter_pid = (pid_t)atoi(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	healthy("nothing");
	case_negotiation();
	case_quit_nc();
	case_disorder();
	case_values();
	case_nul();
	case_many_recipients();
	case_headers();
	case_leavers();
	case_concurrent();
	return failures ? 1 : 0;
}
