/*
 * replay_res.c: results of a replay.  See replay_res.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "replay_res.h"
#include "xmalloc.h"

#define BUCKETS	65536		/* a power of two */

struct rres_pr {		/* a client, sender or user with accepted mail */
	char *name;
	unsigned long accepted;
	struct rres_pr *next;
};

static unsigned char hash_key[crypto_shorthash_KEYBYTES];

static size_t
bucket(const char *a, const char *b)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;
	size_t la = strlen(a), lb = b ? strlen(b) : 0;
	unsigned char buf[1024];
	size_t n = 0;

	/* rule and key together; a long key is cut: a bucket, not an identity */
	n = la < sizeof buf ? la : sizeof buf;
	memcpy(buf, a, n);
	if (b != NULL && n < sizeof buf) {
		buf[n++] = '\0';
		if (lb > sizeof buf - n)
			lb = sizeof buf - n;
		memcpy(buf + n, b, lb);
		n += lb;
	}
	crypto_shorthash(h, buf, n, hash_key);
	memcpy(&v, h, sizeof v);
	return (size_t)(v & (BUCKETS - 1));
}

void
rres_init(struct rres *r, int nrules)
{
	memset(r, 0, sizeof *r);
	r->nrules = nrules;
	r->rules = xcalloc((size_t)(nrules > 0 ? nrules : 1), sizeof *r->rules);
	r->kbuckets = xcalloc(BUCKETS, sizeof *r->kbuckets);
	r->pbuckets = xcalloc(BUCKETS, sizeof *r->pbuckets);
	r->first_ms = -1;
	if (hash_key[0] == 0 && hash_key[1] == 0)
		crypto_shorthash_keygen(hash_key);
}

static void
count_code(struct rres_rule *rr, int code, const char *xcode)
{
	int i;

	for (i = 0; i < rr->ncodes; i++)
		if (rr->codes[i].code == code && strcmp(rr->codes[i].xcode, xcode) == 0)
			break;
	if (i == rr->ncodes) {
		if (rr->ncodes == RRES_CODES_MAX)
			i--;		/* XXX a ninth code is counted as the eighth */
		else
			rr->ncodes++;
		rr->codes[i].code = code;
		snprintf(rr->codes[i].xcode, sizeof rr->codes[i].xcode, "%s", xcode);
	}
	rr->codes[i].n++;
}

static void
count_hour(struct rres *r, int64_t t_ms)
{
	int64_t h = t_ms / 3600000;
	int i;

	if (r->nhours == 0) {
		r->hour0 = h;
		r->hours = xcalloc(RRES_HOURS_MAX, sizeof *r->hours);
	}
	if (h < r->hour0)
		h = r->hour0;	/* messages end out of the order they began */
	if (h - r->hour0 >= RRES_HOURS_MAX)
		return;
	i = (int)(h - r->hour0);
	r->hours[i]++;
	if (i + 1 > r->nhours)
		r->nhours = i + 1;
}

static void
count_key(struct rres *r, const char *rule, const char *key, int64_t t_ms)
{
	size_t b = bucket(rule, key);
	struct rres_key *k;

	for (k = r->kbuckets[b]; k != NULL; k = k->next)
		if (strcmp(k->rule, rule) == 0 && strcmp(k->key, key) == 0)
			break;
	if (k == NULL) {
		if (r->nkeys == RRES_KEYS_MAX) {
			r->keys_dropped++;
			return;
		}
		k = xcalloc(1, sizeof *k);
		k->rule = xstrdup(rule);
		k->key = xstrdup(key);
		k->first_ms = t_ms;
		k->next = r->kbuckets[b];
		r->kbuckets[b] = k;
		r->nkeys++;
	}
	k->refused++;
	if (t_ms < k->first_ms)
		k->first_ms = t_ms;
	if (t_ms > k->last_ms)
		k->last_ms = t_ms;
}

void
rres_refusal(struct rres *r, int i, int code, const char *xcode,
    const char *key, int64_t t_ms)
{
	struct rres_rule *rr = &r->rules[i];

	rr->refused++;
	count_code(rr, code, xcode);
	count_key(r, rr->name, key, t_ms);
	if (!rr->dry_run)
		count_hour(r, t_ms);
}

static struct rres_pr *
pr_find(const struct rres *r, const char *name, size_t *b)
{
	struct rres_pr *p;

	*b = bucket(name, NULL);
	for (p = r->pbuckets[*b]; p != NULL; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

void
rres_accepted_by(struct rres *r, const char *principal)
{
	struct rres_pr *p;
	size_t b;

	if (principal == NULL)
		return;
	if ((p = pr_find(r, principal, &b)) == NULL) {
		if (r->nprincipals == RRES_PRINCIPALS_MAX)
			return;
		p = xcalloc(1, sizeof *p);
		p->name = xstrdup(principal);
		p->next = r->pbuckets[b];
		r->pbuckets[b] = p;
		r->nprincipals++;
	}
	p->accepted++;
}

unsigned long
rres_accepted_of(const struct rres *r, const char *key)
{
	unsigned long best = (unsigned long)-1, n;
	const char *p = key, *comma;
	char part[1024];
	struct rres_pr *pr;
	size_t b, len;

	do {
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		if (len >= sizeof part)
			return 0;
		memcpy(part, p, len);
		part[len] = '\0';
		pr = pr_find(r, part, &b);
		n = pr ? pr->accepted : 0;
		if (n < best)
			best = n;
		p = comma + 1;
	} while (comma != NULL);
	return best;
}

unsigned long
rres_key_refused(const struct rres *r, const char *rule, const char *key)
{
	const struct rres_key *k;

	for (k = r->kbuckets[bucket(rule, key)]; k != NULL; k = k->next)
		if (strcmp(k->rule, rule) == 0 && strcmp(k->key, key) == 0)
			return k->refused;
	return 0;
}

static int
by_refused(const void *a, const void *b)
{
	const struct rres_key *x = *(struct rres_key *const *)a;
	const struct rres_key *y = *(struct rres_key *const *)b;

	if (x->refused != y->refused)
		return x->refused < y->refused ? 1 : -1;
	return x->first_ms < y->first_ms ? -1 : x->first_ms > y->first_ms;
}

struct rres_key **
rres_keys_sorted(const struct rres *r, unsigned long *n)
{
	struct rres_key **v = xcalloc(r->nkeys + 1, sizeof *v), *k;
	size_t b;

	*n = 0;
	for (b = 0; b < BUCKETS; b++)
		for (k = r->kbuckets[b]; k != NULL; k = k->next)
			v[(*n)++] = k;
	qsort(v, *n, sizeof *v, by_refused);
	return v;
}

void
rres_free(struct rres *r)
{
	struct rres_key *k, *kn;
	struct rres_pr *p, *pn;
	size_t b;

	for (b = 0; b < BUCKETS; b++) {
		for (k = r->kbuckets[b]; k != NULL; k = kn) {
			kn = k->next;
			free(k->rule);
			free(k->key);
			free(k);
		}
		for (p = r->pbuckets[b]; p != NULL; p = pn) {
			pn = p->next;
			free(p->name);
			free(p);
		}
	}
	free(r->kbuckets);
	free(r->pbuckets);
	free(r->hours);
	free(r->rules);
}
