/*
 * replay_run.h: replayed connections and messages through one policy, on
 * the log's clock and a scratch store, into a struct rres.
 *
 * Each message goes through the stages the milter would have seen, at
 * the time its smtpd line was logged: MAIL, each recipient, DATA, the
 * Message-ID header, end of headers, a body and end of message with the
 * size qmgr logged.  What a log cannot say is never guessed: the body is
 * one no other message has (a body fingerprint never matches), headers
 * other than Message-ID are absent; the rules that need them are counted
 * as not judged (rres_rule.cannot).  Nothing outside the scratch store
 * changes.
 *
 * The policy and the store are borrowed; one thread.
 */
#ifndef REPLAY_RUN_H
#define REPLAY_RUN_H

#include "policy.h"
#include "replay_res.h"
#include "replay_txn.h"

struct store;

struct rrun {
	struct policy *p;
	struct store *st;
	int slot;			/* which rtxn_conn.run[] is ours */
	struct rres res;
	unsigned long seq;		/* makes each message's body its own */
	const struct pol_env *env;	/* the stage under evaluation, for notes */
	int64_t t;
};

/* Start replaying through p on st, in connection slot `slot`. */
void rrun_init(struct rrun *r, struct policy *p, struct store *st, int slot);

/* A connection opened, a message is complete, a connection is over. */
void rrun_connect(struct rrun *r, struct rtxn_conn *c);
void rrun_message(struct rrun *r, struct rtxn_msg *m);
void rrun_disconnect(struct rrun *r, struct rtxn_conn *c);

/* Free the results (the policy and store stay the caller's). */
void rrun_free(struct rrun *r);

#endif
