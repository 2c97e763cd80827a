/*
 * rules.h: the compiled policy, shared by conf.c (which builds it) and
 * policy.c (which evaluates it).  Internal to the engine.
 *
 * Everything hanging off a struct policy is owned by it and freed by
 * policy_free() when the last reference goes; after pol_load() returns,
 * nothing in it changes except the reference count.
 */
#ifndef RULES_H
#define RULES_H

#include <stdatomic.h>

#include "match.h"
#include "policy.h"
#include "replies.h"
#include "store.h"

enum cond_kind {
	COND_CLIENT, COND_CLIENT_NAME, COND_HELO, COND_SENDER,
	COND_SENDER_DOMAIN, COND_RCPT, COND_RCPT_DOMAIN, COND_AUTHENTICATED,
	COND_AUTH_USER, COND_DAEMON, COND_HEADER, COND_SIZE
};

enum size_op { SIZE_GT, SIZE_LT, SIZE_EQ };

struct cond {
	enum cond_kind kind;
	struct match_list *list;	/* list-valued kinds; header: the value pattern */
	int want;			/* authenticated: 1 or 0 */
	char *hdr_name;			/* header: which header */
	enum size_op size_op;		/* size */
	unsigned long size;
};

struct condset {
	int n;
	struct cond *c;
};

enum rl_unit { RL_CONNECTIONS, RL_MESSAGES, RL_RECIPIENTS, RL_BYTES };

/* One counter key a limit or duplicate rule is kept "per". */
enum key_kind {
	KEY_CLIENT_ADDR, KEY_CLIENT_NET, KEY_HELO, KEY_SENDER,
	KEY_SENDER_DOMAIN, KEY_AUTH_USER, KEY_RCPT, KEY_RCPT_DOMAIN, KEY_HEADER
};

struct keyspec {
	enum key_kind kind;
	int hdr;			/* KEY_HEADER: index in policy->headers */
};

struct limit {
	enum rl_unit unit;
	int nkeys;
	struct keyspec *keys;
	unsigned long rate;		/* N of "N/DURATION" */
	unsigned long window_ms;	/* DURATION */
	unsigned long burst;		/* bucket size; default N */
	enum store_charge charge;	/* accepted, attempts, none */
	char *counter;			/* counter = "RULE": that rule's counter
					   (unit, keys and rate copied from it);
					   NULL: this rule's own */
};

enum dup_of { DUP_BODY, DUP_HEADER };

struct dupspec {
	enum dup_of of;
	int hdr;			/* DUP_HEADER: index in policy->headers */
	int message_id;			/* of = "message_id": <> are not part of it */
	int nkeys;
	struct keyspec *keys;
	unsigned long max;		/* copies allowed within the window */
	unsigned long window_ms;
	int count_refused;		/* refused copies count too (default) */
};

struct rule {
	char *name;
	int line;
	struct condset when;		/* all must match */
	struct condset unless;		/* any one exempts */
	enum pol_stage stage;
	enum pol_action action;
	enum pol_scope scope;
	enum pol_mode mode;
	struct reply *reply;		/* owned; NULL for accept/continue/discard... */
	struct limit *limit;		/* a limit rule, or NULL */
	struct dupspec *dup;		/* a duplicates rule, or NULL */
	char *notify;			/* an address told of over-limit, or NULL */
};

struct relay {
	int enabled;
	struct match_list *local_domains;
	struct match_list *permit_client;	/* NULL: none */
	int permit_authenticated;
	struct reply *reply;
};

struct policy {
	atomic_int refs;
	char *path;
	struct pol_settings settings;	/* strings owned */
	struct relay relay;
	int nrules;
	struct rule *rules;
	unsigned stages;		/* bit per enum pol_stage that a rule needs */
	struct reply *internal_error;	/* the reply for POL_ERROR verdicts */
	struct reply *store_unavailable;	/* ... when the store failed */
	int nheaders;
	char **headers;			/* names of the headers keys are kept per */
	int body_fp;			/* some rule needs the body fingerprint */
	int msg_rcpts;			/* some rule counts per recipient at eoh/eom */
};

/* Free a compiled policy and all it owns; used by pol_unref and conf.c. */
void policy_free(struct policy *p);

/* Earliest stage at which a condition's data is known. */
enum pol_stage cond_stage(enum cond_kind kind);

#endif
