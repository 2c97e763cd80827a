/*
 * report_log.h: one line of a mail log turned into what `milter-policy
 * report` counts (report_log.c).  Pure: no I/O, no engine, no allocation.
 *
 * Understood: this milter's own stable lines (README "Logging"), the
 * decision line and the over-limit notice, after a syslog head
 * ("Dec  1 11:38:22 host milter-policy[812]: ", fractions of a second
 * allowed, or an RFC 3339 time) or the `-f` stderr head
 * ("milter-policy[812]: ", no time: time_ms is -1).  Every other line is
 * RPL_SKIP, never an error.  Strings are copies, cut to their field,
 * in printable ASCII: any user may write a line that looks like ours
 * (logger -t milter-policy), and report prints them to a terminal, so a
 * control or non-ASCII byte is copied as '?', as the milter writes it.
 */
#ifndef REPORT_LOG_H
#define REPORT_LOG_H

#include <stdint.h>

#include "syslog_time.h"

enum rpl_kind {
	RPL_SKIP,		/* not one of ours */
	RPL_DECISION,		/* QID: VERB stage=... rule=... */
	RPL_OVER		/* QID: over-limit rule=... key=... limit=N/W */
};

#define RPL_VALUE_MAX	264	/* a logged value: cut to 256 by the milter */

struct rpl_event {
	enum rpl_kind kind;
	int64_t time_ms;		/* UTC ms since the epoch; -1 unknown */
	char verb[24];			/* "reject", "would-tempfail", ... */
	int dry_run;			/* the verb began with "would-" */
	char stage[16];
	char rule[RPL_VALUE_MAX];
	int code;			/* 0: no code= field */
	char xcode[16];
	char client_name[RPL_VALUE_MAX];
	char client_addr[64];
	char sender[RPL_VALUE_MAX];	/* without <>; has_sender says if present */
	int has_sender;
	char rcpt[RPL_VALUE_MAX];
	char key[RPL_VALUE_MAX];	/* RPL_OVER */
	char limit[48];			/* RPL_OVER: "10/1h" */
};

/* Parse one line (without its newline) into *ev; returns ev->kind.  The
 * time stamp is syslog_time.h's, c its clock (syslog_clock_init). */
enum rpl_kind rpl_parse(const char *line, struct syslog_clock *c,
    struct rpl_event *ev);

#endif
