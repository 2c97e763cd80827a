/*
 * report.h: the `milter-policy report` subcommand (report.c, report_out.c):
 * what this milter decided, out of its own log lines, for the period the
 * log covers.  The counts live in struct report, filled by report_line
 * and printed by report_print; one thread.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "report_log.h"
#include "report_tab.h"

struct report {
	unsigned long lines, ours, refused, other, dry_run, over;
	int64_t first_ms, last_ms;	/* -1: no time seen */
	struct syslog_clock clock;
	struct rtab refusals;		/* "rule\tcode\tverb": not dry-run */
	struct rtab dry;		/* the same, would-... */
	struct rtab clients, senders, rcpts;	/* refused (reject, tempfail) */
	struct rtab over_limit;		/* "rule\tkey\tlimit" */
	struct rtab hours;		/* "YYYY-MM-DD HH:00": refused, dry, over */
};

/* Run `report` with argv after the subcommand name; returns the exit code. */
int report_main(int argc, char **argv);

/* An empty report for a log read at now_s; report_free releases it. */
void report_init(struct report *r, int64_t now_s);
void report_free(struct report *r);

/* Count one log line (without its newline). */
void report_line(struct report *r, const char *line);

/* Print the tables (top rows of each list at most) or the JSON. */
void report_print(struct report *r, FILE *out, int top, int json);

#endif
