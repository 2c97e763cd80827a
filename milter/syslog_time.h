/*
 * syslog_time.h: the time stamp at the start of a mail log line
 * (syslog_time.c), for the commands that read logs (`replay`, `report`).
 * Pure: no I/O.
 *
 * Two forms: a BSD syslog head "Dec  1 11:38:22" (Postfix's postlog
 * writes "Dec 01 11:38:22.250"), which has no year and no zone, and an
 * RFC 3339 time "2026-12-01T11:38:22.5+01:00" (rsyslog, journald), which
 * has both.  A struct syslog_clock carries the year a BSD head leaves
 * out from one line to the next: one per reader, one thread.
 */
#ifndef SYSLOG_TIME_H
#define SYSLOG_TIME_H

#include <stdint.h>

struct syslog_clock {
	int year;			/* of the line before */
	int month;			/* 1-12 of the line before; 0: none yet */
	int now_year, now_month;	/* today, for the first line */
};

/* Start a clock for a log read today (now_s: seconds, UTC).  The first
 * line's month later than this one's means last year; a month going back
 * by more than six means the year turned. */
void syslog_clock_init(struct syslog_clock *c, int64_t now_s);

/* The time at s in ms since the epoch (a BSD head in the log's own time,
 * taken as UTC; an RFC 3339 time in UTC), *end just after it; -1 when s
 * starts with neither. */
int64_t syslog_time(const char *s, struct syslog_clock *c, const char **end);

/* Days since the epoch of a calendar date (proleptic Gregorian). */
int64_t syslog_civil_day(int y, int m, int d);

#endif
