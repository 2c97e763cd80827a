/*
 * quota.h: calendar quotas, `limit = { quota = "500/day"; time_zone =
 * "Europe/Paris"; }`: a count per calendar day, week (Monday to Sunday)
 * or month that resets at midnight in the rule's time zone (default the
 * system's), not a rolling window.
 *
 * The store keeps a quota as a fixed window (STORE_WINDOW) whose length is
 * the time left until the period ends, so every counter of a period ends
 * at its boundary, in the memory store, the state file and Redis alike.
 * This module finds the period that holds a wall-clock time: it asks the C
 * library (mktime, localtime_r), switching TZ under a process-wide lock
 * when the rule names a zone, and keeps the period it found, so the lock
 * is taken once per period and rule, not per message.
 *
 * Threads: quota_period may be called from any thread at once.  XXX While
 * a named zone is being looked at (once a period), other threads that
 * read the local time (syslog's time stamps) may see that zone.  TZ is
 * then left set (":/etc/localtime" if it was unset, the same zone), so
 * later switches replace a value in environ and never reallocate it
 * under another thread's getenv.
 * Memory: quota_new allocates, quota_free frees; strings are copied.
 */
#ifndef QUOTA_H
#define QUOTA_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

enum quota_kind { QUOTA_DAY, QUOTA_WEEK, QUOTA_MONTH };

extern const char *const quota_kind_names[3];	/* "day", "week", "month" */

struct quota {
	enum quota_kind kind;
	unsigned long n;		/* units per period */
	char *tz;			/* the zone's name, NULL: the system's */
	pthread_mutex_t lock;		/* the period below */
	int64_t start_ms, end_ms;	/* the last period found, wall ms */
	char resets[48];		/* its end as replies write it */
};

/* The largest N: a period's count is kept in 32 bits (the memory store,
 * the state file), so a bigger quota would never be reached. */
#define QUOTA_MAX	4294967295ul

/* Parse "500/day" ("week", "month"), N from 1 to QUOTA_MAX: 0, or -1
 * with err saying what to write. */
int quota_parse(const char *v, enum quota_kind *kind, unsigned long *n,
    char *err, size_t errsz);

/* 0 if tz names a zone this system knows (a TZif file under
 * /usr/share/zoneinfo), or -1 with err saying what to write. */
int quota_tz_check(const char *tz, char *err, size_t errsz);

/* A new quota; tz may be NULL. */
struct quota *quota_new(enum quota_kind kind, unsigned long n, const char *tz);

/* The period that holds wall_ms: its start and end (wall ms) and, in
 * resets (at least 48 bytes), its end as "00:00 CET" (a day) or
 * "Mon 7 Dec 00:00 CET" (a week, a month). */
void quota_period(struct quota *q, int64_t wall_ms, int64_t *start,
    int64_t *end, char *resets, size_t resetsz);

/* Free a quota; NULL is fine. */
void quota_free(struct quota *q);

#endif
