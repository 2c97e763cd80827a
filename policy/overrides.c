/* overrides.c: a limit rule's table of limits by key; see overrides.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "overrides.h"
#include "xmalloc.h"

#define OV_KEY_MAX	256	/* a name longer than this is never a key */
#define OV_NET_KEY	19	/* 'N', family, length, 16 bytes */

struct ov_entry {
	uint64_t hash;		/* 0: empty */
	size_t off, len;	/* the key in keys[] */
	struct ov_limit lim;
};

struct ov_table {
	struct ov_entry *e;
	size_t mask, used;
	char *keys;
	size_t keylen, keycap;
	unsigned char plen4[33], plen6[129];	/* prefix lengths held */
	/* per family and prefix length of at least 16: a bit per value of
	 * the address's first 16 bits that some entry has, so a probe that
	 * cannot hit costs a look at 8 kB that stay in the cache */
	unsigned char *top16[2][129];
};

#define TOP16_BYTES	(65536 / 8)

static unsigned
top16_of(const unsigned char *addr)
{
	return (unsigned)addr[0] << 8 | addr[1];
}

/* FNV-1a: the keys are the admin's, so no one can choose collisions
 * that lengthen a probe; a lookup only reads. */
static uint64_t
ov_hash(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h == 0 ? 1 : h;
}

struct ov_table *
ov_new(void)
{
	struct ov_table *t = xcalloc(1, sizeof *t);

	t->mask = 63;
	t->e = xcalloc(t->mask + 1, sizeof *t->e);
	return t;
}

static struct ov_entry *
ov_probe(const struct ov_table *t, const void *key, size_t len, uint64_t h)
{
	size_t i;

	for (i = h & t->mask;; i = (i + 1) & t->mask) {
		struct ov_entry *e = &t->e[i];

		if (e->hash == 0 || (e->hash == h && e->len == len &&
		    memcmp(t->keys + e->off, key, len) == 0))
			return e;
	}
}

static void
ov_grow(struct ov_table *t)
{
	struct ov_entry *old = t->e;
	size_t n = t->mask + 1, i;

	t->mask = 2 * n - 1;
	t->e = xcalloc(2 * n, sizeof *t->e);
	for (i = 0; i < n; i++)
		if (old[i].hash != 0)
			*ov_probe(t, t->keys + old[i].off, old[i].len,
			    old[i].hash) = old[i];
	free(old);
}

static int
ov_put(struct ov_table *t, const void *key, size_t len,
    const struct ov_limit *l)
{
	uint64_t h = ov_hash(key, len);
	struct ov_entry *e;

	if (2 * (t->used + 1) > t->mask + 1)
		ov_grow(t);
	e = ov_probe(t, key, len, h);
	if (e->hash != 0)
		return -1;
	if (t->keylen + len > t->keycap) {
		t->keycap = 2 * t->keycap + len + 4096;
		t->keys = xrealloc(t->keys, t->keycap);
	}
	memcpy(t->keys + t->keylen, key, len);
	e->hash = h;
	e->off = t->keylen;
	e->len = len;
	e->lim = *l;
	t->keylen += len;
	t->used++;
	return 0;
}

/* s lower-cased without one trailing dot into out; its length, or 0 when
 * it is empty or too long to be a key. */
static size_t
ov_name_key(const char *s, char *out)
{
	size_t len = strlen(s), i;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > OV_KEY_MAX)
		return 0;
	out[0] = 'n';
	for (i = 0; i < len; i++)
		out[i + 1] = (char)tolower((unsigned char)s[i]);
	return len + 1;
}

int
ov_add_name(struct ov_table *t, const char *name, const struct ov_limit *l)
{
	char key[OV_KEY_MAX + 1];
	size_t len = ov_name_key(name, key);

	return len == 0 ? -1 : ov_put(t, key, len, l);
}

static void
ov_net_key(int af, const unsigned char *addr, int plen, unsigned char *key)
{
	int i;

	memset(key, 0, OV_NET_KEY);
	key[0] = 'N';
	key[1] = af == AF_INET ? 4 : 6;
	key[2] = (unsigned char)plen;
	for (i = 0; i < plen / 8; i++)
		key[3 + i] = addr[i];
	if (plen % 8)
		key[3 + i] = addr[i] & (unsigned char)(0xff00 >> (plen % 8));
}

int
ov_add_net(struct ov_table *t, int af, const unsigned char *addr, int plen,
    const struct ov_limit *l)
{
	unsigned char key[OV_NET_KEY];

	unsigned char **top = &t->top16[af == AF_INET6][plen];

	ov_net_key(af, addr, plen, key);
	if (ov_put(t, key, sizeof key, l) < 0)
		return -1;
	if (af == AF_INET)
		t->plen4[plen] = 1;
	else
		t->plen6[plen] = 1;
	if (plen >= 16) {
		if (*top == NULL)
			*top = xcalloc(1, TOP16_BYTES);
		(*top)[top16_of(key + 3) / 8] |= (unsigned char)(1u <<
		    top16_of(key + 3) % 8);
	}
	return 0;
}

const struct ov_limit *
ov_find_name(const struct ov_table *t, const char *name)
{
	char key[OV_KEY_MAX + 1];
	size_t len = ov_name_key(name, key);
	const struct ov_entry *e;

	if (len == 0)
		return NULL;
	e = ov_probe(t, key, len, ov_hash(key, len));
	return e->hash != 0 ? &e->lim : NULL;
}

const struct ov_limit *
ov_find_ip(const struct ov_table *t, const char *ip)
{
	unsigned char a[16], key[OV_NET_KEY];
	const unsigned char *have;
	const struct ov_entry *e;
	int af, plen;

	if (ip == NULL || addr_ip_parse(ip, strlen(ip), &af, a, NULL) < 0)
		return NULL;
	have = af == AF_INET ? t->plen4 : t->plen6;
	for (plen = af == AF_INET ? 32 : 128; plen >= 0; plen--) {
		const unsigned char *top = t->top16[af == AF_INET6][plen];

		if (!have[plen] || (top != NULL && !(top[top16_of(a) / 8] >>
		    top16_of(a) % 8 & 1)))
			continue;
		ov_net_key(af, a, plen, key);
		e = ov_probe(t, key, sizeof key, ov_hash(key, sizeof key));
		if (e->hash != 0)
			return &e->lim;
	}
	return NULL;
}

size_t
ov_count(const struct ov_table *t)
{
	return t->used;
}

void
ov_free(struct ov_table *t)
{
	int i;

	if (t == NULL)
		return;
	for (i = 0; i < 2 * 129; i++)
		free(t->top16[i / 129][i % 129]);
	free(t->e);
	free(t->keys);
	free(t);
}
