/* keys.c: counter identities; see keys.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "keys.h"
#include "rules.h"

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

/* Add a value lower-cased, without one trailing dot. */
static void
idvals_add_lower(struct idvals *v, const char *s)
{
	unsigned char chunk[64];
	size_t len = strlen(s), i, k;

	if (len > 0 && s[len - 1] == '.')
		len--;
	for (i = 0; i < len; i += k) {
		for (k = 0; k < sizeof chunk && i + k < len; k++)
			chunk[k] = (unsigned char)tolower((unsigned char)s[i + k]);
		idvals_add(v, chunk, k);
	}
}

/* "192.0.2.0/24" or "2001:db8:1:2::/64" for a client address. */
static void
client_net(const char *addr, char *out, size_t outsz)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];

	if (addr != NULL && inet_pton(AF_INET, addr, a) == 1) {
		a[3] = 0;
		inet_ntop(AF_INET, a, text, sizeof text);
		snprintf(out, outsz, "%s/24", text);
	} else if (addr != NULL && inet_pton(AF_INET6, addr, a) == 1) {
		memset(a + 8, 0, 8);
		inet_ntop(AF_INET6, a, text, sizeof text);
		snprintf(out, outsz, "%s/64", text);
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
key_value(const struct keyspec *k, const struct pol_env *env,
    char *const *hdrs, char *net, size_t netsz)
{
	switch (k->kind) {
	case KEY_CLIENT_ADDR:
		if (env->client_addr == NULL ||
		    addr_ip_normalise(env->client_addr, net, netsz) < 0)
			return env->client_addr ? env->client_addr : "unknown";
		return net;
	case KEY_CLIENT_NET:
		client_net(env->client_addr, net, netsz);
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
		return hdrs ? hdrs[k->hdr] : NULL;
	}
	return NULL;
}

static void
human_add(char *human, size_t *hlen, const char *v, int first)
{
	char clean[KEYS_HUMAN_MAX];

	if (*hlen >= KEYS_HUMAN_MAX - 1)
		return;
	reply_clean(v, clean, sizeof clean);
	*hlen += snprintf(human + *hlen, KEYS_HUMAN_MAX - *hlen, "%s%s",
	    first ? "" : ",", clean);
	if (*hlen > KEYS_HUMAN_MAX - 1)
		*hlen = KEYS_HUMAN_MAX - 1;
}

size_t
keys_id(const char *rule, const char *what, const struct keyspec *keys,
    int nkeys, const struct pol_env *env, char *const *hdrs,
    const unsigned char *fp, size_t fplen, unsigned char *id, char *human)
{
	struct idvals v = { .len = 0 };
	char net[INET6_ADDRSTRLEN + 8];
	size_t len, hlen = 0;
	int i;

	human[0] = '\0';
	for (i = 0; i < nkeys; i++) {
		const char *val = key_value(&keys[i], env, hdrs, net, sizeof net);

		if (val == NULL)
			return 0;
		if (i > 0)
			idvals_add(&v, "\x1f", 1);
		idvals_add_lower(&v, val);
		human_add(human, &hlen, val, i == 0);
	}
	if (nkeys == 0)
		snprintf(human, KEYS_HUMAN_MAX, "*");
	if (fplen > 0) {
		idvals_add(&v, "\x1e", 1);
		idvals_add(&v, fp, fplen);
	}
	len = (size_t)snprintf((char *)id, KEYS_ID_MAX, "%.64s%c%s%c", rule, 0,
	    what, 0);
	if (v.hashing) {
		id[len++] = '#';
		crypto_generichash_final(&v.st, id + len, 16);
		return len + 16;
	}
	memcpy(id + len, v.buf, v.len);
	return len + v.len;
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

	reply_clean(v, clean, sizeof clean);
	snprintf(out + len, outsz - len, "%s%s%s%s%s", sep, label,
	    angle ? "<" : "", clean, angle ? ">" : "");
}

/* The parts on one side (pass 0: who sends, 1: to whom); how many. */
static int
counted_side(const struct keyspec *keys, int nkeys, const struct pol_env *env,
    char *const *hdrs, int pass, char *out, size_t outsz)
{
	char net[INET6_ADDRSTRLEN + 8];
	const char *v;
	int i, n = 0, to;

	for (i = 0; i < nkeys; i++) {
		counted_label(keys[i].kind, &to);
		if (to != pass ||
		    (v = key_value(&keys[i], env, hdrs, net, sizeof net)) == NULL)
			continue;
		counted_add(out, outsz, &keys[i], v,
		    n > 0 ? " and " : pass ? " to " : "");
		n++;
	}
	return n;
}

void
keys_counted(const struct keyspec *keys, int nkeys, const struct pol_env *env,
    char *const *hdrs, char *out, size_t outsz)
{
	out[0] = '\0';
	if (counted_side(keys, nkeys, env, hdrs, 0, out, outsz) == 0)
		snprintf(out, outsz, "all senders");
	counted_side(keys, nkeys, env, hdrs, 1, out, outsz);
}
