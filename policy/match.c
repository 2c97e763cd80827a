/*
 * match.c: compiled pattern lists and lookups (see match.h).
 *
 * Each kind of entry is kept where its lookup is cheapest:
 *  - names, strings, whole addresses, domains and local parts, lower-cased,
 *    in sorted arrays searched with a case-folding comparison, so a value
 *    is never copied; a value longer than the longest entry costs nothing;
 *  - ".example.com" suffixes in a sorted array, tried at each '.' of the
 *    value's last maxlen bytes only, so 64 kB of dots costs what a name does;
 *  - networks as 16-byte keys (IPv4 in the first 4), one sorted array per
 *    family and prefix length, tried longest prefix first;
 *  - regexes in file order, with a budget of work per regex and value, so
 *    a hostile value against a bad regex ends as MATCH_ERROR rather than as
 *    a thread that never comes back or 64 kB of backtracking frames per
 *    repetition (see "The work of one regex" below).  A regex with a
 *    repeated group, e.g. /^(a|b)*$/, gives MATCH_ERROR past some 20-40 kB
 *    of value: the heap limit, not a bug.
 *
 * A CIDR with host bits set ("10.0.0.1/8") is refused, as Postfix cidr
 * tables do: in a trusted network list a typo for "10.0.0.1/32" that is
 * silently widened to a /8 is an open relay.  The message names the network
 * the admin probably meant.
 *
 * PCRE2 allocates through xmalloc, so it never fails for lack of memory.
 *
 * The work of one regex against one value.  PCRE2's match limit counts
 * backtracking steps per start position, and an unanchored regex is tried at
 * every position where it can start: /(a|a){1,17}b/ against 2 kB of "a"
 * took 2,000 times the limit, 40 s.  So the steps are shared out: RE_STEPS
 * for all the start positions PCRE2 will try, each given RE_STEPS divided by
 * their number, counted before the match with the test PCRE2's own
 * start-of-match scan uses (its first code unit in either case, a line start,
 * its bitmap of first bytes, or every byte).  Steps are not all the work:
 * a repeat that fails at the end of the value, as /\w+@/ does on 60 kB of
 * "a", scans the rest of the value from each start position without a step,
 * 60 kB squared in all.  So the start positions tried are cut where the
 * bytes after them add up to more than RE_SCAN (pcre2_set_offset_limit): a
 * match before the cut is a match, no match before it is MATCH_ERROR, as
 * the engine cannot say.  Only a value of more than some 5 kB, against a
 * regex that can start at most of its bytes, gets there.  In all, one regex
 * against one value costs at most RE_STEPS steps plus RE_SCAN bytes scanned,
 * some tens of milliseconds, whatever the value.
 *
 * XXX No pcre2_jit_compile(): the JIT would save 40-250 ns a match on SMTP
 * sized values (the interpreter takes 80-300 ns), but its SIMD scans read
 * past the end of the subject, which valgrind reports in every suite that
 * matches a heap string, and a unit with MemoryDenyWriteExecute=yes forbids
 * its executable memory anyway.  Revisit if lists of many regexes show up in
 * `make bench`; the JIT counts its match limit in its own units, so the
 * budget above would have to be measured again.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "addr.h"
#include "match.h"
#include "text.h"
#include "xmalloc.h"

/* Per regex and value: backtracking steps over all start positions, bytes
 * after the start positions tried, and KiB of backtracking frames. */
#define RE_STEPS	1000000
#define RE_SCAN		(1UL << 24)
#define RE_HEAP_LIMIT	8192

#define ERR_SHOW	200	/* bytes of a bad pattern in a message */

enum { FAM_V4, FAM_V6, NFAM };

static const int fam_bits[NFAM] = { 32, 128 };

/* Lower-cased strings, sorted by match_list_finish. */
struct strv {
	char		**s;
	size_t		  n, cap;
	size_t		  maxlen;	/* of the longest entry */
};

/* Masked network keys of one prefix length, sorted. */
struct netv {
	unsigned char	(*k)[16];
	size_t		  n, cap;
};

struct nets {
	struct netv	 by_len[NFAM][129];
	unsigned char	 used[NFAM][129];	/* lengths, longest first */
	int		 nused[NFAM];
};

