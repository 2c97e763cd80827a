/*
 * ratelimit.h: limit rules: the identity of a counter (rule, unit, key
 * values, normalised so a client cannot dodge a limit by spelling), the
 * charge through the store, and the ledger that gives units back when a
 * message is refused or aborted.  Internal to the engine.
 *
 * A ledger belongs to one connection's engine state (one thread at a
 * time); it is bounded (RL_LEDGER_MAX): units charged past that for one
 * message are not given back.  Counter identities come from keys.h.
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "policy.h"
#include "store.h"

#define RL_ID_MAX	KEYS_ID_MAX
#define RL_HUMAN_MAX	KEYS_HUMAN_MAX
#define RL_LEDGER_MAX	64

struct rule;

enum rl_result { RL_ALLOWED, RL_REFUSED, RL_SKIP, RL_ERROR };

struct rl_charge {
	const struct rule *rule;
	uint64_t units;
	enum pol_stage stage;
	size_t idlen;
	unsigned char id[RL_ID_MAX];
};

struct rl_ledger {
	int n, cap;			/* grows up to RL_LEDGER_MAX */
	struct rl_charge *c;
};

/* A limit counter's identity (keys.h) into id, its key for logs into
 * human; 0 when a key the rule needs is not known: the rule skips. */
size_t rl_id(const struct rule *r, const struct pol_env *env,
    char *const *hdrs, unsigned char *id, char *human);

/* Check and charge one limit rule: allowed, refused (res says until when),
 * skipped (its key is unknown) or error (the store failed).  Charges are
 * recorded in the ledger so they can be given back. */
enum rl_result rl_check(struct store *st, struct rl_ledger *l,
    const struct rule *r, enum pol_stage stage, const struct pol_env *env,
    char *const *hdrs, uint64_t now_ms, struct store_res *res, char *human);

/* Give back the charges from index `from` on (rules with charge
 * "accepted" only) and drop them from the ledger. */
void rl_give_back(struct store *st, struct rl_ledger *l, int from,
    uint64_t now_ms);

/* The rule's counter request for an identity (for ctl show/reset, try). */
void rl_request(const struct rule *r, const unsigned char *id, size_t idlen,
    uint64_t units, struct store_req *req);

#endif
