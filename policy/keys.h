/*
 * keys.h: counter identities.  A limit or duplicate rule keeps its counts
 * "per" some keys (client_addr, sender, header:NAME, ...); this builds the
 * bytes that name one counter in the store, normalised so a client cannot
 * dodge a limit by spelling: addresses and names lower-cased, one trailing
 * dot dropped, IP addresses in canonical form, IPv4-mapped IPv6 as IPv4,
 * the null sender as "<>".
 *
 * An identity is "RULE\0WHAT\0" followed by the key values joined by 0x1f
 * (and a fingerprint, for duplicates).  The rate is not part of it, so an
 * admin may change a rate and keep the history.  When the values add up to
 * more than KEYS_VALUE_MAX bytes they are replaced by a 16-byte BLAKE2b
 * digest, so a 64 kB address costs what a short one does.  Pure functions,
 * thread safe, no allocation.
 */
#ifndef KEYS_H
#define KEYS_H

#include <stddef.h>

#include "policy.h"

#define KEYS_VALUE_MAX	64
#define KEYS_ID_MAX	(64 + 16 + KEYS_VALUE_MAX + 8)
#define KEYS_HUMAN_MAX	POL_KEY_MAX

struct keyspec;

/* Build the identity of the counter for rule `rule`, kind `what`, keys
 * keys[0..nkeys) from env and the message's kept headers, plus an optional
 * fingerprint; the key as logs show it goes to human.  Returns the length,
 * or 0 when a key is not known (no auth user, no such header). */
size_t keys_id(const char *rule, const char *what, const struct keyspec *keys,
    int nkeys, const struct pol_env *env, char *const *hdrs,
    const unsigned char *fp, size_t fplen, unsigned char *id, char *human);

/* What keys[0..nkeys) count, as a reply names it (%{counted}): "client
 * 192.0.2.7", "sender <> and client 192.0.2.7", "network 192.0.2.0/24",
 * "user bob", "all senders to recipient domain example.org"; "all senders"
 * for no keys.  Values unknown here are left out.  Fits outsz. */
void keys_counted(const struct keyspec *keys, int nkeys,
    const struct pol_env *env, char *const *hdrs, char *out, size_t outsz);

#endif