/* Where PCRE2's start-of-match scan lets a regex start; see re_starts. */
enum re_start { START_ONE, START_BYTE, START_LINE, START_MAP, START_ANY };

struct regex {
	pcre2_code	*code;
	enum re_start	 start;
	unsigned char	 c1, c2;	/* START_BYTE: the byte in both cases */
	const uint8_t	*map;		/* START_MAP: PCRE2's bitmap of bytes */
};

struct regexes {
	struct regex	 *re;
	size_t		  n, cap;
};

struct match_list {
	enum match_kind		 kind;
	int			 finished;
	int			 null_sender;	/* MATCH_ADDR "<>" */
	size_t			 npatterns;
	struct strv		 exact;		/* names, strings, addrs */
	struct strv		 subdom;	/* ".example.com" */
	struct strv		 domain;	/* ADDR "@example.com" */
	struct strv		 local;		/* ADDR "user@" */
	struct nets		*nets;		/* MATCH_CLIENT only */
	struct regexes		 rx;
	pcre2_general_context	*gctx;		/* with the 1st regex */
	pcre2_compile_context	*cctx;
	pcre2_match_context	*mctx;
};

/* An IP address as a 16-byte key; IPv4 (also written mapped) in k[0..3]. */
struct ip {
	int		fam;
	int		mapped;		/* written ::ffff:a.b.c.d */
	unsigned char	k[16];
};

static unsigned char
ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Room for one more in a, which holds n elements of size and has *cap. */
static void *
grow(void *a, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return a;
	assert(*cap < SIZE_MAX / 2 / size);
	*cap = *cap ? *cap * 2 : 16;
	return xrealloc(a, *cap * size);
}

/* String arrays. */

static void
strv_add(struct strv *v, const char *s, size_t len)
{
	char *copy = xstrndup(s, len);
	size_t i;

	for (i = 0; i < len; i++)
		copy[i] = (char)ascii_lower((unsigned char)copy[i]);
	v->s = grow(v->s, &v->cap, v->n, sizeof *v->s);
	v->s[v->n++] = copy;
	if (len > v->maxlen)
		v->maxlen = len;
}

static int
strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Order of key[0..len), folded to lower case, against a lower-case entry. */
static int
key_cmp(const char *key, size_t len, const char *ent)
{
	const unsigned char *e = (const unsigned char *)ent;
	unsigned char c;
	size_t i;

	for (i = 0; i < len; i++) {
		c = ascii_lower((unsigned char)key[i]);
		if (e[i] == '\0' || c > e[i])
			return 1;
		if (c < e[i])
			return -1;
	}
	return e[len] == '\0' ? 0 : -1;
}

static int
strv_find(const struct strv *v, const char *key, size_t len)
{
	size_t lo = 0, hi = v->n, mid;
	int c;

	if (len > v->maxlen)
		return 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = key_cmp(key, len, v->s[mid])) == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

/* Is name[0..len) a proper subdomain of an entry (".example.com")? */
static int
subdom_find(const struct strv *v, const char *name, size_t len)
{
	size_t p;

	if (v->n == 0)
		return 0;
	for (p = len > v->maxlen ? len - v->maxlen : 1; p < len; p++)
		if (name[p] == '.' && strv_find(v, name + p, len - p))
			return 1;
	return 0;
}

static int
name_find(const struct strv *names, const struct strv *subdom,
    const char *name, size_t len)
{
	return strv_find(names, name, len) || subdom_find(subdom, name, len);
}

static void
strv_free(struct strv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		free(v->s[i]);
	free(v->s);
}

/* IP addresses and networks. */

static int
ip_parse(const char *s, size_t len, struct ip *ip)
{
	int af;

	memset(ip, 0, sizeof *ip);
	if (addr_ip_parse(s, len, &af, ip->k, &ip->mapped) < 0)
		return -1;
	if (af == AF_INET6)
		ip->fam = FAM_V6;
	return 0;
}

/* Clear every bit of k past the first bits. */
static void
mask_key(unsigned char k[16], int bits)
{
	int i;

	for (i = 0; i < 16; i++, bits -= 8) {
		if (bits <= 0)
			k[i] = 0;
		else if (bits < 8)
			k[i] &= (unsigned char)(0xff << (8 - bits));
	}
}

