/*
 * replay_txn.h: log events (replay_log.h) gathered into the connections
 * and messages they describe, handed to the caller as each is complete.
 *
 * A connection is one smtpd process's session, from "connect from" to
 * "disconnect from"; a message is one queue ID, from smtpd's client= line
 * to qmgr's "removed" (or a refusal, or the end of the log).  Refusals
 * before a queue ID (NOQUEUE) with one sender make one message that never
 * reached DATA.  A milter's refusal is not Postfix's: the recipient or
 * message it refused is handed over as attempted, for the policy being
 * replayed to judge anew; Postfix's own refusals stay refusals.  A message
 * outlives the smtpd session that received it: its connection is freed
 * only after its last message is handed over.
 *
 * Memory is bounded: at most RTXN_CONNS_MAX open connections and
 * RTXN_MSGS_MAX open messages; past that the oldest is handed over as it
 * is (and counted in evicted).  A message keeps at most RTXN_RCPTS_MAX
 * recipient addresses.  Strings in the structs below are owned by this
 * module and valid during the callback that receives them.
 *
 * One thread; nothing here is shared.
 */
#ifndef REPLAY_TXN_H
#define REPLAY_TXN_H

#include <stdint.h>

#include "replay_log.h"

#define RTXN_CONNS_MAX	50000
#define RTXN_MSGS_MAX	100000
#define RTXN_RCPTS_MAX	1000

struct rtxn_conn {
	int64_t start_ms;
	char *client_name, *client_addr;
	char *helo;			/* NULL: not logged */
	void *run[2];			/* the caller's, per policy */
	/* private */
	char *session;
	int closed, pending;
	struct rtxn_conn *prev, *next, *hnext;
	struct rtxn_msg *attempt;	/* NOQUEUE refusals under way */
};

struct rtxn_msg {
	struct rtxn_conn *conn;
	int64_t start_ms;
	char *sender;			/* NULL: not logged */
	char *user;			/* sasl_username, or NULL */
	char *msgid;
	unsigned long size, nrcpt;	/* from qmgr; 0 unknown */
	int nrcpts;			/* addresses in rcpt[] */
	char **rcpt;
	int queued;			/* Postfix took it (qmgr saw it) */
	int reached_data;		/* the client sent the message itself */
	int mta_refused;		/* Postfix itself refused it (not a milter) */
	int mta_rcpt_refused;		/* recipients Postfix refused itself */
	/* private */
	char qid[32];
	struct rtxn_msg *prev, *next, *hnext;
};

struct rtxn_ops {
	void (*connect)(void *arg, struct rtxn_conn *c);
	void (*message)(void *arg, struct rtxn_msg *m);
	void (*disconnect)(void *arg, struct rtxn_conn *c);
};

struct rtxn_stats {
	unsigned long connections, messages, attempts, evicted;
	unsigned long outside;		/* events before --from or after --to */
	unsigned long orphans;		/* lines about a message never seen start */
};

struct rtxn;

/* A new gatherer that calls ops with arg; events outside [from_ms,
 * to_ms) start nothing (to_ms 0: no end). */
struct rtxn *rtxn_new(const struct rtxn_ops *ops, void *arg, int64_t from_ms,
    int64_t to_ms);

/* Take one event. */
void rtxn_add(struct rtxn *t, const struct rlog_event *ev);

/* Hand over everything still open (the log ended); then the counts. */
void rtxn_finish(struct rtxn *t, struct rtxn_stats *stats);

/* Free it; after rtxn_finish. */
void rtxn_free(struct rtxn *t);

#endif
