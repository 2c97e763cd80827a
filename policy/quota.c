/* quota.c: calendar periods in a time zone; see quota.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "quota.h"
#include "xmalloc.h"

#define ZONEINFO	"/usr/share/zoneinfo"

const char *const quota_kind_names[3] = { "day", "week", "month" };

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

int
quota_parse(const char *v, enum quota_kind *kind, unsigned long *n,
    char *err, size_t errsz)
{
	char *slash;
	size_t i;

	errno = 0;
	*n = strtoul(v, &slash, 10);
	if (isdigit((unsigned char)v[0]) && *slash == '/' && *n > 0 &&
	    *n <= QUOTA_MAX && errno == 0)
		for (i = 0; i < 3; i++)
			if (strcmp(slash + 1, quota_kind_names[i]) == 0) {
				*kind = (enum quota_kind)i;
				return 0;
			}
	snprintf(err, errsz, "quota \"%.64s\": expected N/day, N/week or "
	    "N/month with N from 1 to %lu, e.g. \"500/day\"", v,
	    (unsigned long)QUOTA_MAX);
	return -1;
}

int
quota_tz_check(const char *tz, char *err, size_t errsz)
{
	char path[512], magic[4];
	int fd = -1, ok = 0;

	if (tz[0] != '\0' && tz[0] != '/' && strstr(tz, "..") == NULL &&
	    strlen(tz) < 200) {
		snprintf(path, sizeof path, "%s/%s", ZONEINFO, tz);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	}
	if (fd >= 0) {
		ok = read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
		close(fd);
	}
	if (ok)
		return 0;
	snprintf(err, errsz, "time_zone \"%.64s\": no such zone in %s; write a "
	    "name such as \"Europe/Paris\" or \"UTC\", or leave it out for the "
	    "system's", tz, ZONEINFO);
	return -1;
}

struct quota *
quota_new(enum quota_kind kind, unsigned long n, const char *tz)
{
	struct quota *q = xcalloc(1, sizeof *q);

	q->kind = kind;
	q->n = n;
	q->tz = tz ? xstrdup(tz) : NULL;
	pthread_mutex_init(&q->lock, NULL);
	return q;
}

/* Local midnight at the start of the period holding t, and the next. */
static void
period_local(enum quota_kind kind, time_t t, time_t *start, time_t *end,
    char *resets, size_t resetsz)
{
	struct tm tm, e;

	localtime_r(&t, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	if (kind == QUOTA_WEEK)
		tm.tm_mday -= (tm.tm_wday + 6) % 7;	/* back to Monday */
	else if (kind == QUOTA_MONTH)
		tm.tm_mday = 1;
	e = tm;
	*start = mktime(&tm);
	if (kind == QUOTA_DAY)
		e.tm_mday += 1;
	else if (kind == QUOTA_WEEK)
		e.tm_mday += 7;
	else
		e.tm_mon += 1;
	e.tm_isdst = -1;
	*end = mktime(&e);
	localtime_r(end, &e);
	strftime(resets, resetsz, kind == QUOTA_DAY ? "%H:%M %Z" :
	    "%a %-d %b %H:%M %Z", &e);
}

/* period_local in the zone tz (NULL: the process's). */
static void
period_in(const char *tz, enum quota_kind kind, time_t t, time_t *start,
    time_t *end, char *resets, size_t resetsz)
{
	char *old = NULL, spec[256];
	const char *cur;

	pthread_mutex_lock(&tz_lock);
	if (tz != NULL) {
		cur = getenv("TZ");
		old = cur ? xstrdup(cur) : NULL;
		snprintf(spec, sizeof spec, ":%s", tz);
		setenv("TZ", spec, 1);
		tzset();
	}
	period_local(kind, t, start, end, resets, resetsz);
	if (tz != NULL) {
		/* never unsetenv: the next setenv would then grow environ
		 * again, freeing the array another thread's getenv (c-ares's
		 * at a reconfiguration) may be reading; ":/etc/localtime" is
		 * what glibc reads when TZ is unset */
		setenv("TZ", old != NULL ? old : ":/etc/localtime", 1);
		tzset();
		free(old);
	}
	pthread_mutex_unlock(&tz_lock);
}

void
quota_period(struct quota *q, int64_t wall_ms, int64_t *start, int64_t *end,
    char *resets, size_t resetsz)
{
	time_t s, e;

	pthread_mutex_lock(&q->lock);
	if (wall_ms < q->start_ms || wall_ms >= q->end_ms) {
		period_in(q->tz, q->kind, (time_t)(wall_ms / 1000 -
		    (wall_ms % 1000 < 0)), &s, &e, q->resets, sizeof q->resets);
		q->start_ms = (int64_t)s * 1000;
		q->end_ms = (int64_t)e * 1000;
		if (q->end_ms <= wall_ms)	/* never an empty period */
			q->end_ms = wall_ms + 1;
	}
	*start = q->start_ms;
	*end = q->end_ms;
	snprintf(resets, resetsz, "%s", q->resets);
	pthread_mutex_unlock(&q->lock);
}

void
quota_free(struct quota *q)
{
	if (q == NULL)
		return;
	pthread_mutex_destroy(&q->lock);
	free(q->tz);
	free(q);
}