static int
key16_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static void
nets_add(struct nets *nets, const struct ip *ip, int prefix)
{
	struct netv *v = &nets->by_len[ip->fam][prefix];

	v->k = grow(v->k, &v->cap, v->n, sizeof *v->k);
	memcpy(v->k[v->n++], ip->k, 16);
}

static void
nets_finish(struct nets *nets)
{
	struct netv *v;
	int fam, len;

	for (fam = 0; fam < NFAM; fam++) {
		for (len = fam_bits[fam]; len >= 0; len--) {
			v = &nets->by_len[fam][len];
			if (v->n == 0)
				continue;
			qsort(v->k, v->n, sizeof *v->k, key16_cmp);
			nets->used[fam][nets->nused[fam]] = (unsigned char)len;
			nets->nused[fam]++;
		}
	}
}

static int
nets_find(const struct nets *nets, const struct ip *ip)
{
	const struct netv *v;
	unsigned char k[16];
	int i, len;

	for (i = 0; i < nets->nused[ip->fam]; i++) {
		len = nets->used[ip->fam][i];
		v = &nets->by_len[ip->fam][len];
		memcpy(k, ip->k, 16);
		mask_key(k, len);
		if (bsearch(k, v->k, v->n, sizeof *v->k, key16_cmp) != NULL)
			return 1;
	}
	return 0;
}

static void
nets_free(struct nets *nets)
{
	int fam, len;

	if (nets == NULL)
		return;
	for (fam = 0; fam < NFAM; fam++)
		for (len = 0; len <= fam_bits[fam]; len++)
			free(nets->by_len[fam][len].k);
	free(nets);
}

/* A prefix length: 1-3 decimal digits, at most max; -1 otherwise. */
static int
parse_prefix(const char *s, int max)
{
	int n = 0, i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (i == 3)
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	return i == 0 || s[i] != '\0' || n > max ? -1 : n;
}

/* Refuse host bits past prefix, naming the network that was probably meant. */
static int
check_host_bits(const char *pattern, const struct ip *ip, int prefix,
    char *err, size_t errsz)
{
	unsigned char k[16];
	char text[INET6_ADDRSTRLEN];

	memcpy(k, ip->k, 16);
	mask_key(k, prefix);
	if (memcmp(k, ip->k, 16) == 0)
		return 0;
	if (inet_ntop(ip->fam == FAM_V4 ? AF_INET : AF_INET6, k, text,
	    sizeof text) == NULL)
		text[0] = '\0';
	return text_err(err, errsz, "bad CIDR \"%.*s\": host bits set after the "
	    "first %d; did you mean \"%s/%d\"?", ERR_SHOW, pattern, prefix,
	    text, prefix);
}

static int
bad_client(const char *pattern, size_t alen, int cidr, char *err,
    size_t errsz)
{
	if (pattern[0] == '/')
		return text_err(err, errsz, "bad address \"%.*s\": client lists "
		    "take addresses and CIDRs, not regexes", ERR_SHOW, pattern);
	if (!cidr)
		return text_err(err, errsz, "bad address \"%.*s\": not an IPv4 or "
		    "IPv6 address", ERR_SHOW, pattern);
	return text_err(err, errsz, "bad CIDR \"%.*s\": \"%.*s\" is not an IPv4 "
	    "or IPv6 address", ERR_SHOW, pattern,
	    (int)(alen < ERR_SHOW ? alen : ERR_SHOW), pattern);
}

static int
add_client(struct match_list *l, const char *pattern, char *err, size_t errsz)
{
	const char *slash = strrchr(pattern, '/');
	size_t alen;
	struct ip ip;
	int max, prefix;

	alen = slash != NULL ? (size_t)(slash - pattern) : strlen(pattern);
	if (ip_parse(pattern, alen, &ip) < 0)
		return bad_client(pattern, alen, slash != NULL, err, errsz);
	max = ip.mapped ? 128 : fam_bits[ip.fam];
	prefix = slash != NULL ? parse_prefix(slash + 1, max) : max;
	if (prefix < 0)
		return text_err(err, errsz, "bad CIDR \"%.*s\": prefix length must "
		    "be 0-%d", ERR_SHOW, pattern, max);
	if (ip.mapped && prefix < 96)
		return text_err(err, errsz, "bad CIDR \"%.*s\": prefix length of "
		    "an IPv4-mapped network must be 96-128", ERR_SHOW,
		    pattern);
	if (ip.mapped)
		prefix -= 96;
	if (check_host_bits(pattern, &ip, prefix, err, errsz) < 0)
		return -1;
	nets_add(l->nets, &ip, prefix);
	return 0;
}

