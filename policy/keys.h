/*
 * keys.h: counter identities, and what every counting rule (limit,
 * duplicates, and later greylisting) shares: its key spec, the context of
 * one evaluation and the shape of its answer.
 *
 * A counting rule keeps its counts "per" some keys (client_addr, sender,
 * header:NAME, ...); keys_id builds the bytes that name one counter in the
 * store, normalised so a client cannot dodge a limit by spelling: addresses
 * and names lower-cased, one trailing dot dropped, IP addresses in
 * canonical form, IPv4-mapped IPv6 as IPv4, the null sender as "<>".
 *
 * An identity is "RULE\0WHAT\0" followed by the key values joined by 0x1f
 * (and 0x1e and a fingerprint, for duplicates).  Inside a value the bytes
 * 0x1d-0x1f are escaped (0x1d, then the byte + 0x40), and so is a '#'
 * that would begin the values, so no two lists of values, and no raw
 * value and a hashed one, give one identity; values without those bytes
 * read as they did before the escape, so upgrading kept every counter.  The rate is not part of it, so an
 * admin may change a rate and keep the history.  When the values add up to
 * more than KEYS_VALUE_MAX bytes they are replaced by a 16-byte BLAKE2b
 * digest ('#' and 16 bytes; the digest is of the escaped values), so a
 * 64 kB address costs what a short one does.  Pure functions,
 * thread safe, no allocation.
 */
#ifndef KEYS_H
#define KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "store.h"

#define RULE_NAME_MAX	64	/* a rule's name: 1-64 characters */
#define KEYS_VALUE_MAX	64
#define KEYS_ID_MAX	(RULE_NAME_MAX + 16 + KEYS_VALUE_MAX + 8)

/* One key a counting rule is kept "per". */
enum key_kind {
	KEY_CLIENT_ADDR, KEY_CLIENT_NET, KEY_HELO, KEY_SENDER,
	KEY_SENDER_DOMAIN, KEY_AUTH_USER, KEY_RCPT, KEY_RCPT_DOMAIN, KEY_HEADER
};

/* The names `per` takes, by kind; KEY_HEADER is written "header:NAME". */
extern const char *const keys_kind_names[KEY_HEADER];

struct keyspec {
	enum key_kind kind;
	int hdr;			/* KEY_HEADER: index in policy->headers */
	unsigned char net4, net6;	/* KEY_CLIENT_NET: the prefix lengths,
					   1-32 and 1-128; 0: /24 and /64 */
};

#define KEYS_NET4_DEFAULT	24
#define KEYS_NET6_DEFAULT	64

/* per = [ ... ]: a rule's keys, owned by the rule's spec. */
struct keyset {
	int n;
	struct keyspec *k;
};

/* One evaluation of one counting rule: what it reads (borrowed for the
 * call) and what it answers. */
struct batch;

struct count_ctx {
	struct store *st;		/* NULL: every count is an error */
	const struct pol_env *env;
	char *const *hdrs;		/* the message's values of policy->headers */
	uint64_t now_ms;
	enum pol_stage stage;
	const unsigned char *fp;	/* duplicates: the message's fingerprint */
	size_t fplen;
	struct batch *batch;		/* the stage's takes asked at once, or NULL */
	struct store_res res;		/* out: the store's answer */
	char key[POL_KEY_MAX];		/* out: the counter's key as logs show it */
	unsigned long limit, window_ms;	/* out, limit rules: the limit in force */
	int unlimited;			/* out, limit rules: an "unlimited" entry */
	const char *period;		/* out, quota rules: "day", "week", "month" */
	char resets[48];		/* out, quota rules: when the period ends */
};

/* A counting rule's answer: under its limit, over it, skipped (a key it
 * needs is not known), or the store failed. */
enum count_result { COUNT_OK, COUNT_OVER, COUNT_SKIP, COUNT_ERROR };

/* Build the identity of rule's counter of kind `what` from the keys'
 * values in cx (and cx->fp) into id (KEYS_ID_MAX bytes); the key as logs
 * show it goes to cx->key.  Returns the length, or 0 when a key is not
 * known (no auth user, no such header). */
size_t keys_id(const char *rule, const char *what, const struct keyset *keys,
    struct count_ctx *cx, unsigned char *id);

/* The value of key k in cx as identities hold it before lower-casing
 * (client_net as "192.0.2.0/24"), in buf or in cx's strings; NULL when
 * it is not known.  buf holds at least INET6_ADDRSTRLEN + 8 bytes. */
const char *keys_value(const struct keyspec *k, const struct count_ctx *cx,
    char *buf, size_t bufsz);

/* The prefix lengths of "client_net/22,/48": spec is what follows
 * "client_net" ("", "/22", "/22,/48", ",/48"); 0 for a family not given.
 * 0, or -1 with err saying what to write. */
int keys_parse_net(const char *spec, unsigned char *net4, unsigned char *net6,
    char *err, size_t errsz);

/* Free a key set's array; the set itself is the caller's. */
void keys_free(struct keyset *keys);

/* What a key set counts, as a reply names it (%{counted}): "client
 * 192.0.2.7", "sender <> and client 192.0.2.7", "network 192.0.2.0/24",
 * "user bob", "all senders to recipient domain example.org"; "all senders"
 * for no keys.  Values unknown here are left out.  Fits outsz. */
void keys_counted(const struct keyset *ks, const struct count_ctx *cx,
    char *out, size_t outsz);

#endif
