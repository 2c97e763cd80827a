/* log.c: syslog, and stderr in the foreground; see log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static int log_level = LOG_INFO;
static int log_stderr;

int
log_facility(const char *name)
{
	static const struct { const char *name; int code; } tab[] = {
		{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
		{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
		{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
		{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
		{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	};
	size_t i;

	for (i = 0; i < NELEM(tab); i++)
		if (strcmp(name, tab[i].name) == 0)
			return tab[i].code;
	return -1;
}

void
log_open(const char *facility, int to_stderr)
{
	int code = facility ? log_facility(facility) : LOG_MAIL;

	log_stderr = to_stderr;
	closelog();
	openlog("milter-policy", LOG_PID | LOG_NDELAY, code < 0 ? LOG_MAIL : code);
}

void
log_set_level(int level)
{
	log_level = level;
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_level)
		return;
	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
	if (log_stderr) {
		char line[4096];

		va_start(ap, fmt);
		vsnprintf(line, sizeof line, fmt, ap);
		va_end(ap);
		fprintf(stderr, "milter-policy[%d]: %s\n", (int)getpid(), line);
	}
}
