/*
 * dnsl.h: DNS block and allow lists as conditions (dnsbl, dnswl on the
 * client's address; rhsbl, rhsbl_helo, rhsbl_client on a name).
 *
 * The engine never does I/O: it builds the query names, asks a resolver
 * the caller gives (struct dnsl_resolver, in struct pol_env, like the
 * store) and applies each list's return-code filter to the answer.  The
 * resolver owns the sockets, the cache and the waiting; the engine holds
 * no lock while it waits.  A list that cannot be asked (no resolver, a
 * timeout, SERVFAIL) is DNSL_UNKNOWN: the policy's dns.on_error decides
 * whether that matches nothing (the default) or tempfails.
 *
 * A struct dnsl_cond is compiled by conf_rule.c and owned by its rule; it
 * is immutable afterwards.  Functions here are pure and thread safe.
 */
#ifndef DNSL_H
#define DNSL_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define DNSL_NAME_MAX	POL_DNS_NAME_MAX	/* a query name, with its terminator */
#define DNSL_TEXT_MAX	POL_DNS_TEXT_MAX
#define DNSL_ADDRS_MAX	8	/* A records kept of one answer */

/* What a list is asked about. */
enum dnsl_subject {
	DNSL_CLIENT_ADDR,	/* dnsbl, dnswl: the reversed address */
	DNSL_SENDER_DOMAIN,	/* rhsbl */
	DNSL_HELO,		/* rhsbl_helo */
	DNSL_CLIENT_NAME	/* rhsbl_client: the MTA's verified name */
};

enum dnsl_status { DNSL_NOT_LISTED, DNSL_LISTED, DNSL_UNKNOWN };

/* One list as the policy names it: "zone", "zone=127.0.0.[2..11]" or
 * "zone&0.0.0.4". */
struct dnsl {
	char *zone;
	enum { DNSL_ANY, DNSL_OCTETS, DNSL_MASK } filter;
	uint32_t mask;			/* DNSL_MASK: some bit in common */
	uint8_t octet[4][32];		/* DNSL_OCTETS: a bit per allowed value */
};

/* A condition: any one of its lists listing the subject matches. */
struct dnsl_cond {
	enum dnsl_subject subject;
	int allow;			/* dnswl: no TXT is fetched */
	int n;
	struct dnsl *l;
};

/* A resolver's answer to one query name. */
struct dnsl_answer {
	enum dnsl_status status;	/* DNSL_LISTED: some A record */
	int naddrs;
	uint32_t addrs[DNSL_ADDRS_MAX];	/* host byte order */
	char text[DNSL_TEXT_MAX];	/* the TXT record, raw; "" none */
};

/* The caller's resolver (milter/dns.c).  start() begins the lookups of a
 * name so a later find() finds them done; find() gives the answer,
 * waiting for a lookup under way no longer than the resolver's timeout.
 * Both are called from any thread; zone names the list, for the log. */
struct dnsl_resolver {
	void (*start)(void *arg, const char *zone, const char *qname, int txt);
	void (*find)(void *arg, const char *zone, const char *qname, int txt,
	    struct dnsl_answer *out);
	void *arg;
};

/* What a matching condition found: the list and its TXT, for
 * %{dnsbl} and %{dnsbl_text}. */
struct dnsl_hit {
	char zone[DNSL_NAME_MAX];
	char text[DNSL_TEXT_MAX];
	int unknown;			/* some list could not be asked */
};

/* Parse one list entry into l (zone owned); 0, or -1 with a message. */
int dnsl_parse(const char *s, struct dnsl *l, char *err, size_t errsz);

/* Free a condition's lists and the condition.  NULL is fine. */
void dnsl_cond_free(struct dnsl_cond *c);

/* The name to query for the subject's value on list l into out
 * (DNSL_NAME_MAX bytes); -1 when the value cannot be asked (unknown, not
 * an address, not a host name). */
int dnsl_qname(const struct dnsl *l, enum dnsl_subject subject,
    const char *value, char *out);

/* The subject's value in env, or NULL when not known yet. */
const char *dnsl_value(enum dnsl_subject subject, const struct pol_env *env);

/* Does the answer pass l's return-code filter? */
int dnsl_passes(const struct dnsl *l, const struct dnsl_answer *a);

/* Start the lookups a condition will need, when its subject is known. */
void dnsl_start(const struct dnsl_cond *c, const struct pol_env *env);

/* Ask every list of a condition; the first that lists goes to *hit. */
enum dnsl_status dnsl_find(const struct dnsl_cond *c,
    const struct pol_env *env, struct dnsl_hit *hit);

#endif
