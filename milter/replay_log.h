/*
 * replay_log.h: one line of a Postfix mail log turned into the event
 * `milter-policy replay` needs (replay_log.c).  Pure: no I/O, no engine.
 *
 * Understood: the syslog head ("Dec  1 11:38:22 host prog[pid]: " with or
 * without fractions of a second, as syslog and Postfix's own postlog write
 * it, or an RFC 3339 time as rsyslog and journald write it), then the
 * Postfix lines that describe an SMTP transaction: smtpd's connect,
 * client=, NOQUEUE reject and disconnect; cleanup's message-id=; qmgr's
 * from= and removed; a delivery agent's to=.  Every other line is skipped
 * with the reason (enum rlog_skip), never an error.
 *
 * Strings in an event are copies, cut to the size of their field (a
 * longer value is cut, not refused: a log line is evidence, not input to
 * trust).  The time stamp is syslog_time.h's.
 */
#ifndef REPLAY_LOG_H
#define REPLAY_LOG_H

#include <stdint.h>

#include "syslog_time.h"

enum rlog_kind {
	RLOG_SKIP,		/* see skip */
	RLOG_CONNECT,		/* smtpd: connect from NAME[ADDR] */
	RLOG_DISCONNECT,	/* smtpd: disconnect from NAME[ADDR] */
	RLOG_CLIENT,		/* smtpd: QID: client=NAME[ADDR], sasl_username=U */
	RLOG_REJECT,		/* smtpd: NOQUEUE: reject: STAGE from ...; from=<> to=<> helo=<> sasl_username=<> */
	RLOG_MSGID,		/* cleanup: QID: message-id=<ID> */
	RLOG_FROM,		/* qmgr: QID: from=<S>, size=N, nrcpt=N */
	RLOG_TO,		/* delivery agent: QID: to=<R>, ... */
	RLOG_REMOVED,		/* qmgr: QID: removed */
	RLOG_QREJECT		/* QID: reject: / milter-reject: the message was refused */
};

enum rlog_skip {
	RLOG_SKIP_HEAD,		/* no syslog head: not a mail log line */
	RLOG_SKIP_PROGRAM,	/* another program than Postfix */
	RLOG_SKIP_UNUSED,	/* a Postfix line replay does not need */
	RLOG_SKIP_MALFORMED,	/* a line replay needs, but not as expected */
	RLOG_NSKIP
};

#define RLOG_ADDR_MAX	512	/* a mail address or Message-ID */
#define RLOG_NAME_MAX	256	/* a host name, HELO or user */

struct rlog_event {
	enum rlog_kind kind;
	enum rlog_skip skip;		/* RLOG_SKIP: why */
	int64_t time_ms;		/* UTC, milliseconds since the epoch */
	char session[RLOG_NAME_MAX + 32];	/* "HOST PROG[PID]": one smtpd process */
	char qid[32];			/* queue ID, "" for NOQUEUE and connect lines */
	char client_name[RLOG_NAME_MAX];
	char client_addr[64];
	char helo[RLOG_NAME_MAX];
	char user[RLOG_NAME_MAX];	/* sasl_username */
	char sender[RLOG_ADDR_MAX];	/* without <>; "" the null sender */
	char rcpt[RLOG_ADDR_MAX];
	char msgid[RLOG_ADDR_MAX];
	char reject_stage[16];		/* RLOG_REJECT: "RCPT", "MAIL", "CONNECT", ... */
	int has_sender;			/* RLOG_REJECT: from=<> was there */
	int by_milter;			/* a milter-reject: a milter saw the step */
	unsigned long size, nrcpt;	/* RLOG_FROM */
};

/* Parse one line (without its newline) into *ev; returns ev->kind. */
enum rlog_kind rlog_parse(const char *line, struct syslog_clock *c,
    struct rlog_event *ev);

/* A few words naming a skip reason, for the summary. */
const char *rlog_skip_name(enum rlog_skip s);

/* Parse "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]" or "YYYY-MM-DDTHH:MM[:SS]"
 * (UTC) into ms; -1 when it is none of them. */
int64_t rlog_parse_time(const char *s);

#endif
