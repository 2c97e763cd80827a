/* keys.c: counter identities; see keys.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "keys.h"
#include "rules.h"
#include "text.h"

const char *const keys_kind_names[KEY_HEADER] = {
	"client_addr", "client_net", "helo", "sender", "sender_domain",
	"auth_user", "rcpt", "rcpt_domain"
};

/* The values part of an identity, hashed once it outgrows KEYS_VALUE_MAX. */
struct idvals {
	unsigned char buf[KEYS_VALUE_MAX];
	size_t len;
	int hashing;
	crypto_generichash_state st;
};

static void
idvals_add(struct idvals *v, const void *p, size_t n)
{
	if (!v->hashing && v->len + n <= sizeof v->buf) {
		memcpy(v->buf + v->len, p, n);
		v->len += n;
		return;
	}
	if (!v->hashing) {
		crypto_generichash_init(&v->st, NULL, 0, 16);
		crypto_generichash_update(&v->st, v->buf, v->len);
		v->hashing = 1;
	}
	crypto_generichash_update(&v->st, p, n);
}

#define ID_ESC	0x1d	/* escapes the three bytes below 0x20 we use, and '#' */

/*
 * Add a value lower-cased, without one trailing dot, escaped so identities
 * are unambiguous: 0x1d, 0x1e (before a fingerprint) and 0x1f (between
 * values) become 0x1d and the byte + 0x40, and a '#' that begins the
 * values (lead) becomes 0x1d '#', so a raw value never reads as the
 * hashed form.  A value without those bytes is added as it is: counters
 * named before the escape kept their names.
 */
static void
idvals_add_value(struct idvals *v, const char *s, int lead)
{
	unsigned char chunk[2 * 64];
	size_t len = strlen(s), i, k;

	if (len > 0 && s[len - 1] == '.')
		len--;
	for (i = 0; i < len;) {
		for (k = 0; k < sizeof chunk - 1 && i < len; i++) {
			unsigned char c = (unsigned char)tolower((unsigned char)s[i]);

			if (c >= ID_ESC && c <= 0x1f) {
				chunk[k++] = ID_ESC;
				c += 0x40;
			} else if (c == '#' && lead && i == 0)
				chunk[k++] = ID_ESC;
			chunk[k++] = c;
		}
		idvals_add(v, chunk, k);
	}
}

/* Keep the first plen bits of the len bytes of a. */
static void
mask_bits(unsigned char *a, size_t len, int plen)
{
	size_t i;

	for (i = (size_t)plen / 8; i < len; i++)
		a[i] = i == (size_t)plen / 8 && plen % 8 ?
		    a[i] & (unsigned char)(0xff00 >> (plen % 8)) : 0;
}

/* "192.0.2.0/24" or "2001:db8:1:2::/64" for a client address, with the
 * key's prefix lengths (default /24 and /64). */
static void
client_net(const struct keyspec *k, const char *addr, char *out,
    size_t outsz)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN], norm[INET6_ADDRSTRLEN + 8];
	int p4 = k->net4 ? k->net4 : KEYS_NET4_DEFAULT;
	int p6 = k->net6 ? k->net6 : KEYS_NET6_DEFAULT;

	/* "[...]", IPv4-mapped IPv6: the address itself */
	if (addr != NULL && addr_ip_normalise(addr, norm, sizeof norm) == 0)
		addr = norm;

	if (addr != NULL && inet_pton(AF_INET, addr, a) == 1) {
		mask_bits(a, 4, p4);
		inet_ntop(AF_INET, a, text, sizeof text);
		snprintf(out, outsz, "%s/%d", text, p4);
	} else if (addr != NULL && inet_pton(AF_INET6, addr, a) == 1) {
		mask_bits(a, 16, p6);
		inet_ntop(AF_INET6, a, text, sizeof text);
		snprintf(out, outsz, "%s/%d", text, p6);
	} else
		snprintf(out, outsz, "unknown");
}

