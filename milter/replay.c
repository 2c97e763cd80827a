/*
 * replay.c: `milter-policy replay`: a Postfix mail log's transactions
 * through a proposed policy, on the log's clock and a scratch store, and
 * a summary of whom it would have refused and when.  Nothing outside this
 * process changes: no counter, no state file, no Redis.
 *
 * Files are read in the order of their first time stamp (mail.log.2.gz,
 * mail.log.1, mail.log, whatever order the shell gives them), plain or
 * gzip-compressed; "-" is standard input.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <sodium.h>
#include <zlib.h>

#include "logfile.h"
#include "replay.h"
#include "replay_log.h"
#include "replay_report.h"
#include "replay_run.h"
#include "replay_txn.h"
#include "store.h"
#include "xmalloc.h"


struct replay_args {
	const char *policy, *old_policy, *state;
	int64_t from_ms, to_ms;
	int json, top;
	int nfiles;
	char **files;
};

struct replay {
	struct rrun run[2];		/* [0] the policy, [1] --diff's */
	int nruns;
	struct rrep rep;
	struct syslog_clock clock;
};

static void
replay_usage(FILE *out)
{
	fprintf(out, "usage: milter-policy replay [-c FILE] [--diff OLD] "
	    "[--from TIME] [--to TIME]\n"
	    "           [--state FILE] [--top N] [--json] LOG...\n"
	    "Runs the transactions of Postfix mail logs (plain or .gz, \"-\" "
	    "for stdin)\n"
	    "through the policy on a scratch store and prints whom it would "
	    "have\n"
	    "refused and when.  TIME: YYYY-MM-DD[ HH:MM[:SS]] in the log's "
	    "time.\n"
	    "--diff OLD shows what changes from policy OLD; --state starts "
	    "from a\n"
	    "state file's counters.  Changes nothing.\n");
}

/* --top N: a whole number from 1; -1, said on stderr, when it is not. */
static int
top_arg(const char *v)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || n < 1 || n > 1000000) {
		fprintf(stderr, "milter-policy replay: --top %s: write a number "
		    "from 1 to 1000000\n", v);
		return -1;
	}
	return (int)n;
}

static int
replay_parse(int argc, char **argv, struct replay_args *a)
{
	static const struct option opts[] = {
		{ "diff", 1, NULL, 'D' }, { "from", 1, NULL, 'F' },
		{ "to", 1, NULL, 'T' }, { "state", 1, NULL, 'S' },
		{ "top", 1, NULL, 'n' }, { "json", 0, NULL, 'j' },
		{ "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': a->policy = optarg; break;
		case 'D': a->old_policy = optarg; break;
		case 'S': a->state = optarg; break;
		case 'j': a->json = 1; break;
		case 'n':
			if ((a->top = top_arg(optarg)) < 0)
				return -1;
			break;
		case 'F':
			if ((a->from_ms = rlog_parse_time(optarg)) < 0)
				return -1;
			break;
		case 'T':
			if ((a->to_ms = rlog_parse_time(optarg)) < 0)
				return -1;
			break;
		case 'h': replay_usage(stdout); exit(0);
		default: return -1;
		}
	}
	a->nfiles = argc - optind;
	a->files = argv + optind;
	return a->nfiles > 0 && a->top > 0 ? 0 : -1;
}

/* ------------------------------------------------------------ the files */

/* The time of a file's first line with a time stamp; INT64_MAX if none. */
static int64_t
first_time(const char *path)
{
	struct syslog_clock c;
	char *line = xmalloc(LOGFILE_LINE_MAX);
	const char *end;
	int64_t t = -1;
	gzFile f;
	int n;

	if (strcmp(path, "-") != 0 && (f = gzopen(path, "r")) != NULL) {
		syslog_clock_init(&c, (int64_t)time(NULL));
		for (n = 0; n < 1000 && t < 0 &&
		    gzgets(f, line, LOGFILE_LINE_MAX) != NULL; n++)
			t = syslog_time(line, &c, &end);
		gzclose(f);
	}
	free(line);
	return t >= 0 ? t : INT64_MAX;
}

struct dated {
	const char *path;
	int64_t t;
};