static int
client_find(const struct match_list *l, const char *value, size_t len)
{
	struct ip ip;

	if (ip_parse(value, len, &ip) < 0)
		return 0;
	return nets_find(l->nets, &ip);
}

/* Regexes. */

static void *
re_alloc(PCRE2_SIZE n, void *arg)
{
	(void)arg;
	return xmalloc(n);
}

static void
re_free(void *p, void *arg)
{
	(void)arg;
	free(p);
}

static void
re_contexts(struct match_list *l)
{
	if (l->gctx != NULL)
		return;
	l->gctx = pcre2_general_context_create(re_alloc, re_free, NULL);
	l->cctx = pcre2_compile_context_create(l->gctx);
	l->mctx = pcre2_match_context_create(l->gctx);
	pcre2_set_heap_limit(l->mctx, RE_HEAP_LIMIT);
}

/* How PCRE2's start-of-match scan (pcre2_match.c, 10.42) picks the start
 * positions of code: only the first for an anchored regex; else the first
 * code unit (its other case is ASCII's below 128, anything above), a line
 * start, or a byte of the bitmap, in that order of precedence. */
static void
re_starts(struct regex *x)
{
	uint32_t opts, type, cu;

	pcre2_pattern_info(x->code, PCRE2_INFO_ALLOPTIONS, &opts);
	pcre2_pattern_info(x->code, PCRE2_INFO_FIRSTCODETYPE, &type);
	pcre2_pattern_info(x->code, PCRE2_INFO_FIRSTCODEUNIT, &cu);
	pcre2_pattern_info(x->code, PCRE2_INFO_FIRSTBITMAP, &x->map);
	x->start = START_ANY;
	if (opts & PCRE2_ANCHORED)
		x->start = START_ONE;
	else if (opts & PCRE2_NO_START_OPTIMIZE)
		x->start = START_ANY;
	else if (type == 1 && cu < 128) {
		x->start = START_BYTE;
		x->c1 = ascii_lower((unsigned char)cu);
		x->c2 = x->c1 >= 'a' && x->c1 <= 'z' ?
		    (unsigned char)(x->c1 - 'a' + 'A') : x->c1;
	} else if (type == 2)
		x->start = START_LINE;
	else if (type == 0 && x->map != NULL)
		x->start = START_MAP;
}

/* May PCRE2 try a match at v[p]?  A line starts after any newline byte of
 * every newline convention (LF, CR, NUL, VT, FF, NEL, U+2028/9's last). */
static int
re_may_start(const struct regex *x, const unsigned char *v, size_t p)
{
	switch (x->start) {
	case START_ONE:
		return p == 0;
	case START_BYTE:
		return v[p] == x->c1 || v[p] == x->c2;
	case START_LINE:
		return p == 0 || memchr("\n\r\v\f\x85\xa8\xa9", v[p - 1], 8);
	case START_MAP:
		return (x->map[v[p] / 8] >> (v[p] % 8)) & 1;
	case START_ANY:
		break;
	}
	return 1;
}

/* Share the budget out for x against v[0..len): set ctx's match limit per
 * start position, and its offset limit where the bytes after the start
 * positions add up to more than RE_SCAN.  Returns whether it cut any. */
static int
re_budget(const struct regex *x, const char *v, size_t len,
    pcre2_match_context *ctx)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t p, n = 0, scan = 0;
	int cut = 0;

	for (p = 0; p <= len && !(x->start == START_ONE && p > 0); p++) {
		if (p < len ? !re_may_start(x, u, p) : x->start == START_BYTE ||
		    x->start == START_MAP)
			continue;
		if (n > 0 && scan + (len - p) > RE_SCAN) {
			cut = 1;
			break;
		}
		scan += len - p;
		n++;
	}
	pcre2_set_offset_limit(ctx, cut ? p - 1 : PCRE2_UNSET);
	pcre2_set_match_limit(ctx, n > 1 ? (uint32_t)(RE_STEPS / n) : RE_STEPS);
	return cut;
}