static const char *
addr_or_null(const char *addr)
{
	return addr[0] == '\0' ? "<>" : addr;
}

static const char *
domain_of(const char *addr)
{
	const char *d;

	if (addr[0] == '\0')
		return "<>";
	return (d = addr_domain(addr)) != NULL ? d : "";
}

/* The value of one key, or NULL when it is not known. */
static const char *
key_value(const struct keyspec *k, const struct count_ctx *cx, char *net,
    size_t netsz)
{
	const struct pol_env *env = cx->env;

	switch (k->kind) {
	case KEY_CLIENT_ADDR:
		if (env->client_addr == NULL ||
		    addr_ip_normalise(env->client_addr, net, netsz) < 0)
			return env->client_addr ? env->client_addr : "unknown";
		return net;
	case KEY_CLIENT_NET:
		client_net(k, env->client_addr, net, netsz);
		return net;
	case KEY_HELO:
		return env->helo ? env->helo : "";
	case KEY_SENDER:
		return env->sender ? addr_or_null(env->sender) : NULL;
	case KEY_SENDER_DOMAIN:
		return env->sender ? domain_of(env->sender) : NULL;
	case KEY_AUTH_USER:
		return env->auth_user && env->auth_user[0] ? env->auth_user : NULL;
	case KEY_RCPT:
		return env->rcpt ? addr_or_null(env->rcpt) : NULL;
	case KEY_RCPT_DOMAIN:
		return env->rcpt ? domain_of(env->rcpt) : NULL;
	case KEY_HEADER:
		return cx->hdrs ? cx->hdrs[k->hdr] : NULL;
	}
	return NULL;
}

static void
human_add(char *human, size_t *hlen, const char *v, int first)
{
	char clean[POL_KEY_MAX];

	if (*hlen >= POL_KEY_MAX - 1)
		return;
	text_clean(v, clean, sizeof clean);
	*hlen += snprintf(human + *hlen, POL_KEY_MAX - *hlen, "%s%s",
	    first ? "" : ",", clean);
	if (*hlen > POL_KEY_MAX - 1)
		*hlen = POL_KEY_MAX - 1;
}

const char *
keys_value(const struct keyspec *k, const struct count_ctx *cx, char *buf,
    size_t bufsz)
{
	return key_value(k, cx, buf, bufsz);
}

size_t
keys_id(const char *rule, const char *what, const struct keyset *keys,
    struct count_ctx *cx, unsigned char *id)
{
	struct idvals v = { .len = 0 };
	char net[INET6_ADDRSTRLEN + 8];
	size_t len, hlen = 0;
	int i;

	cx->key[0] = '\0';
	for (i = 0; i < keys->n; i++) {
		const char *val = key_value(&keys->k[i], cx, net, sizeof net);

		if (val == NULL)
			return 0;
		if (i > 0)
			idvals_add(&v, "\x1f", 1);
		idvals_add_value(&v, val, i == 0);
		human_add(cx->key, &hlen, val, i == 0);
	}
	if (keys->n == 0)
		snprintf(cx->key, sizeof cx->key, "*");
	if (cx->fplen > 0) {
		idvals_add(&v, "\x1e", 1);
		idvals_add(&v, cx->fp, cx->fplen);
	}
	len = (size_t)snprintf((char *)id, KEYS_ID_MAX, "%.*s%c%s%c",
	    RULE_NAME_MAX, rule, 0, what, 0);
	if (v.hashing) {
		id[len++] = '#';
		crypto_generichash_final(&v.st, id + len, 16);
		return len + 16;
	}
	memcpy(id + len, v.buf, v.len);
	return len + v.len;
}

/* "/N" (or "") after client_net, for a family of at most max bits:
 * the length in *plen (0 when absent); -1 when out of range. */
