/*
 * replay_res.h: what one policy would have done to a replayed log: the
 * refusals by rule and code, the keys refused, who also had mail
 * accepted, refusals per hour, and the rules the log could not judge.
 * Filled by replay_run.c, printed by replay_report.c.
 *
 * Bounded: at most RRES_KEYS_MAX keys and RRES_PRINCIPALS_MAX senders,
 * clients and users are remembered (past that they are counted in
 * keys_dropped); hours are kept for RRES_HOURS_MAX hours from the first
 * refusal.  Strings are owned copies.  One thread.
 */
#ifndef REPLAY_RES_H
#define REPLAY_RES_H

#include <stdint.h>

#define RRES_KEYS_MAX		200000
#define RRES_PRINCIPALS_MAX	1000000
#define RRES_HOURS_MAX		(24 * 400)
#define RRES_CODES_MAX		8

struct rres_code {
	int code;
	char xcode[16];
	unsigned long n;
};

struct rres_rule {
	const char *name;		/* borrowed from the policy */
	int dry_run;			/* the rule's mode */
	struct rres_code codes[RRES_CODES_MAX];
	int ncodes;
	unsigned long refused;		/* all codes; dry-run: would-refusals */
	const char *cannot;		/* what the log lacks ("the body"), or NULL */
	unsigned long not_judged;	/* transactions it could not judge */
};

struct rres_key {
	char *rule, *key;
	unsigned long refused;
	int64_t first_ms, last_ms;
	struct rres_key *next;		/* private */
};

struct rres_total {
	unsigned long transactions;	/* messages and NOQUEUE attempts replayed */
	unsigned long accepted;		/* that the policy would deliver */
	unsigned long refused;		/* transactions the policy refused */
	unsigned long rcpts_refused;	/* recipients it refused */
	unsigned long mta_refused;	/* that Postfix refused itself */
	unsigned long errors;		/* the engine could not decide */
};

struct rres {
	int nrules;
	struct rres_rule *rules;
	struct rres_total total;
	int64_t first_ms, last_ms;	/* the transactions replayed */
	int64_t hour0;			/* first refusal's hour (ms / 3600000) */
	int nhours;
	unsigned long *hours;
	unsigned long keys_dropped;
	/* private */
	struct rres_key **kbuckets;
	unsigned long nkeys;
	struct rres_pr **pbuckets;
	unsigned long nprincipals;
};

/* Start results for nrules rules (names and cannot set by the caller). */
void rres_init(struct rres *r, int nrules);

/* One refusal by rule i (dry_run: a would-refusal) of key at t. */
void rres_refusal(struct rres *r, int i, int code, const char *xcode,
    const char *key, int64_t t_ms);

/* A client, sender or user had a message accepted. */
void rres_accepted_by(struct rres *r, const char *principal);

/* Messages accepted from a key's client, sender or user: for a key of
 * several values ("a,b"), the fewest of any value. */
unsigned long rres_accepted_of(const struct rres *r, const char *key);

/* How often rule refused key (0: never). */
unsigned long rres_key_refused(const struct rres *r, const char *rule,
    const char *key);

/* The keys refused, most first; *n set; the array is the caller's. */
struct rres_key **rres_keys_sorted(const struct rres *r, unsigned long *n);

/* Free everything it owns. */
void rres_free(struct rres *r);

#endif
