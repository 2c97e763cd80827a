/*
 * log.h: the only code that calls syslog() or writes to stderr.
 *
 * log_open once at start (before any thread); after that log_msg is
 * thread safe (syslog is).  Messages must already be clean: callers pass
 * client values through text_clean() first.
 */
#ifndef LOG_H
#define LOG_H

/* Open syslog with a facility name ("mail", "local0", ...); with
 * to_stderr, every line is also written to stderr (foreground mode). */
void log_open(const char *facility, int to_stderr);

/* Only messages at this syslog priority or more urgent are written. */
void log_set_level(int level);

/* Write one line at a syslog priority (LOG_ERR ... LOG_DEBUG). */
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The syslog facility code for a name, or -1. */
int log_facility(const char *name);

#endif