static int
net_len(const char *s, const char *end, int max, unsigned char *plen)
{
	int n = 0;

	*plen = 0;
	if (s == end)
		return 0;
	if (*s++ != '/' || s == end)
		return -1;
	for (; s < end; s++) {
		if (!isdigit((unsigned char)*s) || (n = n * 10 + *s - '0') > max)
			return -1;
	}
	if (n < 1)
		return -1;
	*plen = (unsigned char)n;
	return 0;
}

int
keys_parse_net(const char *spec, unsigned char *net4, unsigned char *net6,
    char *err, size_t errsz)
{
	const char *comma = strchr(spec, ',');
	const char *end4 = comma ? comma : spec + strlen(spec);

	if (net_len(spec, end4, 32, net4) < 0) {
		snprintf(err, errsz, "the IPv4 prefix in \"client_net%s\" must "
		    "be /1 to /32: write e.g. \"client_net/22,/48\" (the default "
		    "is /24 and /64)", spec);
		return -1;
	}
	if (comma != NULL && (net_len(comma + 1, comma + 1 + strlen(comma + 1),
	    128, net6) < 0 || *net6 == 0)) {
		snprintf(err, errsz, "the IPv6 prefix in \"client_net%s\" must "
		    "be /1 to /128: write e.g. \"client_net/22,/48\" (the default "
		    "is /24 and /64)", spec);
		return -1;
	}
	if (comma == NULL)
		*net6 = 0;
	return 0;
}

void
keys_free(struct keyset *keys)
{
	free(keys->k);
	keys->k = NULL;
	keys->n = 0;
}

/* ---- %{counted} ---- */

#define COUNTED_VALUE_MAX 80	/* bytes of one value in the phrase */

static const char *
counted_label(enum key_kind kind, int *to)
{
	static const char *const labels[] = {
		[KEY_CLIENT_ADDR] = "client ", [KEY_CLIENT_NET] = "network ",
		[KEY_HELO] = "HELO name ", [KEY_SENDER] = "sender ",
		[KEY_SENDER_DOMAIN] = "sender domain ", [KEY_AUTH_USER] = "user ",
		[KEY_RCPT] = "recipient ", [KEY_RCPT_DOMAIN] = "recipient domain ",
		[KEY_HEADER] = "header value ",
	};

	*to = kind == KEY_RCPT || kind == KEY_RCPT_DOMAIN;
	return labels[kind];
}

/* One part, "sender <a@b.example>", after sep. */
static void
counted_add(char *out, size_t outsz, const struct keyspec *k, const char *v,
    const char *sep)
{
	char clean[COUNTED_VALUE_MAX + 1];
	size_t len = strlen(out);
	int to, angle = (k->kind == KEY_SENDER || k->kind == KEY_RCPT) &&
	    strcmp(v, "<>") != 0;
	const char *label = counted_label(k->kind, &to);

	text_clean(v, clean, sizeof clean);
	snprintf(out + len, outsz - len, "%s%s%s%s%s", sep, label,
	    angle ? "<" : "", clean, angle ? ">" : "");
}

/* The parts on one side (pass 0: who sends, 1: to whom); how many. */
static int
counted_side(const struct keyset *ks, const struct count_ctx *cx, int pass,
    char *out, size_t outsz)
{
	char net[INET6_ADDRSTRLEN + 8];
	const char *v;
	int i, n = 0, to;

	for (i = 0; i < ks->n; i++) {
		counted_label(ks->k[i].kind, &to);
		if (to != pass ||
		    (v = key_value(&ks->k[i], cx, net, sizeof net)) == NULL)
			continue;
		counted_add(out, outsz, &ks->k[i], v,
		    n > 0 ? " and " : pass ? " to " : "");
		n++;
	}
	return n;
}

void
keys_counted(const struct keyset *ks, const struct count_ctx *cx, char *out,
    size_t outsz)
{
	out[0] = '\0';
	if (counted_side(ks, cx, 0, out, outsz) == 0)
		snprintf(out, outsz, "all senders");
	counted_side(ks, cx, 1, out, outsz);
}
