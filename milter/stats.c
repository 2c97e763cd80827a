/* stats.c: counters and the stats line; see stats.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "stats.h"

#define STATS_RULES	64	/* distinct rule names counted; the rest as "other" */

static atomic_ulong connections, messages, errors, dry_runs;
static atomic_ulong by_code[200];	/* 400..599 */
static pthread_mutex_t rules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { char name[65]; unsigned long n; } rules[STATS_RULES + 1];
static int nrules;

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
stats_error(void)
{
	atomic_fetch_add(&errors, 1);
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
	return len;
}

void
stats_line(char *line)
{
	size_t len;

	len = snprintf(line, STATS_LINE, "stats: connections=%lu messages=%lu "
	    "dry_run=%lu errors=%lu", atomic_load(&connections),
	    atomic_load(&messages), atomic_load(&dry_runs), atomic_load(&errors));
	stats_details(line, len);
}

void
stats_log(void)
{
	char line[STATS_LINE];

	stats_line(line);
	log_msg(LOG_INFO, "%s", line);
}
