/*
 * dnsl.c: DNS lists as conditions: list entries and their return-code
 * filters, query names (reversed IPv4 octets, reversed IPv6 nibbles, host
 * names), and applying an answer.  See dnsl.h.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "dnsl.h"
#include "xmalloc.h"

static int
zone_valid(const char *z, size_t n)
{
	size_t i;

	if (n == 0 || n > 200 || z[0] == '.' || z[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)z[i]) && z[i] != '-' &&
		    z[i] != '.' && z[i] != '_')
			return 0;
	return 1;
}

/* One value 0-255 at *p; advances *p.  -1 on a bad number. */
static int
octet_num(const char **p)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)**p))
		return -1;
	v = strtol(*p, &end, 10);
	*p = end;
	return v >= 0 && v <= 255 ? (int)v : -1;
}

static void
bits_set(uint8_t *bits, int lo, int hi)
{
	int v;

	for (v = lo; v <= hi; v++)
		bits[v / 8] |= (uint8_t)(1u << (v % 8));
}

/* "N" or "[a..b;c;...]" into bits; advances *p.  0, or -1. */
static int
octet_parse(const char **p, uint8_t *bits)
{
	int lo, hi;

	if (**p != '[') {
		if ((lo = octet_num(p)) < 0)
			return -1;
		bits_set(bits, lo, lo);
		return 0;
	}
	do {
		(*p)++;
		if ((lo = octet_num(p)) < 0)
			return -1;
		hi = lo;
		if ((*p)[0] == '.' && (*p)[1] == '.') {
			*p += 2;
			if ((hi = octet_num(p)) < lo)
				return -1;
		}
		bits_set(bits, lo, hi);
	} while (**p == ';');
	return *(*p)++ == ']' ? 0 : -1;
}

static int
filter_octets(const char *f, struct dnsl *l)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (octet_parse(&f, l->octet[i]) < 0)
			return -1;
		if (*f != (i < 3 ? '.' : '\0'))
			return -1;
		f++;
	}
	l->filter = DNSL_OCTETS;
	return 0;
}

static int
filter_mask(const char *f, struct dnsl *l)
{
	struct in_addr a;

	if (inet_pton(AF_INET, f, &a) != 1 || a.s_addr == 0)
		return -1;
	l->mask = ntohl(a.s_addr);
	l->filter = DNSL_MASK;
	return 0;
}

int
dnsl_parse(const char *s, struct dnsl *l, char *err, size_t errsz)
{
	size_t n = strcspn(s, "=&");

	memset(l, 0, sizeof *l);
	if (!zone_valid(s, n)) {
		snprintf(err, errsz, "\"%s\" is not a DNS list; expected a zone "
		    "such as \"zen.spamhaus.org\", optionally with a filter: "
		    "\"zone=127.0.0.[2..11]\" or \"zone&0.0.0.4\"", s);
		return -1;
	}
	if ((s[n] == '=' && filter_octets(s + n + 1, l) < 0) ||
	    (s[n] == '&' && filter_mask(s + n + 1, l) < 0)) {
		snprintf(err, errsz, "\"%s\": bad return-code filter; write "
		    "\"=127.0.0.2\", \"=127.0.0.[2..11]\", \"=127.0.0.[2;4;10]\" "
		    "or a bitmask \"&0.0.0.4\"", s);
		return -1;
	}
	l->zone = xstrndup(s, n);
	return 0;
}

void
dnsl_cond_free(struct dnsl_cond *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		free(c->l[i].zone);
	free(c->l);
	free(c);
}

static int
qname_ip(const char *ip, const char *zone, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char a[16];
	char *p = out;
	int i;

	if (inet_pton(AF_INET, ip, a) == 1)
		return snprintf(out, DNSL_NAME_MAX, "%u.%u.%u.%u.%s", a[3], a[2],
		    a[1], a[0], zone) < DNSL_NAME_MAX ? 0 : -1;
	if (inet_pton(AF_INET6, ip, a) != 1 || strlen(zone) + 65 > DNSL_NAME_MAX)
		return -1;
	for (i = 15; i >= 0; i--) {
		*p++ = hex[a[i] & 0xf];
		*p++ = '.';
		*p++ = hex[a[i] >> 4];
		*p++ = '.';
	}
	strcpy(p, zone);
	return 0;
}

