/*
 * milter_load: load on a milter with no MTA in front, through
 * tests/milter_client.c.  C threads, each making N transactions one after
 * the other as Postfix makes them: a new milter connection per SMTP
 * session (OPTNEG, macros, CONNECT, HELO, MAIL, RCPT..., DATA, headers,
 * EOH, body, EOM, QUIT), honouring the steps the milter negotiated away
 * and the macros it asked for.  Prints transactions per second and the
 * latency of each step (send to answer) at the 50th, 90th and 99th
 * percentiles.  A step refused, or any protocol error, is counted and
 * shown: a figure is worth something only when nothing was refused.
 *
 *   bench/milter_load -p SOCKET [-c CONNS] [-n TRANSACTIONS] [-r RCPTS]
 *       [-H HEADERS] [-b BODY_BYTES] [-k KEYS] [-a CLIENT] [-t RCPT]
 *       [-T TIMEOUT_MS]
 *
 * -k spreads the transactions over KEYS client addresses in 127/8 (data
 * in the protocol, not a connection target); -a gives one address
 * instead; -t one recipient address instead of user@example.com.
 * Exit 0 when every transaction went through, 1 when any was refused or
 * failed, 2 on bad usage.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "milter_client.h"

enum step {
	S_OPEN, S_CONNECT, S_HELO, S_MAIL, S_RCPT, S_DATA, S_HEADER, S_EOH,
	S_BODY, S_EOM, S_TOTAL, S_N
};

static const char *const step_name[S_N] = {
	"open+optneg", "connect", "helo", "mail", "rcpt", "data", "header",
	"eoh", "body", "eom", "transaction"
};

struct opts {
	const char *socket, *client, *rcpt;
	int conns, timeout_ms;
	unsigned long transactions, keys;
	int rcpts, headers;
	size_t body;
};

struct samples {
	double *v;			/* microseconds */
	size_t n, cap;
	unsigned long skipped, unanswered;
};

struct worker {
	pthread_t tid;
	const struct opts *o;
	int id;
	struct samples s[S_N];
	unsigned long done, refused, errors;
	char first_problem[512];
	char *body;
};

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void
sample_add(struct samples *s, double us)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		if ((s->v = realloc(s->v, s->cap * sizeof s->v[0])) == NULL) {
			fprintf(stderr, "milter_load: out of memory\n");
			exit(1);
		}
	}
	s->v[s->n++] = us;
}

static void
problem(struct worker *w, const char *what, const char *detail)
{
	if (w->first_problem[0] == '\0')
		snprintf(w->first_problem, sizeof w->first_problem,
		    "transaction %lu of connection %d: %s: %.300s", w->done + 1,
		    w->id, what, detail);
}

/* Is NAME in the space-separated LIST (a milter's macro list)? */
static int
in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* Macros for the step CMD, only those the milter asked for at STAGE when
 * it gave a list, none when the step is negotiated away (as Postfix). */
static int
send_macros(struct mc_conn *c, int cmd, int stage, const char *const *nv)
{
	const char *keep[33];
	const char *list = mc_symlist(c, stage);
	int n = 0;

	if (mc_skips(c, cmd))
		return MC_OK;
	for (; nv[0] != NULL && n < 31; nv += 2)
		if (list == NULL || in_list(list, nv[0])) {
			keep[n++] = nv[0];
			keep[n++] = nv[1];
		}
	if (n == 0)
		return MC_OK;
	keep[n] = NULL;
	return mc_macro(c, cmd, keep);
}

/* The values of one transaction. */
struct txn {
	char addr[32], qid[16], sender[64], rcpt[64], mid[80], ident[96];
};

static void
txn_make(struct worker *w, struct txn *t)
{
	const struct opts *o = w->o;
	unsigned long i = (unsigned long)w->id * o->transactions + w->done;
	unsigned long k = i % o->keys;

	if (o->client != NULL)
		snprintf(t->addr, sizeof t->addr, "%s", o->client);
	else
		snprintf(t->addr, sizeof t->addr, "127.%lu.%lu.%lu",
		    1 + (k >> 16) % 254, (k >> 8) & 0xff, k & 0xff);
	snprintf(t->qid, sizeof t->qid, "B%02X%08lX", w->id & 0xff, w->done);
	snprintf(t->sender, sizeof t->sender, "<sender%lu@client.test>", k);
	snprintf(t->rcpt, sizeof t->rcpt, "<%s>", o->rcpt);
	snprintf(t->mid, sizeof t->mid, "<%lu.%d@client.test>", w->done, w->id);
	snprintf(t->ident, sizeof t->ident, "client.test [%s]", t->addr);
}

/* A step's outcome: 0 go on, 1 stop the transaction (refused, accepted
 * or failed; counted). */
