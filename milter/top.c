/* top.c: the watch of counters for `ctl top`; see top.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "top.h"

struct slot {
	unsigned char id[TOP_ID_MAX];
	size_t idlen;			/* 0: empty */
	enum store_kind kind;
	uint64_t window_ms, rate, burst;
	uint64_t used;			/* at the last charge */
	uint64_t until_ms;		/* the counter is gone by then, at the latest */
};

static struct slot slots[TOP_SLOTS];
static pthread_mutex_t locks[TOP_STRIPES];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static unsigned char hkey[crypto_shorthash_KEYBYTES];

static void
init(void)
{
	int i;

	for (i = 0; i < TOP_STRIPES; i++)
		pthread_mutex_init(&locks[i], NULL);
	randombytes_buf(hkey, sizeof hkey);
}

/* The slot of an identity: keyed, so a client cannot aim at one. */
static size_t
slot_of(const void *id, size_t idlen)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, id, idlen, hkey);
	memcpy(&v, h, sizeof v);
	return (size_t)(v % TOP_SLOTS);
}

/* used/burst as a fraction scaled by 2^20, for comparing nearness. */
static uint64_t
nearness(uint64_t used, uint64_t burst)
{
	return burst == 0 ? 0 : (used << 20) / burst;
}

/* The longest a counter can live after its last charge. */
static uint64_t
lifetime_ms(const struct store_req *req)
{
	if (req->kind == STORE_WINDOW || req->rate == 0)
		return req->window_ms;
	return 2 * req->burst * req->window_ms / req->rate + req->window_ms;
}

void
top_seen(const struct store_req *req, const struct store_res *res,
    uint64_t now_ms)
{
	struct slot *s;
	size_t i;

	if (req->charge == STORE_CHARGE_NONE || req->idlen == 0 ||
	    req->idlen > TOP_ID_MAX)
		return;
	pthread_once(&once, init);
	i = slot_of(req->id, req->idlen);
	s = &slots[i];
	pthread_mutex_lock(&locks[i % TOP_STRIPES]);
	if (s->idlen == 0 || s->until_ms <= now_ms || (s->idlen == req->idlen &&
	    memcmp(s->id, req->id, req->idlen) == 0) ||
	    nearness(res->count, req->burst) >= nearness(s->used, s->burst)) {
		memcpy(s->id, req->id, req->idlen);
		s->idlen = req->idlen;
		s->kind = req->kind;
		s->window_ms = req->window_ms;
		s->rate = req->rate;
		s->burst = req->burst;
		s->used = res->count;
		s->until_ms = now_ms + lifetime_ms(req);
	}
	pthread_mutex_unlock(&locks[i % TOP_STRIPES]);
}

void
top_clear(void)
{
	size_t i;

	pthread_once(&once, init);
	for (i = 0; i < TOP_SLOTS; i++) {
		pthread_mutex_lock(&locks[i % TOP_STRIPES]);
		slots[i].idlen = 0;
		pthread_mutex_unlock(&locks[i % TOP_STRIPES]);
	}
}

/* A counter as top_list shows it. */
struct row {
	struct slot s;
	uint64_t used, retry_ms;
	int allowed;
};

/* The key part of an identity (after "RULE\0WHAT\0") as the log writes
 * it: values joined by ',', "*" for none; hashed parts as #hex. */
static void
key_text(const struct slot *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = s->id, *end = s->id + s->idlen;
	size_t n = 0;
	int bin = 0;

	p = memchr(p, 0, (size_t)(end - p));
	p = p ? memchr(p + 1, 0, (size_t)(end - p - 1)) : NULL;
	if (p == NULL || ++p == end) {
		snprintf(out, outsz, "*");
		return;
	}
	for (; p < end && n + 3 < outsz; p++) {
		if (!bin && (*p == 0x1e || (*p == '#' && end - p == 17))) {
			out[n++] = *p == '#' ? '#' : ',';
			if (*p == 0x1e)
				out[n++] = '#';
			bin = 1;
		} else if (bin) {
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		} else
			out[n++] = *p == 0x1f ? ',' : *p > ' ' && *p < 0x7f ? (char)*p : '?';
	}
	out[n] = '\0';
}

