/* syslog_time.c: a log line's time stamp; see syslog_time.h. */
#include <ctype.h>
#include <string.h>
#include <time.h>

#include "syslog_time.h"

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

void
syslog_clock_init(struct syslog_clock *c, int64_t now_s)
{
	time_t t = (time_t)now_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	c->now_year = c->year = tm.tm_year + 1900;
	c->now_month = tm.tm_mon + 1;
	c->month = 0;
}

int64_t
syslog_civil_day(int y, int m, int d)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d };

	return (int64_t)timegm(&tm) / 86400;
}

/* n digits at s into *v (no sign, no space); -1 when they are not. */
static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/* "HH:MM:SS[.frac]": ms of the day; *end after it. */
static int64_t
day_clock(const char *s, const char **end)
{
	int h, m, sec, scale = 100;
	int64_t ms;

	if (digits(s, 2, &h) < 0 || s[2] != ':' || digits(s + 3, 2, &m) < 0 ||
	    s[5] != ':' || digits(s + 6, 2, &sec) < 0 || h > 23 || m > 59 ||
	    sec > 60)
		return -1;
	ms = ((int64_t)h * 3600 + m * 60 + sec) * 1000;
	s += 8;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++, scale /= 10)
			ms += (*s - '0') * scale;
	*end = s;
	return ms;
}

/* "Dec  1 11:38:22": the year from the clock. */
static int64_t
bsd_time(const char *s, struct syslog_clock *c, const char **end)
{
	int mon, day, n;
	int64_t ms;

	for (mon = 0; mon < 12; mon++)
		if (strncmp(s, months[mon], 3) == 0 && s[3] == ' ')
			break;
	if (mon == 12)
		return -1;
	s += 4;
	if (*s == ' ')
		s++;			/* "Dec  1": a padded day */
	for (day = 0, n = 0; n < 2 && isdigit((unsigned char)*s); n++, s++)
		day = day * 10 + (*s - '0');
	if (n == 0 || *s++ != ' ' || day < 1 || day > 31)
		return -1;
	if ((ms = day_clock(s, end)) < 0)
		return -1;
	mon++;
	if (c->month == 0 && mon > c->now_month)
		c->year = c->now_year - 1;	/* last December, read in January */
	else if (c->month != 0 && mon + 6 < c->month)
		c->year++;
	c->month = mon;
	return syslog_civil_day(c->year, mon, day) * 86400000 + ms;
}

/* "2026-12-01T11:38:22[.frac](Z|+hh:mm)". */
static int64_t
rfc3339_time(const char *s, const char **end)
{
	int y, mo, d, oh, om;
	int64_t ms;

	if (digits(s, 4, &y) < 0 || s[4] != '-' || digits(s + 5, 2, &mo) < 0 ||
	    s[7] != '-' || digits(s + 8, 2, &d) < 0 || s[10] != 'T' ||
	    mo < 1 || mo > 12 || d < 1 || d > 31)
		return -1;
	if ((ms = day_clock(s + 11, &s)) < 0)
		return -1;
	ms += syslog_civil_day(y, mo, d) * 86400000;
	if (*s == 'Z') {
		s++;
	} else if ((*s == '+' || *s == '-') && digits(s + 1, 2, &oh) == 0 &&
	    s[3] == ':' && digits(s + 4, 2, &om) == 0) {
		ms -= (*s == '+' ? 1 : -1) * ((int64_t)oh * 3600 + om * 60) * 1000;
		s += 6;
	}
	*end = s;
	return ms;
}

int64_t
syslog_time(const char *s, struct syslog_clock *c, const char **end)
{
	int64_t t = rfc3339_time(s, end);

	return t >= 0 ? t : bsd_time(s, c, end);
}
