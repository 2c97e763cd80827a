/*
 * notify.h: a short plain-text mail to a rule's `notify` address the
 * first time a counter goes over its limit in a window (the moment of the
 * over-limit notice), sent through the MTA's sendmail command.
 *
 * Never blocks a session: notify_over_limit composes the mail into a
 * bounded queue (NOTIFY_QUEUE; a full queue drops and logs) and one
 * thread of its own runs sendmail with a fixed argument vector
 * (sendmail -i -- ADDRESS: no shell; the envelope values are only in the
 * body, cleaned to printable ASCII).  At most milter.notify_max_per_hour
 * mails an hour in all; past that a mail is dropped and logged.
 *
 * It cannot loop: the mail enters the MTA through its local submission
 * path (Postfix: postdrop and pickup), which smtpd_milters never see, and
 * the rate is bounded anyway.
 *
 * Threads: notify_start after the signal mask is set (reload_start);
 * notify_over_limit from any thread; notify_stop once, at stop.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <stddef.h>
#include <time.h>

#define NOTIFY_QUEUE	16
#define NOTIFY_BODY	4096

/* What was refused: borrowed for the call, copied into the mail. */
struct notify_event {
	const char *to;			/* the rule's notify address */
	const char *rule, *key, *limit;	/* limit as "3/1h" */
	const char *verb, *stage;	/* "tempfail", "mail" */
	int code;			/* 0: no reply */
	const char *xcode;
	const char *queue_id, *client_name, *client_addr, *sender;	/* NULL: unknown */
};

/* Start the sender thread; policy is the file ctl commands name.
 * 0, or -1 logged (then notify_over_limit only logs). */
int notify_start(const char *sendmail, unsigned max_per_hour,
    const char *policy);

/* Queue the mail about e, if the hourly budget and the queue allow. */
void notify_over_limit(const struct notify_event *e);

/* Send what is queued, then stop the thread. */
void notify_stop(void);

/* The mail (headers and body) about e at now into buf; its length. */
size_t notify_compose(const struct notify_event *e, time_t now,
    const char *policy, char *buf, size_t bufsz);

#endif