static int
by_time(const void *a, const void *b)
{
	const struct dated *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

/* ---------------------------------------------------------- the replay */

static void
on_connect(void *arg, struct rtxn_conn *c)
{
	struct replay *r = arg;
	int i;

	for (i = 0; i < r->nruns; i++)
		rrun_connect(&r->run[i], c);
}

static void
on_message(void *arg, struct rtxn_msg *m)
{
	struct replay *r = arg;
	int i;

	for (i = 0; i < r->nruns; i++)
		rrun_message(&r->run[i], m);
}

static void
on_disconnect(void *arg, struct rtxn_conn *c)
{
	struct replay *r = arg;
	int i;

	for (i = 0; i < r->nruns; i++)
		rrun_disconnect(&r->run[i], c);
}

/* A skipped line: counted, and the first of its kind kept, cleaned. */
static void
count_skip(struct rrep *rep, enum rlog_skip s, const char *line)
{
	char *e = rep->example[s];
	size_t i;

	if (rep->skipped[s]++ != 0)
		return;
	for (i = 0; line[i] != '\0' && i < sizeof rep->example[s] - 1; i++)
		e[i] = (unsigned char)line[i] < 0x20 || line[i] == 0x7f ? '?' : line[i];
	e[i] = '\0';
}

/* What each line of a log goes to. */
struct replay_sink {
	struct replay *r;
	struct rtxn *t;
	struct rlog_event *ev;
};

/* One line: an event for the gatherer, or a skip counted. */
static void
replay_line(void *arg, char *line, int overlong)
{
	struct replay_sink *k = arg;

	k->r->rep.lines++;
	if (overlong)
		count_skip(&k->r->rep, RLOG_SKIP_MALFORMED, line);
	else if (rlog_parse(line, &k->r->clock, k->ev) == RLOG_SKIP)
		count_skip(&k->r->rep, k->ev->skip, line);
	else
		rtxn_add(k->t, k->ev);
}

static int
replay_files(struct replay *r, const struct replay_args *a)
{
	static const struct rtxn_ops ops = { on_connect, on_message, on_disconnect };
	struct dated *d = xcalloc((size_t)a->nfiles, sizeof *d);
	struct replay_sink k = { r, rtxn_new(&ops, r, a->from_ms, a->to_ms),
	    xmalloc(sizeof *k.ev) };
	int i, rc = 0;

	for (i = 0; i < a->nfiles; i++) {
		d[i].path = a->files[i];
		d[i].t = first_time(a->files[i]);
	}
	qsort(d, (size_t)a->nfiles, sizeof *d, by_time);
	syslog_clock_init(&r->clock, (int64_t)time(NULL));
	for (i = 0; i < a->nfiles; i++)
		if (logfile_lines(d[i].path, replay_line, &k) < 0)
			rc = -1;
	rtxn_finish(k.t, &r->rep.txn);
	rtxn_free(k.t);
	free(k.ev);
	free(d);
	return rc;
}

/* ----------------------------------------------------------- policies */

static void
print_error(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

/* A policy and its scratch store, optionally with a state file's counters. */
static struct policy *
load_run(struct replay *r, const char *path, const char *state)
{
	struct policy *p = pol_load(path, print_error, NULL);
	struct store *st;
	char err[256];

	if (p == NULL) {
		fprintf(stderr, "milter-policy: %s is not valid; nothing "
		    "replayed\n", path);
		return NULL;
	}
	st = store_memory_new(pol_settings(p)->max_keys);
	if (state != NULL && store_memory_load(st, state, 0,
	    (int64_t)time(NULL) * 1000, err, sizeof err) != STORE_LOAD_OK)
		fprintf(stderr, "milter-policy: state file %s not used: %s\n",
		    state, err[0] ? err : "missing");
	rrun_init(&r->run[r->nruns], p, st, r->nruns);
	r->nruns++;
	return p;
}

static void
free_runs(struct replay *r)
{
	int i;

	for (i = 0; i < r->nruns; i++) {
		store_free(r->run[i].st);
		pol_unref(r->run[i].p);
		rrun_free(&r->run[i]);
	}
}

int
replay_main(int argc, char **argv, const char *default_policy)
{
	struct replay_args a = { .policy = default_policy, .top = 20 };
	struct replay *r;
	int rc;

	if (replay_parse(argc, argv, &a) < 0) {
		replay_usage(stderr);
		return EX_USAGE;
	}
	if (sodium_init() < 0)
		return EX_SOFTWARE;
	r = xcalloc(1, sizeof *r);
	if (load_run(r, a.policy, a.state) == NULL ||
	    (a.old_policy && load_run(r, a.old_policy, a.state) == NULL)) {
		free_runs(r);
		free(r);
		return EX_CONFIG;
	}
	rc = replay_files(r, &a);
	r->rep.policy = a.policy;
	r->rep.old_policy = a.old_policy;
	r->rep.nfiles = a.nfiles;
	r->rep.res = &r->run[0].res;
	r->rep.old = a.old_policy ? &r->run[1].res : NULL;
	r->rep.top = a.top;
	(a.json ? rrep_json : rrep_text)(stdout, &r->rep);
	free_runs(r);
	free(r);
	return rc < 0 ? EX_NOINPUT : 0;
}
