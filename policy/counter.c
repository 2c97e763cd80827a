/*
 * counter.c: a limit rule's counter named by the key an admin reads in
 * the log, for `milter-policy ctl show|reset RULE KEY`; see policy.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "ratelimit.h"
#include "rules.h"
#include "xmalloc.h"

#define KEYS_PER_MAX	8	/* keys of a counter ctl can name */

static const struct rule *
limit_rule(const struct policy *p, const char *name)
{
	int i;

	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].limit != NULL && strcmp(p->rules[i].name, name) == 0)
			return &p->rules[i];
	return NULL;
}

/* "example.org" as an address in it, for a key read from the domain. */
static char *
address_in(const char *domain)
{
	char *a = xmalloc(strlen(domain) + 3);

	strcpy(a, "x@");
	strcat(a, domain);
	return a;
}

/* Put one key value where the engine reads that key from; the strings
 * made here go to owned[] for the caller to free. */
static void
env_set(const struct keyspec *k, char *v, struct pol_env *env, char **hdrs,
    char **owned)
{
	char *slash;

	switch (k->kind) {
	case KEY_CLIENT_NET:
		if ((slash = strchr(v, '/')) != NULL)
			*slash = '\0';	/* "192.0.2.0/24": any address in it */
		/* FALLTHROUGH */
	case KEY_CLIENT_ADDR:
		env->client_addr = v;
		break;
	case KEY_HELO:
		env->helo = v;
		break;
	case KEY_SENDER:
		env->sender = strcmp(v, "<>") == 0 ? "" : v;
		break;
	case KEY_SENDER_DOMAIN:
		env->sender = *owned = address_in(v);
		break;
	case KEY_AUTH_USER:
		env->auth_user = v;
		break;
	case KEY_RCPT:
		env->rcpt = v;
		break;
	case KEY_RCPT_DOMAIN:
		env->rcpt = *owned = address_in(v);
		break;
	case KEY_HEADER:
		hdrs[k->hdr] = v;
		break;
	}
}

int
pol_counter(const struct policy *p, const char *rule, const char *key,
    unsigned char *id, size_t *idlen, struct store_req *look)
{
	const struct rule *r = limit_rule(p, rule);
	char *copy, *v, *next, **hdrs, *owned[KEYS_PER_MAX] = { NULL };
	struct pol_env env = { 0 };
	struct count_ctx cx = { .env = &env };
	const struct ov_limit *ov;
	int i, n;

	if (r == NULL || r->limit->keys.n > KEYS_PER_MAX)
		return -1;
	copy = xstrdup(key);
	cx.hdrs = hdrs = xcalloc(p->nheaders ? (size_t)p->nheaders : 1,
	    sizeof *hdrs);
	n = r->limit->keys.n;
	for (i = 0, v = copy; i < n && v != NULL; i++, v = next) {
		if ((next = strchr(v, ',')) != NULL)
			*next++ = '\0';
		env_set(&r->limit->keys.k[i], v, &env, hdrs, &owned[i]);
	}
	/* every value used, none left over; a rule without keys is "*" */
	*idlen = i == n && (n == 0 ? strcmp(key, "*") == 0 : v == NULL) ?
	    rl_id(r->limit, r->name, &cx, id) : 0;
	ov = *idlen > 0 ? rl_override(r->limit, &cx) : NULL;
	if (*idlen > 0)
		rl_request(r->limit, ov, id, *idlen, 1, look);
	if (*idlen > 0 && r->limit->quota != NULL)
		rl_quota_window(r->limit, rl_wall_now(), look, NULL);
	for (i = 0; i < KEYS_PER_MAX; i++)
		free(owned[i]);
	free(hdrs);
	free(copy);
	if (*idlen == 0)
		return -1;
	look->charge = STORE_CHARGE_NONE;
	if (ov != NULL && ov->kind != OV_RATE)
		return ov->kind == OV_ZERO ? POL_COUNTER_ZERO :
		    POL_COUNTER_UNLIMITED;
	return 0;
}

const char *
pol_counter_period(const struct policy *p, const char *rule)
{
	const struct rule *r = limit_rule(p, rule);

	return r != NULL && r->limit->quota != NULL ?
	    quota_kind_names[r->limit->quota->kind] : NULL;
}

void
pol_window_text(unsigned long s, char *out, size_t outsz)
{
	static const struct { unsigned long s; char unit; } u[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
	};
	size_t i;

	for (i = 0; i < sizeof u / sizeof u[0]; i++)
		if (s != 0 && s % u[i].s == 0) {
			snprintf(out, outsz, "%lu%c", s / u[i].s, u[i].unit);
			return;
		}
	snprintf(out, outsz, "%lus", s);
}

static const struct rule *
grey_rule(const struct policy *p, const char *name)
{
	int i;

	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].grey != NULL && strcmp(p->rules[i].name, name) == 0)
			return &p->rules[i];
	return NULL;
}

int
pol_grey_counter(const struct policy *p, const char *rule, const char *what,
    const char *key, unsigned char *id, size_t *idlen, struct store_req *look)
{
	const struct rule *r = grey_rule(p, rule);
	const struct keyset *keys = r ? grey_what_keys(r->grey, what) : NULL;
	char *copy, *v, *next, **hdrs, *owned[KEYS_PER_MAX] = { NULL };
	struct pol_env env = { 0 };
	struct count_ctx cx = { .env = &env };
	int i, n;

	if (keys == NULL || keys->n > KEYS_PER_MAX)
		return -1;
	copy = xstrdup(key);
	cx.hdrs = hdrs = xcalloc(p->nheaders ? (size_t)p->nheaders : 1,
	    sizeof *hdrs);
	n = keys->n;
	for (i = 0, v = copy; i < n && v != NULL; i++, v = next) {
		if ((next = strchr(v, ',')) != NULL)
			*next++ = '\0';
		env_set(&keys->k[i], v, &env, hdrs, &owned[i]);
	}
	*idlen = i == n && v == NULL ? keys_id(r->name, what, keys, &cx, id) : 0;
	if (*idlen > 0)
		grey_request(r->grey, what, id, *idlen, look);
	for (i = 0; i < KEYS_PER_MAX; i++)
		free(owned[i]);
	free(hdrs);
	free(copy);
	return *idlen > 0 ? 0 : -1;
}
