/*
 * dupes.h: duplicate-message rules: message fingerprints and the count of
 * copies within a window, through the store.  Internal to the engine.
 *
 * A body fingerprint is BLAKE2b over the body as received with line ends
 * normalised (CRLF, LF and CR before LF are one) and white space at the
 * end of each line dropped, and empty lines at the end of the body dropped
 * (one line end is kept, so "text\n" and "text\n\n\n" are one body but
 * "text" is not: relays and clients add and drop trailing blank lines),
 * computed as chunks arrive: no body is ever
 * buffered, whatever its size.  Chunk boundaries do not change the result.
 * A header fingerprint (message_id, header:NAME) is BLAKE2b over the
 * unfolded value with surrounding space (and, for Message-ID, one pair of
 * angle brackets) removed; an empty value has none.
 *
 * struct dupspec is a duplicates rule's spec, owned by the rule.
 * struct dup_body belongs to one connection's engine state.
 */
#ifndef DUPES_H
#define DUPES_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "policy.h"
#include "store.h"

#define DUP_FP_LEN	16
#define DUP_WS_MAX	256	/* trailing white space held back per line */

enum dup_of { DUP_BODY, DUP_HEADER };

/* duplicates = { of; per; max; window; count_refused; } of one rule. */
struct dupspec {
	enum dup_of of;
	int hdr;			/* DUP_HEADER: index in policy->headers */
	int message_id;			/* of = "message_id": <> are not part of it */
	struct keyset keys;
	unsigned long max;		/* copies allowed within the window */
	unsigned long window_ms;
	int count_refused;		/* refused copies count too (default) */
};

/* Free what a spec owns, and the spec.  NULL is fine. */
void dup_spec_free(struct dupspec *d);

struct dup_body {
	crypto_generichash_state st;
	size_t ws;			/* white space held back */
	size_t nl;			/* line ends held back */
	unsigned char wsbuf[DUP_WS_MAX];
};

/* Start a body fingerprint. */
void dup_body_init(struct dup_body *b);

/* Feed a chunk of body. */
void dup_body_add(struct dup_body *b, const void *chunk, size_t len);

/* Finish: the fingerprint of everything fed since dup_body_init. */
void dup_body_final(struct dup_body *b, unsigned char fp[DUP_FP_LEN]);

/* The fingerprint of a header value; 0, or -1 when it is empty. */
int dup_header_fp(const char *value, int message_id, unsigned char fp[DUP_FP_LEN]);

/* Count this copy for rule `name` under the identity its keys give in cx
 * (cx->fp: the message's fingerprint).  OVER when it takes the count past
 * max within the window (cx->res.count: copies seen before this one,
 * cx->res.retry_after_ms: until the window ends); SKIP when a key is
 * unknown; ERROR when the store failed. */
enum count_result dup_check(const struct dupspec *d, const char *name,
    struct count_ctx *cx);

#endif