static int
outcome(struct worker *w, struct mc_conn *c, int step, int st,
    const struct mc_reply *r, double t0)
{
	if (st == MC_SKIPPED) {
		w->s[step].skipped++;
		return 0;
	}
	if (st < 0) {
		w->errors++;
		problem(w, step_name[step], mc_error(c));
		return 1;
	}
	if (r->action == 0) {
		w->s[step].unanswered++;
		return 0;
	}
	sample_add(&w->s[step], now_us() - t0);
	if (r->action == SMFIR_CONTINUE)
		return 0;
	if (r->action == SMFIR_ACCEPT && step != S_EOM)
		return 1;	/* the milter is done with this message */
	if (r->action != SMFIR_ACCEPT) {
		w->refused++;
		problem(w, step_name[step], r->text[0] ? r->text :
		    mc_cmd_name(r->action, 1));
		return 1;
	}
	return 0;
}

#define STEP(w, step, call) do {					\
	double t0_ = now_us();						\
	st = (call);							\
	if (outcome((w), c, (step), st, &r, t0_))				\
		goto out;						\
} while (0)

static void
envelope(struct worker *w, struct mc_conn *c, const struct txn *t)
{
	const char *cm[] = { "j", "mx.bench.test", "{daemon_name}", "bench",
	    "v", "Postfix 3.7", "_", t->ident, NULL };
	const char *mm[] = { "i", t->qid, "{mail_addr}", t->sender + 1, NULL };
	const char *rm[] = { "i", t->qid, "{rcpt_addr}", t->rcpt + 1, NULL };
	const char *im[] = { "i", t->qid, NULL };
	const char *margv[] = { t->sender, NULL }, *rargv[] = { t->rcpt, NULL };
	const char *hdr[][2] = {
		{ "From", "Sender <sender@client.test>" },
		{ "To", "User <user@example.com>" },
		{ "Subject", "milter_load transaction" },
		{ "Date", "Thu, 26 Nov 2026 00:00:00 +0000" },
		{ "Message-ID", t->mid },
		{ "X-Load", "padding header" },
	};
	struct mc_reply r;
	int i, st;

	STEP(w, S_CONNECT, (send_macros(c, SMFIC_CONNECT, SMFIM_CONNECT, cm),
	    mc_connect(c, "client.test", t->addr, 40000, &r)));
	STEP(w, S_HELO, mc_helo(c, "client.test", &r));
	STEP(w, S_MAIL, (send_macros(c, SMFIC_MAIL, SMFIM_ENVFROM, mm),
	    mc_mail(c, margv, &r)));
	for (i = 0; i < w->o->rcpts; i++)
		STEP(w, S_RCPT, (send_macros(c, SMFIC_RCPT, SMFIM_ENVRCPT, rm),
		    mc_rcpt(c, rargv, &r)));
	STEP(w, S_DATA, (send_macros(c, SMFIC_DATA, SMFIM_DATA, im),
	    mc_data(c, &r)));
	for (i = 0; i < w->o->headers; i++)
		STEP(w, S_HEADER, (send_macros(c, SMFIC_HEADER, SMFIM_EOH, im),
		    mc_header(c, hdr[i % 6][0], hdr[i % 6][1], &r)));
	STEP(w, S_EOH, (send_macros(c, SMFIC_EOH, SMFIM_EOH, im), mc_eoh(c, &r)));
	/* the transaction number in the body: each fingerprint is new */
	snprintf(w->body, 32, "%-30lu", (unsigned long)w->id << 32 | w->done);
	w->body[30] = '\r';
	w->body[31] = '\n';
	STEP(w, S_BODY, (send_macros(c, SMFIC_BODY, SMFIM_EOM, im),
	    mc_body(c, w->body, w->o->body, &r)));
	STEP(w, S_EOM, (send_macros(c, SMFIC_BODYEOB, SMFIM_EOM, im),
	    mc_eom(c, &r)));
	return;
out:
	if (st >= 0)
		mc_abort(c);
}

static void
transaction(struct worker *w)
{
	char err[160];
	struct mc_conn *c;
	struct txn t;
	double t0 = now_us(), t1;
	unsigned long bad = w->refused + w->errors;
	int st;

	txn_make(w, &t);
	if ((c = mc_open(w->o->socket, w->o->timeout_ms, err, sizeof err)) == NULL) {
		w->errors++;
		problem(w, "open", err);
		return;
	}
	if ((st = mc_negotiate(c, 0, 0, 0)) != MC_OK) {
		w->errors++;
		problem(w, "OPTNEG", mc_error(c));
		mc_close(c);
		return;
	}
	t1 = now_us();
	sample_add(&w->s[S_OPEN], t1 - t0);
	envelope(w, c, &t);
	mc_quit(c);
	mc_close(c);
	if (w->refused + w->errors == bad)
		sample_add(&w->s[S_TOTAL], now_us() - t0);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	for (w->done = 0; w->done < w->o->transactions; w->done++)
		transaction(w);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const struct samples *s, double p)
{
	size_t i = (size_t)(p * (double)s->n + 0.999999);

	return s->v[i == 0 ? 0 : i - 1];
}

