/*
 * replay_report.h: the summary `milter-policy replay` prints, as tables
 * for a terminal or as JSON (replay_report.c).  Reads the results; owns
 * nothing.
 */
#ifndef REPLAY_REPORT_H
#define REPLAY_REPORT_H

#include <stdio.h>

#include "replay_log.h"
#include "replay_res.h"
#include "replay_txn.h"

struct rrep {
	const char *policy, *old_policy;	/* old_policy: --diff, or NULL */
	int nfiles;
	unsigned long lines;
	unsigned long skipped[RLOG_NSKIP];
	char example[RLOG_NSKIP][161];		/* the first line of each kind */
	struct rtxn_stats txn;
	const struct rres *res, *old;		/* old: the --diff policy's */
	int top;				/* keys to list */
};

/* Print the summary as tables. */
void rrep_text(FILE *out, const struct rrep *r);

/* Print the summary as one JSON object. */
void rrep_json(FILE *out, const struct rrep *r);

#endif