static void
window_text(uint64_t ms, char *out, size_t outsz)
{
	uint64_t s = ms / 1000;

	if (s != 0 && s % 86400 == 0)
		snprintf(out, outsz, "%llud", (unsigned long long)(s / 86400));
	else if (s != 0 && s % 3600 == 0)
		snprintf(out, outsz, "%lluh", (unsigned long long)(s / 3600));
	else if (s != 0 && s % 60 == 0)
		snprintf(out, outsz, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(out, outsz, "%llus", (unsigned long long)s);
}

/* Nearest to the limit first; then the longest wait; then by identity. */
static int
row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	uint64_t nx = nearness(x->used, x->s.burst), ny = nearness(y->used, y->s.burst);

	if (nx != ny)
		return nx < ny ? 1 : -1;
	if (x->retry_ms != y->retry_ms)
		return x->retry_ms < y->retry_ms ? 1 : -1;
	return memcmp(x->s.id, y->s.id, x->s.idlen < y->s.idlen ? x->s.idlen :
	    y->s.idlen);
}

/* The live slots of rule (NULL: all) into rows; their number. */
static size_t
rows_copy(const char *rule, uint64_t now_ms, struct row *rows)
{
	size_t i, n = 0, rl = rule ? strlen(rule) + 1 : 0;

	for (i = 0; i < TOP_SLOTS; i++) {
		pthread_mutex_lock(&locks[i % TOP_STRIPES]);
		if (slots[i].idlen != 0 && slots[i].until_ms > now_ms &&
		    (rule == NULL || (slots[i].idlen > rl &&
		    memcmp(slots[i].id, rule, rl) == 0)))
			rows[n++].s = slots[i];
		pthread_mutex_unlock(&locks[i % TOP_STRIPES]);
	}
	return n;
}

/* Each row's counter now, by a look; rows gone or failed are dropped. */
static size_t
rows_look(struct store *st, struct row *rows, size_t n, uint64_t now_ms)
{
	struct store_req look = { .units = 1, .charge = STORE_CHARGE_NONE };
	struct store_res res;
	size_t i, kept = 0;

	for (i = 0; i < n; i++) {
		look.id = rows[i].s.id;
		look.idlen = rows[i].s.idlen;
		look.kind = rows[i].s.kind;
		look.window_ms = rows[i].s.window_ms;
		look.rate = rows[i].s.rate;
		look.burst = rows[i].s.burst;
		if (store_take(st, &look, now_ms, &res) != STORE_OK || res.count == 0)
			continue;
		rows[kept] = rows[i];
		rows[kept].used = res.count;
		rows[kept].allowed = res.allowed;
		rows[kept++].retry_ms = res.allowed ? 0 : res.retry_after_ms;
	}
	return kept;
}

int
top_list(struct store *st, const char *rule, int n, uint64_t now_ms,
    char *out, size_t outsz)
{
	struct row *rows = calloc(TOP_SLOTS, sizeof *rows);
	char key[TOP_ID_MAX * 2 + 8], w[32];
	size_t i, nrows, len = 0;

	out[0] = '\0';
	if (rows == NULL)
		return -1;
	pthread_once(&once, init);
	nrows = rows_look(st, rows, rows_copy(rule, now_ms, rows), now_ms);
	qsort(rows, nrows, sizeof *rows, row_cmp);
	for (i = 0; i < nrows && i < (size_t)n && len < outsz; i++) {
		key_text(&rows[i].s, key, sizeof key);
		window_text(rows[i].s.window_ms, w, sizeof w);
		len += (size_t)snprintf(out + len, outsz - len, "%.*s %s used=%llu/%llu "
		    "rate=%llu/%s next=%s retry_after=%llus\n",
		    (int)strnlen((const char *)rows[i].s.id, rows[i].s.idlen),
		    (const char *)rows[i].s.id, key,
		    (unsigned long long)rows[i].used,
		    (unsigned long long)rows[i].s.burst,
		    (unsigned long long)rows[i].s.rate, w,
		    rows[i].allowed ? "allowed" : "refused",
		    (unsigned long long)(rows[i].retry_ms + 999) / 1000);
	}
	free(rows);
	return (int)i;
}
