/*
 * greylist.h: greylisting rules: the first attempt of a triplet (client
 * network, sender, recipient by default: the rule's per keys) is deferred;
 * a retry after `delay` and within `retry_window` passes, and so does the
 * triplet for `pass_for` after; a client with `auto_whitelist` passed
 * triplets passes at once for `pass_for` (milter-greylist's
 * auto-whitelist).  Internal to the engine.
 *
 * The state is four fixed-window counters (STORE_WINDOW) per rule in the
 * store, so it lives where the rate limits live (memory with its state
 * file, or Redis with expiries), and ctl reset can clear it:
 *   "grey-seen"  the triplet was seen: window delay + retry_window
 *   "grey-wait"  its delay runs: window delay
 *   "grey-pass"  it passed: window pass_for
 *   "grey-awl"   the client's passed triplets: window pass_for, per client_net
 * Each step is one atomic store call; two attempts of one triplet at the
 * same moment may both be deferred or both pass, never worse.
 *
 * struct greyspec is owned by its rule; grey_check is thread safe.
 */
#ifndef GREYLIST_H
#define GREYLIST_H

#include "keys.h"
#include "store.h"

/* greylist = { per; delay; retry_window; pass_for; auto_whitelist; } */
struct greyspec {
	struct keyset keys;		/* the triplet */
	unsigned long delay_ms;		/* default 5 min */
	unsigned long retry_window_ms;	/* default 4 h */
	unsigned long pass_for_ms;	/* default 36 days */
	unsigned long auto_whitelist;	/* passed triplets that pass the client; 0 off */
};

/* A spec with the defaults (keys: client_net, sender, rcpt). */
struct greyspec *grey_spec_new(void);

/* Free what a spec owns, and the spec.  NULL is fine. */
void grey_spec_free(struct greyspec *g);

/* One attempt of cx's triplet, recorded: COUNT_OK passes, COUNT_OVER
 * defers it (cx->res.retry_after_ms says when a retry passes), COUNT_SKIP
 * when a key is not known, COUNT_ERROR when the store failed.  *why gets
 * "new", "early", "retry", "passed" or "client" for the log. */
enum count_result grey_check(const struct greyspec *g, const char *rule,
    struct count_ctx *cx, const char **why);

/* The keys counter `what` ("grey-seen", ...) is kept per, and a look
 * request at it for id; NULL keys for an unknown what. */
const struct keyset *grey_what_keys(const struct greyspec *g, const char *what);
void grey_request(const struct greyspec *g, const char *what,
    const unsigned char *id, size_t idlen, struct store_req *look);

#endif