static int
add_regex(struct match_list *l, const char *pattern, char *err, size_t errsz)
{
	size_t len = strlen(pattern);
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	pcre2_code *re;
	int code;

	if (len < 2 || pattern[len - 1] != '/')
		return text_err(err, errsz, "bad regex \"%.*s\": no closing \"/\"",
		    ERR_SHOW, pattern);
	re_contexts(l);
	re = pcre2_compile((PCRE2_SPTR)pattern + 1, len - 2, PCRE2_CASELESS |
	    PCRE2_USE_OFFSET_LIMIT, &code, &off, l->cctx);
	if (re == NULL) {
		if (pcre2_get_error_message(code, msg, sizeof msg) < 0)
			snprintf((char *)msg, sizeof msg, "error %d", code);
		return text_err(err, errsz, "bad regex \"%.*s\": %s at offset %zu",
		    ERR_SHOW, pattern, (char *)msg, (size_t)off);
	}
	l->rx.re = grow(l->rx.re, &l->rx.cap, l->rx.n, sizeof *l->rx.re);
	l->rx.re[l->rx.n].code = re;
	re_starts(&l->rx.re[l->rx.n++]);
	return 0;
}

/* One regex within its budget; a cut search that found nothing is an error. */
static enum match_result
regex_one(const struct regex *x, const char *value, size_t len,
    pcre2_match_data *md, pcre2_match_context *ctx)
{
	int cut = re_budget(x, value, len, ctx);
	int rc = pcre2_match(x->code, (PCRE2_SPTR)value, len, 0, 0, md, ctx);

	if (rc >= 0)
		return MATCH_YES;
	return rc == PCRE2_ERROR_NOMATCH && !cut ? MATCH_NO : MATCH_ERROR;
}

/* A match anywhere wins over an error elsewhere: the answer is then known. */
static enum match_result
regex_find(const struct match_list *l, const char *value, size_t len)
{
	enum match_result res = MATCH_NO, one;
	pcre2_match_context *ctx;
	pcre2_match_data *md;
	size_t i;

	if (l->rx.n == 0)
		return MATCH_NO;
	md = pcre2_match_data_create(1, l->gctx);
	ctx = pcre2_match_context_copy(l->mctx);
	for (i = 0; i < l->rx.n; i++) {
		one = regex_one(&l->rx.re[i], value, len, md, ctx);
		if (one == MATCH_YES) {
			res = MATCH_YES;
			break;
		}
		if (one == MATCH_ERROR)
			res = MATCH_ERROR;
	}
	pcre2_match_context_free(ctx);
	pcre2_match_data_free(md);
	return res;
}

/* Names and addresses. */

static int
add_name(struct match_list *l, struct strv *names, const char *name,
    char *err, size_t errsz)
{
	if (name[0] != '.') {
		strv_add(names, name, strlen(name));
		return 0;
	}
	if (name[1] == '\0')
		return text_err(err, errsz, "bad domain \".\": a subdomain pattern "
		    "needs a name after the dot");
	strv_add(&l->subdom, name, strlen(name));
	return 0;
}

static int
add_addr(struct match_list *l, const char *pattern, char *err, size_t errsz)
{
	const char *dom;

	if (strcmp(pattern, "<>") == 0) {
		l->null_sender = 1;
		return 0;
	}
	dom = addr_domain(pattern);
	if (dom == NULL)			/* "example.com", ".ex.com" */
		return add_name(l, &l->domain, pattern, err, errsz);
	if (dom == pattern + 1 && *dom == '\0')
		return text_err(err, errsz, "bad address \"@\": no domain after "
		    "the \"@\"");
	if (dom == pattern + 1)			/* "@example.com" */
		return add_name(l, &l->domain, dom, err, errsz);
	if (*dom == '\0')			/* "user@" */
		strv_add(&l->local, pattern, (size_t)(dom - 1 - pattern));
	else					/* "user@example.com" */
		strv_add(&l->exact, pattern, strlen(pattern));
	return 0;
}