/* A host name asked of a right-hand-side list: letters, digits, '-', '_'
 * and dots, no address literal; one trailing dot dropped, lower-cased. */
static int
qname_host(const char *name, const char *zone, char *out)
{
	size_t n = strlen(name), i;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || name[0] == '.' || n + strlen(zone) + 2 > DNSL_NAME_MAX ||
	    strchr(name, '.') == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' &&
		    name[i] != '.' && name[i] != '_')
			return -1;
		out[i] = (char)tolower((unsigned char)name[i]);
	}
	out[n] = '.';
	strcpy(out + n + 1, zone);
	return 0;
}

int
dnsl_qname(const struct dnsl *l, enum dnsl_subject subject,
    const char *value, char *out)
{
	if (value == NULL || value[0] == '\0')
		return -1;
	if (subject == DNSL_CLIENT_ADDR)
		return qname_ip(value, l->zone, out);
	return qname_host(value, l->zone, out);
}

const char *
dnsl_value(enum dnsl_subject subject, const struct pol_env *env)
{
	switch (subject) {
	case DNSL_CLIENT_ADDR:
		return env->client_addr;
	case DNSL_SENDER_DOMAIN:
		return env->sender ? addr_domain(env->sender) : NULL;
	case DNSL_HELO:
		return env->helo;
	case DNSL_CLIENT_NAME:
		return env->client_name;
	}
	return NULL;
}

static int
addr_passes(const struct dnsl *l, uint32_t a)
{
	int i;

	if (l->filter == DNSL_ANY)
		return 1;
	if (l->filter == DNSL_MASK)
		return (a & l->mask) != 0;
	for (i = 0; i < 4; i++) {
		unsigned v = (a >> (24 - 8 * i)) & 0xff;

		if (!(l->octet[i][v / 8] & (1u << (v % 8))))
			return 0;
	}
	return 1;
}

int
dnsl_passes(const struct dnsl *l, const struct dnsl_answer *a)
{
	int i;

	if (a->status != DNSL_LISTED)
		return 0;
	for (i = 0; i < a->naddrs; i++)
		if (addr_passes(l, a->addrs[i]))
			return 1;
	return 0;
}

void
dnsl_start(const struct dnsl_cond *c, const struct pol_env *env)
{
	const char *v = dnsl_value(c->subject, env);
	char q[DNSL_NAME_MAX];
	int i;

	if (env->dns == NULL || env->dns->start == NULL || v == NULL)
		return;
	for (i = 0; i < c->n; i++)
		if (dnsl_qname(&c->l[i], c->subject, v, q) == 0)
			env->dns->start(env->dns->arg, c->l[i].zone, q, !c->allow);
}

enum dnsl_status
dnsl_find(const struct dnsl_cond *c, const struct pol_env *env,
    struct dnsl_hit *hit)
{
	const char *v = dnsl_value(c->subject, env);
	enum dnsl_status st = DNSL_NOT_LISTED;
	struct dnsl_answer a;
	char q[DNSL_NAME_MAX];
	int i;

	for (i = 0; i < c->n; i++) {
		if (dnsl_qname(&c->l[i], c->subject, v, q) < 0)
			continue;	/* nothing to ask: not listed */
		memset(&a, 0, sizeof a);
		a.status = DNSL_UNKNOWN;
		if (env->dns != NULL)
			env->dns->find(env->dns->arg, c->l[i].zone, q, !c->allow, &a);
		if (a.status == DNSL_UNKNOWN) {
			if (st == DNSL_NOT_LISTED && hit != NULL)
				snprintf(hit->zone, sizeof hit->zone, "%s", c->l[i].zone);
			st = DNSL_UNKNOWN;
		} else if (dnsl_passes(&c->l[i], &a)) {
			if (hit != NULL) {
				snprintf(hit->zone, sizeof hit->zone, "%s", c->l[i].zone);
				snprintf(hit->text, sizeof hit->text, "%s", a.text);
			}
			return DNSL_LISTED;
		}
	}
	return st;
}
