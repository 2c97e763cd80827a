/*
 * addr.c: envelope addresses and IP literals as text (see addr.h).
 *
 * A local part is read with RFC 5321 quoting in mind: a '"' opens or closes
 * a quoted string, and inside one a backslash escapes the next byte, so the
 * '@' in "\"u@other\"@local" is not the domain's.  Routing detection errs
 * towards "routed": a relay check that refuses an odd local address costs
 * far less than one that relays for anybody.
 *
 * Every function also accepts NULL (as ""), which addr.h does not promise.
 * Nothing here depends on the locale.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>

#include "addr.h"

#define IP_TEXT_MAX	64	/* > any IP literal inet_pton takes */

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char
ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Copy len bytes of s into out like snprintf would; returns len. */
static size_t
copy_out(const char *s, size_t len, char *out, size_t outsz)
{
	size_t n;

	if (outsz == 0)
		return len;
	n = len < outsz ? len : outsz - 1;
	memcpy(out, s, n);
	out[n] = '\0';
	return len;
}

static void
trim(const char **s, const char **e)
{
	while (*s < *e && is_space(**s))
		(*s)++;
	while (*e > *s && is_space((*e)[-1]))
		(*e)--;
}

size_t
addr_unbracket(const char *arg, char *out, size_t outsz)
{
	const char *s, *e;

	if (arg == NULL)
		arg = "";
	s = arg;
	e = arg + strlen(arg);
	trim(&s, &e);
	if (e - s >= 2 && s[0] == '<' && e[-1] == '>') {
		s++;
		e--;
		trim(&s, &e);
	}
	return copy_out(s, (size_t)(e - s), out, outsz);
}

const char *
addr_domain(const char *addr)
{
	const char *p, *at = NULL;
	int quoted = 0;

	if (addr == NULL)
		return NULL;
	for (p = addr; *p != '\0'; p++) {
		if (quoted && p[0] == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (!quoted && *p == '@')
			at = p;
	}
	return at != NULL ? at + 1 : NULL;
}

/*
 * A leading '@' is a source route (or an empty local part, which no relay
 * check should trust either).  Otherwise look at every byte of the local
 * part, quoted or not: '@', '%' and '!' all route somewhere on some MTA.
 * With no domain at all ("u%other", "other!u") the whole text is the local
 * part.
 */
int
addr_is_routed(const char *addr)
{
	const char *dom, *p, *end;

	if (addr == NULL)
		return 0;
	if (addr[0] == '@')
		return 1;
	dom = addr_domain(addr);
	end = dom != NULL ? dom - 1 : addr + strlen(addr);
	for (p = addr; p < end; p++)
		if (*p == '@' || *p == '%' || *p == '!')
			return 1;
	return 0;
}

/* "IPv6:" in any case, as RFC 5321 address literals may write it. */
static int
has_ipv6_tag(const char *s)
{
	const char *tag = "ipv6:";
	size_t i;

	for (i = 0; tag[i] != '\0'; i++)
		if (ascii_lower(s[i]) != tag[i])
			return 0;
	return 1;
}

int
addr_ip_parse(const char *s, size_t len, int *af, unsigned char buf[16],
    int *mapped)
{
	struct in6_addr a6;
	char text[IP_TEXT_MAX];

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len >= 5 && has_ipv6_tag(s)) {
		s += 5;
		len -= 5;
	}
	if (len >= sizeof text)
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';
	memset(buf, 0, 16);
	if (mapped != NULL)
		*mapped = 0;
	if (inet_pton(AF_INET, text, buf) == 1) {
		*af = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(buf, a6.s6_addr + 12, 4);
		*af = AF_INET;
		if (mapped != NULL)
			*mapped = 1;
	} else {
		memcpy(buf, a6.s6_addr, 16);
		*af = AF_INET6;
	}
	return 0;
}

/* A too small out is a failure too: a truncated address is a wrong one. */
int
addr_ip_normalise(const char *in, char *out, size_t outsz)
{
	unsigned char buf[16];
	char text[INET6_ADDRSTRLEN];
	int af;

	if (outsz > 0)
		out[0] = '\0';
	if (in == NULL || addr_ip_parse(in, strlen(in), &af, buf, NULL) < 0)
		return -1;
	if (inet_ntop(af, buf, text, sizeof text) == NULL)
		return -1;
	if (strlen(text) >= outsz)
		return -1;
	memcpy(out, text, strlen(text) + 1);
	return 0;
}

size_t
addr_normalise(const char *addr, char *out, size_t outsz)
{
	const char *dom;
	size_t len, i;

	if (addr == NULL)
		addr = "";
	len = copy_out(addr, strlen(addr), out, outsz);
	dom = addr_domain(addr);
	if (dom == NULL || outsz == 0)
		return len;
	for (i = (size_t)(dom - addr); i < outsz - 1 && out[i] != '\0'; i++)
		out[i] = ascii_lower(out[i]);
	return len;
}
