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

/* The transaction a key as the log writes it ("a@b.example,192.0.2.1")
 * stands for, for the counter of keys. */
struct key_env {
	struct pol_env env;
	struct count_ctx cx;
	char *copy, **hdrs, *owned[KEYS_PER_MAX];
};

/* Fill ke from key: 1 when every value is used and none is left over (a
 * rule without keys is "*"), else 0; key_env_free after either. */
static int
key_env_fill(const struct policy *p, const struct keyset *keys,
    const char *key, struct key_env *ke)
{
	char *v, *next = NULL;
	int i;

	memset(ke, 0, sizeof *ke);
	ke->cx.env = &ke->env;
	ke->copy = xstrdup(key);
	ke->cx.hdrs = ke->hdrs = xcalloc(p->nheaders ? (size_t)p->nheaders :
	    1, sizeof *ke->hdrs);
	for (i = 0, v = ke->copy; i < keys->n && v != NULL; i++, v = next) {
		if ((next = strchr(v, ',')) != NULL)
			*next++ = '\0';
		env_set(&keys->k[i], v, &ke->env, ke->hdrs, &ke->owned[i]);
	}
	if (keys->n == 0)
		return strcmp(key, "*") == 0;
	return i == keys->n && v == NULL;
}

static void
key_env_free(struct key_env *ke)
{
	int i;

	for (i = 0; i < KEYS_PER_MAX; i++)
		free(ke->owned[i]);
	free(ke->hdrs);
	free(ke->copy);
}

int
pol_counter(const struct policy *p, const char *rule, const char *key,
    unsigned char *id, size_t *idlen, struct store_req *look)
{
	const struct rule *r = limit_rule(p, rule);
	const struct ov_limit *ov = NULL;
	struct key_env ke;

	if (r == NULL || r->limit->keys.n > KEYS_PER_MAX)
		return -1;
	*idlen = key_env_fill(p, &r->limit->keys, key, &ke) ?
	    rl_id(r->limit, r->name, &ke.cx, id) : 0;
	if (*idlen > 0) {
		ov = rl_override(r->limit, &ke.cx);
		rl_request(r->limit, ov, id, *idlen, 1, look);
		if (r->limit->quota != NULL)
			rl_quota_window(r->limit, rl_wall_now(), look, NULL);
	}
	key_env_free(&ke);
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
	struct key_env ke;

	if (keys == NULL || keys->n == 0 || keys->n > KEYS_PER_MAX)
		return -1;
	*idlen = key_env_fill(p, keys, key, &ke) ?
	    keys_id(r->name, what, keys, &ke.cx, id) : 0;
	if (*idlen > 0)
		grey_request(r->grey, what, id, *idlen, look);
	key_env_free(&ke);
	return *idlen > 0 ? 0 : -1;
}