static int
addr_find(const struct match_list *l, const char *value, size_t len)
{
	const char *dom;
	size_t llen;

	if (len == 0 && l->null_sender)
		return 1;
	if (strv_find(&l->exact, value, len))
		return 1;
	dom = addr_domain(value);
	llen = dom != NULL ? (size_t)(dom - 1 - value) : len;
	if (strv_find(&l->local, value, llen))
		return 1;
	return dom != NULL && name_find(&l->domain, &l->subdom, dom,
	    len - (size_t)(dom - value));
}

/* The list. */

struct match_list *
match_list_new(enum match_kind kind)
{
	struct match_list *l = xcalloc(1, sizeof *l);

	l->kind = kind;
	if (kind == MATCH_CLIENT)
		l->nets = xcalloc(1, sizeof *l->nets);
	return l;
}

int
match_add(struct match_list *l, const char *pattern, char *err, size_t errsz)
{
	int rc;

	assert(l != NULL && !l->finished);
	if (pattern == NULL || pattern[0] == '\0')
		return text_err(err, errsz, "empty pattern");
	if (l->kind == MATCH_CLIENT)
		rc = add_client(l, pattern, err, errsz);
	else if (pattern[0] == '/')
		rc = add_regex(l, pattern, err, errsz);
	else if (l->kind == MATCH_ADDR)
		rc = add_addr(l, pattern, err, errsz);
	else if (l->kind == MATCH_STRING)
		rc = (strv_add(&l->exact, pattern, strlen(pattern)), 0);
	else
		rc = add_name(l, &l->exact, pattern, err, errsz);
	if (rc == 0)
		l->npatterns++;
	return rc;
}

void
match_list_finish(struct match_list *l)
{
	struct strv *v[] = { &l->exact, &l->subdom, &l->domain, &l->local };
	size_t i;

	assert(!l->finished);
	for (i = 0; i < sizeof v / sizeof v[0]; i++)
		if (v[i]->n > 0)	/* qsort(NULL, 0, ...) is undefined */
			qsort(v[i]->s, v[i]->n, sizeof *v[i]->s, strv_cmp);
	if (l->nets != NULL)
		nets_finish(l->nets);
	l->finished = 1;
}

/* A name's or an address's length without one trailing dot
 * ("bob@Example.Com." is bob@example.com, as the counter keys have it). */
static size_t
value_len(const struct match_list *l, const char *value)
{
	size_t len = strlen(value);

	if ((l->kind == MATCH_ADDR || l->kind == MATCH_HOST ||
	    l->kind == MATCH_DOMAIN) && len > 1 && value[len - 1] == '.' &&
	    value[len - 2] != '.' && value[len - 2] != '@')
		len--;
	return len;
}

enum match_result
match_find(const struct match_list *l, const char *value)
{
	size_t len;

	assert(l != NULL && l->finished);
	if (value == NULL)
		return MATCH_NO;
	len = value_len(l, value);
	switch (l->kind) {
	case MATCH_CLIENT:
		return client_find(l, value, len) ? MATCH_YES : MATCH_NO;
	case MATCH_ADDR:
		if (addr_find(l, value, len))
			return MATCH_YES;
		break;
	case MATCH_HOST:
	case MATCH_DOMAIN:
		if (name_find(&l->exact, &l->subdom, value, len))
			return MATCH_YES;
		break;
	case MATCH_STRING:
		if (strv_find(&l->exact, value, len))
			return MATCH_YES;
		break;
	}
	return regex_find(l, value, len);
}

size_t
match_list_size(const struct match_list *l)
{
	return l->npatterns;
}

void
match_list_free(struct match_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	strv_free(&l->exact);
	strv_free(&l->subdom);
	strv_free(&l->domain);
	strv_free(&l->local);
	nets_free(l->nets);
	for (i = 0; i < l->rx.n; i++)
		pcre2_code_free(l->rx.re[i].code);
	free(l->rx.re);
	pcre2_match_context_free(l->mctx);
	pcre2_compile_context_free(l->cctx);
	pcre2_general_context_free(l->gctx);
	free(l);
}
