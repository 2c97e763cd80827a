/*
 * stats.h: counters for the stats line: connections, messages, decisions
 * per rule and per reply code, store calls, errors and latency.  Thread safe; counting never
 * blocks a callback for long (one short mutex for the per-rule table,
 * atomics for the rest).  The line is written every milter.stats_interval
 * and on SIGUSR2 (reload.c), never per request.
 */
#ifndef STATS_H
#define STATS_H

#include <stdint.h>

void stats_connection(void);		/* a connection began */
void stats_message(void);		/* a message began (MAIL FROM) */

/* A decision that was not a plain accept: its rule and reply code (0 none). */
void stats_decision(const char *rule, int code, int dry_run);

/* A greylisting rule deferred a recipient. */
void stats_greylist(void);

/* The engine could not decide (store or match error). */
void stats_error(void);

/* One store call (take or give) took us microseconds; ok is 0 on error. */
void stats_store(uint64_t us, int ok);

/* A session opened (delta 1) or closed (-1), for the sessions-open gauge. */
void stats_session(int delta);

/* A reload ended: ok is 1 when the new policy is in force. */
void stats_reload(int ok);

/* The totals, for the metrics endpoint (metrics.c). */
#define STATS_BUCKETS	21
struct stats_snap {
	unsigned long connections, messages, errors, dry_runs;
	unsigned long store_calls, store_errors, store_us_sum;
	unsigned long bucket_us[STATS_BUCKETS];	/* upper bounds, us */
	unsigned long bucket[STATS_BUCKETS + 1];	/* per bucket, not cumulative; last: +Inf */
	long sessions_open;
	unsigned long reloads_ok, reloads_failed;
};
void stats_snapshot(struct stats_snap *s);

#define STATS_LINE	2048

/* Write the stats line: totals since start. */
void stats_log(void);

/* The same line into line (STATS_LINE bytes), for `ctl stats`. */
void stats_line(char *line);

#endif
