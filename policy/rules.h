/*
 * rules.h: the compiled policy, shared by conf.c (which builds it) and
 * policy.c (which evaluates it).  Internal to the engine.  The specs of
 * counting rules belong to their modules (ratelimit.h, dupes.h, keys.h);
 * a rule holds them.
 *
 * Everything hanging off a struct policy is owned by it and freed by
 * policy_free() when the last reference goes; after pol_load() returns,
 * nothing in it changes except the reference count.
 */
#ifndef RULES_H
#define RULES_H

#include <stdatomic.h>

#include "dnsl.h"
#include "dupes.h"
#include "greylist.h"
#include "keys.h"
#include "match.h"
#include "policy.h"
#include "ratelimit.h"
#include "replies.h"
#include "store.h"

enum cond_kind {
	COND_CLIENT, COND_CLIENT_NAME, COND_HELO, COND_SENDER,
	COND_SENDER_DOMAIN, COND_RCPT, COND_RCPT_DOMAIN, COND_AUTHENTICATED,
	COND_AUTH_USER, COND_DAEMON, COND_HEADER, COND_SIZE,
	COND_DNSBL, COND_DNSWL, COND_RHSBL, COND_RHSBL_HELO, COND_RHSBL_CLIENT
};

enum size_op { SIZE_GT, SIZE_LT, SIZE_EQ };

struct cond {
	enum cond_kind kind;
	struct match_list *list;	/* list-valued kinds; header: the value pattern */
	int want;			/* authenticated: 1 or 0 */
	char *hdr_name;			/* header: which header */
	enum size_op size_op;		/* size */
	unsigned long size;
	struct dnsl_cond *dns;		/* DNS lists: what to ask (dnsl.h) */
};

struct condset {
	int n;
	struct cond *c;
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
	struct greyspec *grey;		/* a greylisting rule, or NULL */
	int content;			/* needs headers or the body (pol_rule_content),
					   set once at load for the two doors' split */
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
	int uses_dns;			/* some condition asks a DNS list */
	struct reply *dns_unavailable;	/* a DNS list unknown, dns.on_error = tempfail */
};

/* The names of stages and actions, as the policy file and the logs write
 * them: the one table of each. */
extern const char *const pol_stage_names[POL_NSTAGES];
extern const char *const pol_action_names[POL_NACTIONS];

/* Free a compiled policy and all it owns; used by pol_unref and conf.c. */
void policy_free(struct policy *p);

/* Earliest stage at which a condition's data is known. */
enum pol_stage cond_stage(enum cond_kind kind);

#endif
