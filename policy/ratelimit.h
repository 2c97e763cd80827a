/*
 * ratelimit.h: limit rules: their spec (struct limit, owned by the rule),
 * the charge through the store, and the ledger that gives units back when
 * a message is refused or aborted.  Internal to the engine.
 *
 * A ledger belongs to one connection's engine state (one thread at a
 * time); it is bounded (RL_LEDGER_MAX): units charged past that for one
 * message are not given back.  Counter identities come from keys.h; the
 * count unit's name is part of them (rl_unit_names).
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "overrides.h"
#include "quota.h"
#include "policy.h"
#include "store.h"

#define RL_LEDGER_MAX	64

enum rl_unit { RL_CONNECTIONS, RL_MESSAGES, RL_RECIPIENTS, RL_BYTES, RL_NUNITS };

/* The names of the units, as the policy file writes count = "..." and as
 * counter identities hold them: renaming one resets its counters. */
extern const char *const rl_unit_names[RL_NUNITS];

/* charge = "...": the names, by enum store_charge. */
extern const char *const rl_charge_names[STORE_CHARGE_NONE + 1];

/* limit = { count; per; rate; burst; } and charge of one rule. */
struct limit {
	enum rl_unit unit;
	struct keyset keys;
	unsigned long rate;		/* N of "N/DURATION" */
	unsigned long window_ms;	/* DURATION */
	unsigned long burst;		/* bucket size; default N */
	enum store_charge charge;	/* accepted, attempts, none */
	char *counter;			/* counter = "RULE": that rule's counter
					   (unit, keys and rate copied from it);
					   NULL: this rule's own */
	struct ov_table *overrides;	/* overrides = "file:PATH", or NULL */
	int overrides_shared;		/* counter = "RULE": RULE's, not freed here */
	struct quota *quota;		/* quota = "N/day": a calendar quota
					   (rate unused), or NULL */
	char *time_zone;		/* time_zone = "...", or NULL */
};

struct rl_charge {
	const struct limit *lim;
	const struct ov_limit *ov;	/* the key's overrides entry, or NULL */
	uint64_t units;
	enum pol_stage stage;
	size_t idlen;
	unsigned char id[KEYS_ID_MAX];
};

struct rl_ledger {
	int n, cap;			/* grows up to RL_LEDGER_MAX */
	struct rl_charge *c;
};

/* Free what a limit spec owns, and the spec.  NULL is fine. */
void rl_limit_free(struct limit *lim);

/* The identity of rule `name`'s counter (keys.h) into id, its key for logs
 * into cx->key; 0 when a key the rule needs is not known: the rule skips. */
size_t rl_id(const struct limit *lim, const char *name, struct count_ctx *cx,
    unsigned char *id);

/* A limit rule's take, as rl_prepare makes it. */
struct rl_ask {
	unsigned char id[KEYS_ID_MAX];	/* req.id points here */
	const struct ov_limit *ov;	/* the key's overrides entry, or NULL */
	uint64_t units;
	struct store_req req;
};

/* What rl_check does before it asks the store: 1 with the take in *a when
 * the store must answer; 0 with *rc when the rule is decided without it
 * (skipped, an overrides entry of 0 or unlimited, a message already
 * charged).  Fills cx's outputs but the store's answer. */
int rl_prepare(const struct limit *lim, const char *name, struct rl_ledger *l,
    struct count_ctx *cx, struct rl_ask *a, enum count_result *rc);

/* Check and charge one limit rule: under the limit, over it (cx->res says
 * until when), skipped (its key is unknown) or error (the store failed).
 * Charges are recorded in the ledger so they can be given back. */
enum count_result rl_check(const struct limit *lim, const char *name,
    struct rl_ledger *l, struct count_ctx *cx);

/* Give back the charges from index `from` on (rules with charge
 * "accepted" only) and drop them from the ledger. */
void rl_give_back(struct store *st, struct rl_ledger *l, int from,
    uint64_t now_ms);

/* The limit's counter request for an identity (for ctl show/reset, try),
 * with the rate of ov, the key's entry in the overrides (NULL: none). */
void rl_request(const struct limit *lim, const struct ov_limit *ov,
    const unsigned char *id, size_t idlen, uint64_t units,
    struct store_req *req);

/* A quota rule's request: the window is what is left of the calendar
 * period that holds wall_ms; the period's name and its end as replies
 * write it go to cx (NULL: not wanted). */
void rl_quota_window(const struct limit *lim, int64_t wall_ms,
    struct store_req *req, struct count_ctx *cx);

/* Wall-clock ms now, for callers without an env (ctl). */
int64_t rl_wall_now(void);

/* The overrides entry for the key in cx, or NULL: the first of the rule's
 * keys decides (an address exactly, then its domain; a client address by
 * the longest network; any other key exactly). */
const struct ov_limit *rl_override(const struct limit *lim,
    const struct count_ctx *cx);

#endif
