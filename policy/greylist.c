/*
 * greylist.c: greylisting through the store's fixed-window counters.
 * See greylist.h for the four counters and what they mean.
 */
#include <stdlib.h>
#include <string.h>

#include "greylist.h"
#include "xmalloc.h"

#define MIN_MS		60000ul
#define DAY_MS		86400000ul

static const struct keyspec client_net = { .kind = KEY_CLIENT_NET };
static const struct keyset client_keys = { 1, (struct keyspec *)&client_net };

struct greyspec *
grey_spec_new(void)
{
	struct greyspec *g = xcalloc(1, sizeof *g);

	g->delay_ms = 5 * MIN_MS;
	g->retry_window_ms = 4 * 60 * MIN_MS;
	g->pass_for_ms = 36 * DAY_MS;
	return g;
}

void
grey_spec_free(struct greyspec *g)
{
	if (g == NULL)
		return;
	keys_free(&g->keys);
	free(g);
}

/* The keys a triplet is kept per: the rule's, or the default three. */
static const struct keyset *
grey_keys(const struct greyspec *g)
{
	static const struct keyspec triplet[] = {
		{ .kind = KEY_CLIENT_NET }, { .kind = KEY_SENDER }, { .kind = KEY_RCPT },
	};
	static const struct keyset def = { 3, (struct keyspec *)triplet };

	return g->keys.n > 0 ? &g->keys : &def;
}

const struct keyset *
grey_what_keys(const struct greyspec *g, const char *what)
{
	if (strcmp(what, "grey-awl") == 0)
		return g->auto_whitelist > 0 ? &client_keys : NULL;
	if (strcmp(what, "grey-seen") == 0 || strcmp(what, "grey-wait") == 0 ||
	    strcmp(what, "grey-pass") == 0)
		return grey_keys(g);
	return NULL;
}

void
grey_request(const struct greyspec *g, const char *what,
    const unsigned char *id, size_t idlen, struct store_req *look)
{
	memset(look, 0, sizeof *look);
	look->id = id;
	look->idlen = idlen;
	look->kind = STORE_WINDOW;
	look->units = 1;
	look->burst = 1;
	look->charge = STORE_CHARGE_NONE;
	if (strcmp(what, "grey-seen") == 0)
		look->window_ms = g->delay_ms + g->retry_window_ms;
	else if (strcmp(what, "grey-wait") == 0)
		look->window_ms = g->delay_ms;
	else
		look->window_ms = g->pass_for_ms;
	if (strcmp(what, "grey-awl") == 0)
		look->burst = g->auto_whitelist;
}

/* One window counter: take (or look at) what/keys; -1 on a store error,
 * 0 when a key is not known, 1 with cx->res filled. */
static int
grey_step(const char *rule, const char *what, const struct keyset *keys,
    uint64_t window_ms, uint64_t burst, enum store_charge charge,
    struct count_ctx *cx)
{
	unsigned char id[KEYS_ID_MAX];
	char saved[POL_KEY_MAX];
	struct store_req req = { .kind = STORE_WINDOW, .units = 1,
	    .window_ms = window_ms, .burst = burst, .charge = charge };

	memcpy(saved, cx->key, sizeof saved);
	req.idlen = keys_id(rule, what, keys, cx, id);
	if (keys == &client_keys)	/* the log shows the triplet */
		memcpy(cx->key, saved, sizeof saved);
	if (req.idlen == 0)
		return 0;
	req.id = id;
	memset(&cx->res, 0, sizeof cx->res);
	if (cx->st == NULL || store_take(cx->st, &req, cx->now_ms, &cx->res) !=
	    STORE_OK)
		return -1;
	return 1;
}

#define STEP(what, keys, window, burst, charge) \
	if ((rc = grey_step(rule, what, keys, window, burst, charge, cx)) <= 0) \
		return rc < 0 ? COUNT_ERROR : COUNT_SKIP

/* A triplet seen before: too early, or its retry passes now. */
static enum count_result
grey_seen(const struct greyspec *g, const char *rule,
    const struct keyset *keys, struct count_ctx *cx, const char **why)
{
	int rc;

	STEP("grey-wait", keys, g->delay_ms, 1, STORE_CHARGE_NONE);
	if (!cx->res.allowed) {
		*why = "early";
		return COUNT_OVER;	/* retry_after_ms: the rest of the delay */
	}
	STEP("grey-pass", keys, g->pass_for_ms, 1, STORE_CHARGE_ALLOWED);
	*why = "retry";
	if (g->auto_whitelist > 0)
		STEP("grey-awl", &client_keys, g->pass_for_ms, g->auto_whitelist,
		    STORE_CHARGE_ALWAYS);
	memset(&cx->res, 0, sizeof cx->res);
	return COUNT_OK;
}

enum count_result
grey_check(const struct greyspec *g, const char *rule, struct count_ctx *cx,
    const char **why)
{
	const struct keyset *keys = grey_keys(g);
	int rc;

	cx->key[0] = '\0';
	if (g->auto_whitelist > 0) {
		STEP("grey-awl", &client_keys, g->pass_for_ms, g->auto_whitelist,
		    STORE_CHARGE_NONE);
		if (!cx->res.allowed) {
			*why = "client";
			return COUNT_OK;
		}
	}
	STEP("grey-pass", keys, g->pass_for_ms, 1, STORE_CHARGE_NONE);
	if (!cx->res.allowed) {
		*why = "passed";
		return COUNT_OK;
	}
	STEP("grey-seen", keys, g->delay_ms + g->retry_window_ms, 1,
	    STORE_CHARGE_ALLOWED);
	if (!cx->res.allowed)
		return grey_seen(g, rule, keys, cx, why);
	STEP("grey-wait", keys, g->delay_ms, 1, STORE_CHARGE_ALLOWED);
	*why = "new";
	cx->res.allowed = 0;
	cx->res.retry_after_ms = g->delay_ms;
	cx->res.first_over = 0;
	return COUNT_OVER;
}