/* Every worker's samples of STEP, in one sorted set. */
static void
merge(struct worker *w, int n, int step, struct samples *all)
{
	int i;
	size_t j;

	memset(all, 0, sizeof *all);
	for (i = 0; i < n; i++) {
		for (j = 0; j < w[i].s[step].n; j++)
			sample_add(all, w[i].s[step].v[j]);
		all->skipped += w[i].s[step].skipped;
		all->unanswered += w[i].s[step].unanswered;
	}
	qsort(all->v, all->n, sizeof all->v[0], cmp_double);
}

static void
report(const struct opts *o, struct worker *w, double seconds)
{
	unsigned long done = 0, refused = 0, errors = 0;
	struct samples all;
	const char *first = NULL;
	int i;

	for (i = 0; i < o->conns; i++) {
		done += w[i].done;
		refused += w[i].refused;
		errors += w[i].errors;
		if (first == NULL && w[i].first_problem[0])
			first = w[i].first_problem;
	}
	printf("milter_load %s: %d connections x %lu transactions, %d rcpt, "
	    "%d headers, %zu-byte body, %lu client keys\n", o->socket, o->conns,
	    o->transactions, o->rcpts, o->headers, o->body,
	    o->client ? 1 : o->keys);
	printf("result: %.0f transactions/s, %lu in %.3f s, %lu refused, "
	    "%lu errors\n", (double)done / seconds, done, seconds, refused,
	    errors);
	if (first != NULL)
		printf("first problem: %s\n", first);
	printf("%-12s %9s %9s %9s %9s\n", "step", "answers", "p50 us",
	    "p90 us", "p99 us");
	for (i = 0; i < S_N; i++) {
		merge(w, o->conns, i, &all);
		if (all.n > 0)
			printf("%-12s %9zu %9.0f %9.0f %9.0f\n", step_name[i],
			    all.n, pct(&all, 0.5), pct(&all, 0.9), pct(&all, 0.99));
		else
			printf("%-12s %9s   %s\n", step_name[i], "-",
			    all.skipped ? "negotiated away (SMFIP_NO*)" :
			    all.unanswered ? "sent, no answer (SMFIP_NR_*)" : "none");
		free(all.v);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: milter_load -p SOCKET [-c CONNS] [-n TRANSACTIONS] "
	    "[-r RCPTS] [-H HEADERS]\n"
	    "       [-b BODY_BYTES] [-k KEYS] [-a CLIENT] [-t RCPT] [-T TIMEOUT_MS]\n");
	exit(2);
}

static unsigned long
number(const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	int ch;

	*o = (struct opts){ .conns = 10, .transactions = 1000, .rcpts = 1,
	    .headers = 6, .body = 1000, .keys = 1000, .timeout_ms = 10000,
	    .rcpt = "user@example.com" };
	while ((ch = getopt(argc, argv, "a:b:c:H:k:n:p:r:t:T:")) != -1) {
		switch (ch) {
		case 'a': o->client = optarg; break;
		case 'b': o->body = number(optarg, 32, 64UL << 20); break;
		case 'c': o->conns = (int)number(optarg, 1, 1000); break;
		case 'H': o->headers = (int)number(optarg, 0, 100000); break;
		case 'k': o->keys = number(optarg, 1, 16000000); break;
		case 'n': o->transactions = number(optarg, 1, 100000000); break;
		case 'p': o->socket = optarg; break;
		case 'r': o->rcpts = (int)number(optarg, 1, 100000); break;
		case 't': o->rcpt = optarg; break;
		case 'T': o->timeout_ms = (int)number(optarg, 1, 3600000); break;
		default: usage();
		}
	}
	if (o->socket == NULL || optind != argc || strlen(o->rcpt) > 60)
		usage();
}

/* A body of lines of 76 characters and CRLF. */
static char *
body_make(size_t len)
{
	char *b = malloc(len);
	size_t i;

	if (b == NULL) {
		fprintf(stderr, "milter_load: out of memory\n");
		exit(1);
	}
	for (i = 0; i < len; i++)
		b[i] = i % 78 == 76 ? '\r' : i % 78 == 77 ? '\n' :
		    (char)('a' + i % 26);
	return b;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct worker *w;
	double t0;
	int i, bad = 0;

	parse(argc, argv, &o);
	if ((w = calloc((size_t)o.conns, sizeof *w)) == NULL)
		return 1;
	t0 = now_us();
	for (i = 0; i < o.conns; i++) {
		w[i].o = &o;
		w[i].id = i;
		w[i].body = body_make(o.body);
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "milter_load: cannot start a thread\n");
			return 1;
		}
	}
	for (i = 0; i < o.conns; i++)
		pthread_join(w[i].tid, NULL);
	report(&o, w, (now_us() - t0) / 1e6);
	for (i = 0; i < o.conns; i++)
		bad |= w[i].refused > 0 || w[i].errors > 0;
	return bad;
}
