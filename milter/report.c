/*
 * report.c: `milter-policy report [--json] [--top N] [FILE...]`: reads
 * mail logs (plain or gzip'd, "-" or nothing: standard input), counts
 * this milter's decision lines and over-limit notices (report_log.c),
 * and prints them (report_out.c).  Lines of anything else are skipped.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "logfile.h"
#include "report.h"


static void
report_usage(FILE *out)
{
	fprintf(out,
	    "usage: milter-policy report [--json] [--top N] [FILE...]\n"
	    "\n"
	    "Reads mail logs (plain or .gz; standard input when no FILE or \"-\")\n"
	    "and prints, for the period they cover, what milter-policy decided:\n"
	    "refusals by rule and code, the clients and senders refused most,\n"
	    "the counters that went over their limit, dry-run would-be refusals,\n"
	    "and all of these per hour.  Only milter-policy's decision lines and\n"
	    "over-limit notices are read; every other line is skipped.\n"
	    "\n"
	    "  --json     one JSON object, for scripts\n"
	    "  --top N    rows of each top list (default 10; 0: all)\n");
}

void
report_init(struct report *r, int64_t now_s)
{
	static const struct report empty;

	*r = empty;
	r->first_ms = r->last_ms = -1;
	syslog_clock_init(&r->clock, now_s);
}

void
report_free(struct report *r)
{
	rtab_free(&r->refusals);
	rtab_free(&r->dry);
	rtab_free(&r->clients);
	rtab_free(&r->senders);
	rtab_free(&r->rcpts);
	rtab_free(&r->over_limit);
	rtab_free(&r->hours);
}

/* The hour of t_ms, "YYYY-MM-DD HH:00", or "unknown" (stderr lines). */
static void
hour_name(int64_t t_ms, char *buf, size_t bufsz)
{
	time_t t = (time_t)(t_ms / 1000);
	struct tm tm;

	if (t_ms < 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, bufsz, "unknown");
	else
		strftime(buf, bufsz, "%Y-%m-%d %H:00", &tm);
}

static void
count_decision(struct report *r, const struct rpl_event *ev, const char *hour)
{
	char key[3 * RPL_VALUE_MAX];
	int refused = strcmp(ev->verb, "reject") == 0 ||
	    strcmp(ev->verb, "tempfail") == 0;

	snprintf(key, sizeof key, "%s\t%d\t%s", ev->rule, ev->code, ev->verb);
	if (ev->dry_run) {
		r->dry_run++;
		rtab_add(&r->dry, key, 0, 1);
		rtab_add(&r->hours, hour, 1, 1);
		return;
	}
	rtab_add(&r->refusals, key, 0, 1);
	if (!refused) {
		r->other++;
		return;
	}
	r->refused++;
	rtab_add(&r->hours, hour, 0, 1);
	rtab_add(&r->clients, ev->client_addr, 0, 1);
	if (ev->has_sender)
		rtab_add(&r->senders, ev->sender[0] ? ev->sender : "<>", 0, 1);
	if (ev->rcpt[0] != '\0')
		rtab_add(&r->rcpts, ev->rcpt, 0, 1);
}

void
report_line(struct report *r, const char *line)
{
	struct rpl_event ev;
	char key[3 * RPL_VALUE_MAX], hour[32];

	r->lines++;
	if (rpl_parse(line, &r->clock, &ev) == RPL_SKIP)
		return;
	r->ours++;
	if (ev.time_ms >= 0) {
		if (r->first_ms < 0 || ev.time_ms < r->first_ms)
			r->first_ms = ev.time_ms;
		if (ev.time_ms > r->last_ms)
			r->last_ms = ev.time_ms;
	}
	hour_name(ev.time_ms, hour, sizeof hour);
	if (ev.kind == RPL_DECISION) {
		count_decision(r, &ev, hour);
		return;
	}
	r->over++;
	snprintf(key, sizeof key, "%s\t%s\t%s", ev.rule, ev.key, ev.limit);
	rtab_add(&r->over_limit, key, 0, 1);
	rtab_add(&r->hours, hour, 2, 1);
}

/* One line of a log: an overlong one is counted, not one of ours. */
static void
report_each(void *arg, char *line, int overlong)
{
	struct report *r = arg;

	if (overlong)
		r->lines++;
	else
		report_line(r, line);
}

int
report_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "top", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct report r;
	char *end;
	int ch, json = 0, top = 10, rc = 0, i;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "jn:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 'n':
			top = (int)strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || top < 0) {
				fprintf(stderr, "milter-policy report: --top %s: "
				    "write a number, 0 for all\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'h': report_usage(stdout); return 0;
		default: report_usage(stderr); return EX_USAGE;
		}
	}
	report_init(&r, (int64_t)time(NULL));
	if (optind == argc && logfile_lines("-", report_each, &r) < 0)
		rc = EX_NOINPUT;
	for (i = optind; i < argc; i++)
		if (logfile_lines(argv[i], report_each, &r) < 0)
			rc = EX_NOINPUT;
	if (rc == 0)
		report_print(&r, stdout, top, json);
	report_free(&r);
	return rc;
}
