/* stats.c: counters and the stats line; see stats.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "stats.h"
#include "util.h"

#define STATS_RULES	64	/* distinct rule names counted; the rest as "other" */

static atomic_ulong connections, messages, errors, dry_runs, greylisted;
static atomic_ulong by_code[200];	/* 400..599 */
static pthread_mutex_t rules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { char name[65]; unsigned long n; } rules[STATS_RULES + 1];
static int nrules;

/* Store latency: a count per bucket, bucket i holding calls that took at
 * most latency_bound[i] us (1-2-5 steps); the last one, anything longer. */
static const unsigned long latency_bound[] = { 1, 2, 5, 10, 20, 50, 100, 200,
    500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000,
    1000000, 2000000, 5000000 };
#define NBOUNDS	NELEM(latency_bound)
static atomic_ulong latency[NBOUNDS + 1], store_calls, store_errors;
static atomic_ulong latency_max, latency_sum;
static atomic_long sessions_open;
static atomic_ulong reloads_ok, reloads_failed;

void
stats_connection(void)
{
	atomic_fetch_add(&connections, 1);
}

void
stats_message(void)
{
	atomic_fetch_add(&messages, 1);
}

void
stats_greylist(void)
{
	atomic_fetch_add(&greylisted, 1);
}

void
stats_error(void)
{
	atomic_fetch_add(&errors, 1);
}

void
stats_store(uint64_t us, int ok)
{
	unsigned long seen = atomic_load(&latency_max);
	size_t i = 0;

	while (i < NBOUNDS && us > latency_bound[i])
		i++;
	atomic_fetch_add(&latency[i], 1);
	atomic_fetch_add(&store_calls, 1);
	atomic_fetch_add(&latency_sum, us);
	if (!ok)
		atomic_fetch_add(&store_errors, 1);
	while (us > seen && !atomic_compare_exchange_weak(&latency_max, &seen, us))
		;
}

/* The bucket bound under which per_mille of the n calls fell (at most
 * the slowest call seen). */
static unsigned long
latency_percentile(unsigned long n, unsigned per_mille)
{
	unsigned long want = (n * per_mille + 999) / 1000, sum = 0;
	unsigned long max = atomic_load(&latency_max);
	size_t i;

	for (i = 0; i < NBOUNDS; i++)
		if ((sum += atomic_load(&latency[i])) >= want)
			return latency_bound[i] < max ? latency_bound[i] : max;
	return max;
}

/* " store_calls=N store_errors=N" and, after a call, the percentiles. */
static size_t
stats_store_part(char *line, size_t len)
{
	unsigned long n = atomic_load(&store_calls);

	len += snprintf(line + len, STATS_LINE - len, " store_calls=%lu "
	    "store_errors=%lu", n, atomic_load(&store_errors));
	if (n > 0)
		len += snprintf(line + len, STATS_LINE - len, " store_us.p50=%lu "
		    "store_us.p90=%lu store_us.p99=%lu store_us.max=%lu",
		    latency_percentile(n, 500), latency_percentile(n, 900),
		    latency_percentile(n, 990), atomic_load(&latency_max));
	return len;
}

static void
count_rule(const char *rule)
{
	int i;

	pthread_mutex_lock(&rules_lock);
	for (i = 0; i < nrules; i++)
		if (strcmp(rules[i].name, rule) == 0)
			break;
	if (i == nrules && nrules < STATS_RULES)
		snprintf(rules[nrules++].name, sizeof rules[0].name, "%s", rule);
	else if (i == nrules)
		snprintf(rules[i = STATS_RULES].name, sizeof rules[0].name, "other");
	rules[i].n++;
	pthread_mutex_unlock(&rules_lock);
}

void
stats_decision(const char *rule, int code, int dry_run)
{
	if (dry_run)
		atomic_fetch_add(&dry_runs, 1);
	else if (code >= 400 && code < 600)
		atomic_fetch_add(&by_code[code - 400], 1);
	count_rule(rule ? rule : "none");
}

/* Append " name=value" pairs for the non-zero codes, then the rules. */
static size_t
stats_details(char *line, size_t len)
{
	int i;

	for (i = 0; i < 200 && len < STATS_LINE; i++)
		if (atomic_load(&by_code[i]) > 0)
			len += snprintf(line + len, STATS_LINE - len, " code.%d=%lu",
			    i + 400, atomic_load(&by_code[i]));
	pthread_mutex_lock(&rules_lock);
	for (i = 0; i <= STATS_RULES && len < STATS_LINE; i++)
		if (rules[i].n > 0)
			len += snprintf(line + len, STATS_LINE - len, " rule.%s=%lu",
			    rules[i].name, rules[i].n);
	pthread_mutex_unlock(&rules_lock);
	if (atomic_load(&greylisted) > 0 && len < STATS_LINE)
		len += snprintf(line + len, STATS_LINE - len, " greylisted=%lu",
		    atomic_load(&greylisted));
	return len;
}

void
stats_line(char *line)
{
	size_t len;

	len = snprintf(line, STATS_LINE, "stats: connections=%lu messages=%lu "
	    "dry_run=%lu errors=%lu", atomic_load(&connections),
	    atomic_load(&messages), atomic_load(&dry_runs), atomic_load(&errors));
	len = stats_store_part(line, len);
	stats_details(line, len);
}

void
stats_log(void)
{
	char line[STATS_LINE];

	stats_line(line);
	log_msg(LOG_INFO, "%s", line);
}

void
stats_session(int delta)
{
	atomic_fetch_add(&sessions_open, delta);
}

void
stats_reload(int ok)
{
	atomic_fetch_add(ok ? &reloads_ok : &reloads_failed, 1);
}

void
stats_snapshot(struct stats_snap *s)
{
	size_t i;

	_Static_assert(NBOUNDS == STATS_BUCKETS, "stats.h's bucket count");
	s->connections = atomic_load(&connections);
	s->messages = atomic_load(&messages);
	s->errors = atomic_load(&errors);
	s->dry_runs = atomic_load(&dry_runs);
	s->store_calls = atomic_load(&store_calls);
	s->store_errors = atomic_load(&store_errors);
	s->store_us_sum = atomic_load(&latency_sum);
	for (i = 0; i <= NBOUNDS; i++) {
		if (i < NBOUNDS)
			s->bucket_us[i] = latency_bound[i];
		s->bucket[i] = atomic_load(&latency[i]);
	}
	s->sessions_open = atomic_load(&sessions_open);
	s->reloads_ok = atomic_load(&reloads_ok);
	s->reloads_failed = atomic_load(&reloads_failed);
}
