/*
 * overrides.h: a limit rule's table of limits by key, `limit = { ...;
 * overrides = "file:PATH"; }`: lines of "KEY LIMIT" give some keys their
 * own limit in place of the rule's rate.
 *
 * KEY is a name (an address, a domain, a user, a HELO name: compared
 * lower-cased, one trailing dot dropped, as counter keys are) or an IP
 * network (an address, or ADDR/LEN with the host bits zero).  LIMIT is
 * N/DURATION (its own rate; the bucket holds N), 0 (always refused with
 * the rule's reply) or "unlimited" (never refused, never counted).
 *
 * A lookup is one hash probe for a name, and one per prefix length the
 * table holds (longest first) for an address.  The table is built once by
 * the loader (conf_overrides.c) and read-only after: any thread may look
 * up at once.  It owns its memory; ov_free frees it.  Out of memory ends
 * the process (xmalloc.h).
 */
#ifndef OVERRIDES_H
#define OVERRIDES_H

#include <stddef.h>

enum ov_kind { OV_RATE, OV_ZERO, OV_UNLIMITED };

struct ov_limit {
	enum ov_kind kind;
	unsigned long rate;		/* OV_RATE: N of N/DURATION */
	unsigned long window_ms;	/* OV_RATE: DURATION */
};

struct ov_table;

/* One problem in a table file: its line (1-based) and what to write. */
typedef void ov_error_fn(void *arg, int line, const char *msg);

/* An empty table. */
struct ov_table *ov_new(void);

/* Add a name (as written; lower-cased here); 0, or -1 if already there. */
int ov_add_name(struct ov_table *t, const char *name, const struct ov_limit *l);

/* Add a network (af AF_INET or AF_INET6, addr masked to plen bits);
 * 0, or -1 if already there. */
int ov_add_net(struct ov_table *t, int af, const unsigned char *addr, int plen,
    const struct ov_limit *l);

/* The entry of a name (lower-cased, no trailing dot), or NULL. */
const struct ov_limit *ov_find_name(const struct ov_table *t, const char *name);

/* The entry of the longest network that holds the IP address text (as
 * the MTA gives it), or NULL. */
const struct ov_limit *ov_find_ip(const struct ov_table *t, const char *ip);

/* How many entries. */
size_t ov_count(const struct ov_table *t);

/* Free a table; NULL is fine. */
void ov_free(struct ov_table *t);

/* ---- conf_overrides.c: the file's parser ---- */

/* Parse buf[0..len) (the file's text) into a new table; every bad line is
 * told to err with its number and *nerrors counts them.  The table holds
 * the good lines. */
struct ov_table *ov_parse(const char *buf, size_t len, ov_error_fn *err,
    void *arg, int *nerrors);

#endif
