/* dupes.c: fingerprints and duplicate counts; see dupes.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dupes.h"

void
dup_spec_free(struct dupspec *d)
{
	if (d == NULL)
		return;
	keys_free(&d->keys);
	free(d);
}

void
dup_body_init(struct dup_body *b)
{
	crypto_generichash_init(&b->st, NULL, 0, DUP_FP_LEN);
	b->ws = 0;
	b->nl = 0;
}

/* Line ends wait to see whether only empty lines follow them. */
static void
nl_flush(struct dup_body *b)
{
	static const unsigned char nl = '\n';

	for (; b->nl > 0; b->nl--)
		crypto_generichash_update(&b->st, &nl, 1);
}

static void
ws_flush(struct dup_body *b)
{
	nl_flush(b);
	crypto_generichash_update(&b->st, b->wsbuf, b->ws);
	b->ws = 0;
}

/* One byte: white space waits to see whether the line ends after it. */
static void
body_byte(struct dup_body *b, unsigned char c)
{
	if (c == ' ' || c == '\t' || c == '\r') {
		if (b->ws == sizeof b->wsbuf)
			ws_flush(b);	/* XXX bounded: longer runs are kept */
		b->wsbuf[b->ws++] = c;
		return;
	}
	if (c == '\n') {
		b->ws = 0;		/* trailing white space and CR dropped */
		b->nl++;
		return;
	}
	if (b->ws > 0 || b->nl > 0)
		ws_flush(b);
	crypto_generichash_update(&b->st, &c, 1);
}

void
dup_body_add(struct dup_body *b, const void *chunk, size_t len)
{
	const unsigned char *p = chunk, *end = p + len, *run;

	while (p < end) {
		/* hash runs of ordinary bytes at once, the rest one by one */
		for (run = p; p < end && *p != ' ' && *p != '\t' && *p != '\r' &&
		    *p != '\n'; p++)
			;
		if (p > run) {
			if (b->ws > 0 || b->nl > 0)
				ws_flush(b);
			crypto_generichash_update(&b->st, run, p - run);
		}
		if (p < end)
			body_byte(b, *p++);
	}
}

void
dup_body_final(struct dup_body *b, unsigned char fp[DUP_FP_LEN])
{
	b->ws = 0;			/* the last line's trailing space */
	if (b->nl > 1)
		b->nl = 1;		/* empty lines at the end */
	nl_flush(b);
	crypto_generichash_final(&b->st, fp, DUP_FP_LEN);
}

int
dup_header_fp(const char *value, int message_id, unsigned char fp[DUP_FP_LEN])
{
	crypto_generichash_state st;
	const char *p, *end;

	if (value == NULL)
		return -1;
	for (p = value; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
		;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r' || end[-1] == '\n'))
		end--;
	if (message_id && end - p >= 2 && *p == '<' && end[-1] == '>') {
		p++;
		end--;
	}
	if (end == p)
		return -1;
	crypto_generichash_init(&st, NULL, 0, DUP_FP_LEN);
	for (; p < end; p++)
		if (*p != '\r' && *p != '\n')	/* unfold */
			crypto_generichash_update(&st, (const unsigned char *)p, 1);
	crypto_generichash_final(&st, fp, DUP_FP_LEN);
	return 0;
}

enum count_result
dup_check(const struct dupspec *d, const char *name, struct count_ctx *cx)
{
	unsigned char id[KEYS_ID_MAX];
	struct store_req req = { .kind = STORE_WINDOW, .units = 1 };

	memset(&cx->res, 0, sizeof cx->res);
	req.idlen = keys_id(name, "duplicates", &d->keys, cx, id);
	if (req.idlen == 0)
		return COUNT_SKIP;
	req.id = id;
	req.window_ms = d->window_ms;
	req.burst = d->max;
	req.charge = d->count_refused ? STORE_CHARGE_ALWAYS : STORE_CHARGE_ALLOWED;
	if (cx->st == NULL ||
	    store_take(cx->st, &req, cx->now_ms, &cx->res) != STORE_OK)
		return COUNT_ERROR;
	if (cx->res.allowed)
		return COUNT_OK;
	if (d->count_refused)
		cx->res.count--;	/* the copies before this one */
	return COUNT_OVER;
}
