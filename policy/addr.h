/*
 * addr.h: what the engine needs to know about envelope addresses and
 * client IP addresses, computed from the text the MTA gives.
 *
 * Nothing here allocates: results are written into caller buffers or are
 * pointers into the caller's string, valid as long as that string.
 * Every function is pure and thread safe.  Input may be hostile (any
 * length, any bytes except NUL).
 */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>

/* Strip one level of <> and surrounding white space from an SMTP path argument
 * ("<a@b>" -> "a@b", "<>" -> ""), writing at most outsz-1 bytes; returns the length
 * the full result has (like snprintf), so a caller can see truncation. */
size_t addr_unbracket(const char *arg, char *out, size_t outsz);

/* The domain of an address: pointer past the last '@' that is not inside a
 * quoted local part, or NULL when there is none ("postmaster", ""). */
const char *addr_domain(const char *addr);

/* Non-zero when the address asks for routing that a relay check must not
 * trust: a source route ("@a,@b:u@d"), or a local part that holds '@', '%'
 * or '!' (also inside quotes: "\"u@other\"@local"). */
int addr_is_routed(const char *addr);

/* Parse s[0..len): "a.b.c.d", an IPv6 literal, "[...]" or "[IPv6:...]"
 * (as Sendmail's {client_addr} and SMTP address literals write them) into
 * af and the first 4 or 16 bytes of buf (the rest zeroed).  IPv4-mapped
 * IPv6 comes back as AF_INET with *mapped set (mapped may be NULL).
 * Returns 0, or -1 when it is not an IP address. */
int addr_ip_parse(const char *s, size_t len, int *af, unsigned char buf[16],
    int *mapped);

/* Normalise an IP address literal: IPv6 in canonical RFC 5952 form,
 * IPv4-mapped IPv6 as plain IPv4, optional [] stripped.  Returns 0, or -1
 * when the text is not an IP address (out then holds ""). */
int addr_ip_normalise(const char *in, char *out, size_t outsz);

/* Lower-case the domain part of an address into out (local part kept as
 * given); returns the full length like snprintf. */
size_t addr_normalise(const char *addr, char *out, size_t outsz);

#endif
