/*
 * dns.c: the DNS list resolver: a cache of answers by query name, a
 * queue of names to ask, and the thread that runs c-ares.  See dns.h.
 *
 * Locking: one mutex (dns.lock) guards the cache, the queue, the
 * configuration and the outage table.  It is never held while c-ares
 * runs, while a thread waits (pthread_cond_timedwait releases it), or
 * while logging.  An entry with a lookup under way, queued, or with a
 * waiter is never evicted, so the pointers c-ares holds stay valid.
 */
#include <arpa/nameser.h>
#include <ares.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "log.h"
#include "session.h"
#include "xmalloc.h"

#define DNS_BUCKETS	65536	/* power of two */
#define DNS_TTL_MIN_S	10
#define DNS_TTL_MAX_S	86400
#define DNS_NEG_TTL_S	60	/* NXDOMAIN without a usable SOA */
#define DNS_MARGIN_MS	250	/* a waiter gives c-ares this long to report */
#define DNS_ZONES_MAX	64	/* lists whose outages are tracked */
#define DNS_SERVERS_MAX	1024

enum dns_state { DNS_NONE, DNS_PENDING, DNS_DONE };

struct dns_entry;

/* What a c-ares callback gets: the entry and which record it asked. */
struct dns_q {
	struct dns_entry *e;
	int txt;
};

struct dns_entry {
	char qname[DNSL_NAME_MAX];
	char zone[DNSL_NAME_MAX];
	struct dns_entry *hnext;	/* hash chain */
	struct dns_entry *older, *newer;	/* insertion order */
	struct dns_entry *qnext;	/* the submission queue */
	int queued;			/* bits: 1 A, 2 TXT waiting to be sent */
	enum dns_state a, txt;
	struct dns_q qa, qt;
	struct dnsl_answer ans;
	uint64_t started_ms, expires_ms;	/* the A lookup's */
	uint64_t txt_started_ms;
	int waiters;
};

struct dns_zone {
	char zone[DNSL_NAME_MAX];
	int down;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t done;
	pthread_t thread;
	int started;
	int pipe[2];
	struct dnsl_resolver res;
	unsigned char key[crypto_shorthash_KEYBYTES];
	struct dns_entry **bucket;
	struct dns_entry *oldest, *newest;
	unsigned long n, max;
	struct dns_entry *qhead, *qtail;
	char servers[DNS_SERVERS_MAX];	/* "" : /etc/resolv.conf */
	unsigned long timeout_ms;
	unsigned gen;			/* configuration changes */
	struct dns_zone zones[DNS_ZONES_MAX];
	int nzones;
} dns = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- the cache (dns.lock held) ---- */

static size_t
dns_hash(const char *qname)
{
	unsigned char h[crypto_shorthash_BYTES];
	size_t v;

	crypto_shorthash(h, (const unsigned char *)qname, strlen(qname),
	    dns.key);
	memcpy(&v, h, sizeof v);
	return v & (DNS_BUCKETS - 1);
}

static struct dns_entry *
cache_get(const char *qname)
{
	struct dns_entry *e;

	for (e = dns.bucket[dns_hash(qname)]; e != NULL; e = e->hnext)
		if (strcmp(e->qname, qname) == 0)
			return e;
	return NULL;
}

static int
entry_busy(const struct dns_entry *e)
{
	return e->a == DNS_PENDING || e->txt == DNS_PENDING || e->queued ||
	    e->waiters > 0;
}

static void
cache_unlink(struct dns_entry *e)
{
	struct dns_entry **pp = &dns.bucket[dns_hash(e->qname)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		dns.oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		dns.newest = e->older;
	dns.n--;
	free(e);
}

/* Make room: the oldest finished answers go first. */
static void
cache_trim(void)
{
	struct dns_entry *e = dns.oldest, *next;
	int tries = 16;

	while (dns.n >= dns.max && e != NULL && tries-- > 0) {
		next = e->newer;
		if (!entry_busy(e))
			cache_unlink(e);
		e = next;
	}
}

static struct dns_entry *
cache_add(const char *zone, const char *qname)
{
	struct dns_entry *e = xcalloc(1, sizeof *e);
	size_t h = dns_hash(qname);

	cache_trim();
	snprintf(e->qname, sizeof e->qname, "%s", qname);
	snprintf(e->zone, sizeof e->zone, "%s", zone);
	e->qa.e = e->qt.e = e;
	e->qt.txt = 1;
	e->hnext = dns.bucket[h];
	dns.bucket[h] = e;
	e->older = dns.newest;
	if (dns.newest != NULL)
		dns.newest->newer = e;
	else
		dns.oldest = e;
	dns.newest = e;
	dns.n++;
	return e;
}

/* Queue the lookups of e that are needed and not under way. */
static void
entry_submit(struct dns_entry *e, int txt, uint64_t now)
{
	int bits = 0;

	if (e->a != DNS_PENDING && (e->a == DNS_NONE || now >= e->expires_ms)) {
		memset(&e->ans, 0, sizeof e->ans);
		e->a = DNS_PENDING;
		e->txt = DNS_NONE;
		e->started_ms = now;
		bits |= 1;
	}
	if (txt && e->txt == DNS_NONE) {
		e->txt = DNS_PENDING;
		e->txt_started_ms = now;
		bits |= 2;
	}
	if (bits == 0)
		return;
	if (e->queued == 0) {
		e->qnext = NULL;
		if (dns.qtail != NULL)
			dns.qtail->qnext = e;
		else
			dns.qhead = e;
		dns.qtail = e;
	}
	e->queued |= bits;
	if (write(dns.pipe[1], "", 1) < 0 && errno != EAGAIN)
		log_msg(LOG_WARNING, "dns: cannot wake the resolver: %m");
}

static int zone_note(const char *zone, int unknown);
static void zone_log(int change, const char *zone, const char *why);

/* ---- answers (the resolver thread, from c-ares) ---- */

static unsigned
ttl_clamp(long ttl)
{
	return ttl < DNS_TTL_MIN_S ? DNS_TTL_MIN_S :
	    ttl > DNS_TTL_MAX_S ? DNS_TTL_MAX_S : (unsigned)ttl;
}

/* NXDOMAIN: cached for the zone's negative TTL when the SOA is there. */
static unsigned
negative_ttl(const unsigned char *abuf, int alen)
{
	struct ares_soa_reply *soa = NULL;
	unsigned ttl = DNS_NEG_TTL_S;

	if (abuf != NULL && ares_parse_soa_reply(abuf, alen, &soa) == ARES_SUCCESS) {
		ttl = ttl_clamp((long)soa->minttl);
		ares_free_data(soa);
	}
	return ttl;
}

/* Fill e from an A answer; returns what changed for e's list (zone_note). */
static int
answer_a(struct dns_entry *e, int status, const unsigned char *abuf, int alen)
{
	struct ares_addrttl at[DNSL_ADDRS_MAX];
	int i, n = DNSL_ADDRS_MAX;
	long ttl = DNS_TTL_MAX_S;
	uint64_t now = sess_now_ms();

	if (status == ARES_SUCCESS &&
	    ares_parse_a_reply(abuf, alen, NULL, at, &n) == ARES_SUCCESS &&
	    n > 0) {
		for (i = 0; i < n; i++) {
			e->ans.addrs[i] = ntohl(at[i].ipaddr.s_addr);
			if (at[i].ttl < ttl)
				ttl = at[i].ttl;
		}
		e->ans.naddrs = n;
		e->ans.status = DNSL_LISTED;
		e->expires_ms = now + 1000ull * ttl_clamp(ttl);
	} else if (status == ARES_ENOTFOUND || status == ARES_ENODATA ||
	    status == ARES_SUCCESS) {
		e->ans.status = DNSL_NOT_LISTED;
		e->expires_ms = now + 1000ull * negative_ttl(abuf, alen);
	} else {
		e->ans.status = DNSL_UNKNOWN;
		e->expires_ms = now;	/* ask again next time */
	}
	e->a = DNS_DONE;
	return zone_note(e->zone, e->ans.status == DNSL_UNKNOWN);
}

/* The first TXT record's strings, joined, cut to fit. */
static void
answer_txt(struct dns_entry *e, int status, const unsigned char *abuf,
    int alen)
{
	struct ares_txt_ext *t = NULL, *p;
	size_t len = 0, k;

	e->txt = DNS_DONE;
	if (status != ARES_SUCCESS ||
	    ares_parse_txt_reply_ext(abuf, alen, &t) != ARES_SUCCESS)
		return;
	for (p = t; p != NULL; p = p->next) {
		if (p != t && p->record_start)
			break;
		k = p->length < sizeof e->ans.text - 1 - len ? p->length :
		    sizeof e->ans.text - 1 - len;
		memcpy(e->ans.text + len, p->txt, k);
		len += k;
	}
	e->ans.text[len] = '\0';
	ares_free_data(t);
}

static void
dns_callback(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct dns_q *q = arg;
	char zone[DNSL_NAME_MAX];
	int change = 0;

	(void)timeouts;
	pthread_mutex_lock(&dns.lock);
	if (q->txt)
		answer_txt(q->e, status, abuf, alen);
	else
		change = answer_a(q->e, status, abuf, alen);
	memcpy(zone, q->e->zone, sizeof zone);
	pthread_cond_broadcast(&dns.done);
	pthread_mutex_unlock(&dns.lock);
	zone_log(change, zone, ares_strerror(status));
}

/* ---- the resolver thread ---- */

static ares_channel
channel_new(const char *servers, unsigned long timeout_ms)
{
	struct ares_options o;
	ares_channel ch;
	int rc;

	memset(&o, 0, sizeof o);
	o.timeout = (int)timeout_ms;
	o.tries = 1;
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	rc = ares_init_options(&ch, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	    ARES_OPT_FLAGS);
	if (rc != ARES_SUCCESS) {
		log_msg(LOG_ERR, "dns: cannot start c-ares: %s; DNS lists are "
		    "unknown", ares_strerror(rc));
		return NULL;
	}
	if (servers[0] != '\0' &&
	    (rc = ares_set_servers_ports_csv(ch, servers)) != ARES_SUCCESS)
		log_msg(LOG_ERR, "dns: servers \"%s\": %s", servers,
		    ares_strerror(rc));
	return ch;
}

/* Take the queue and the configuration; send the queued lookups. */
static void
thread_submit(ares_channel *ch, unsigned *gen)
{
	char servers[DNS_SERVERS_MAX];
	struct dns_entry *q, *next;
	unsigned long timeout;
	int reconf;

	pthread_mutex_lock(&dns.lock);
	q = dns.qhead;
	dns.qhead = dns.qtail = NULL;
	reconf = *gen != dns.gen;
	*gen = dns.gen;
	snprintf(servers, sizeof servers, "%s", dns.servers);
	timeout = dns.timeout_ms;
	pthread_mutex_unlock(&dns.lock);
	if (reconf) {
		if (*ch != NULL)
			ares_destroy(*ch);	/* lookups under way: unknown */
		*ch = channel_new(servers, timeout);
	}
	for (; q != NULL; q = next) {
		int bits;

		pthread_mutex_lock(&dns.lock);
		next = q->qnext;
		bits = q->queued;
		q->queued = 0;
		pthread_mutex_unlock(&dns.lock);
		if (*ch == NULL) {
			if (bits & 1)
				dns_callback(&q->qa, ARES_ENOTINITIALIZED, 0, NULL, 0);
			if (bits & 2)
				dns_callback(&q->qt, ARES_ENOTINITIALIZED, 0, NULL, 0);
			continue;
		}
		if (bits & 1)
			ares_query(*ch, q->qname, ns_c_in, ns_t_a, dns_callback, &q->qa);
		if (bits & 2)
			ares_query(*ch, q->qname, ns_c_in, ns_t_txt, dns_callback,
			    &q->qt);
	}
}

/* Wait for the channel's sockets, the wake-up pipe, or a timeout. */
static void
thread_poll(ares_channel ch)
{
	struct pollfd pfd[ARES_GETSOCK_MAXNUM + 1];
	ares_socket_t socks[ARES_GETSOCK_MAXNUM];
	struct timeval tv, max = { 1, 0 }, *t = &max;
	/* bits as unsigned: c-ares' ARES_GETSOCK_WRITABLE shifts an int
	 * into its sign bit for the last socket */
	unsigned bits = ch ? (unsigned)ares_getsock(ch, socks,
	    ARES_GETSOCK_MAXNUM) : 0, rd, wr;
	int i, n = 1;
	char buf[64];

	pfd[0].fd = dns.pipe[0];
	pfd[0].events = POLLIN;
	for (i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
		rd = (bits >> i) & 1u;
		wr = (bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u;
		if (!rd && !wr)
			continue;
		pfd[n].fd = socks[i];
		pfd[n].events = (short)((rd ? POLLIN : 0) | (wr ? POLLOUT : 0));
		n++;
	}
	if (ch != NULL)
		t = ares_timeout(ch, &max, &tv);
	if (poll(pfd, (nfds_t)n, (int)(t->tv_sec * 1000 + t->tv_usec / 1000)) < 0)
		return;
	if (pfd[0].revents & POLLIN)
		while (read(dns.pipe[0], buf, sizeof buf) > 0)
			;
	for (i = 1; ch != NULL && i < n; i++)
		ares_process_fd(ch, pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ?
		    pfd[i].fd : ARES_SOCKET_BAD,
		    pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD);
	if (ch != NULL)
		ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);	/* timeouts */
}

static void *
dns_main(void *arg)
{
	ares_channel ch = NULL;
	unsigned gen = ~0u;	/* not configured yet */

	(void)arg;
	for (;;) {
		thread_submit(&ch, &gen);
		thread_poll(ch);
	}
	return NULL;
}

/* ---- outages: logged once per list (dns.lock held; log after) ----
 * Only fresh news counts: an answer from the server (the callback) or a
 * waiter's timeout, never a cached answer, so an outage with answers
 * still in the cache is logged once, not at every cache hit. */

static struct dns_zone *
zone_get(const char *zone)
{
	int i;

	for (i = 0; i < dns.nzones; i++)
		if (strcmp(dns.zones[i].zone, zone) == 0)
			return &dns.zones[i];
	if (dns.nzones == DNS_ZONES_MAX)
		return NULL;
	snprintf(dns.zones[dns.nzones].zone, DNSL_NAME_MAX, "%s", zone);
	return &dns.zones[dns.nzones++];
}

/* 1: log that zone went down, -1: that it is back, 0: nothing new. */
static int
zone_note(const char *zone, int unknown)
{
	struct dns_zone *z = zone_get(zone);

	if (z == NULL || z->down == unknown)
		return 0;
	z->down = unknown;
	return unknown ? 1 : -1;
}

static void
zone_log(int change, const char *zone, const char *why)
{
	if (change > 0)
		log_msg(LOG_WARNING, "dns: list %s does not answer (%s): its "
		    "conditions are unknown, and match nothing unless "
		    "dns.on_error = \"tempfail\", until it answers again",
		    zone, why);
	else if (change < 0)
		log_msg(LOG_NOTICE, "dns: list %s answers again", zone);
}

/* ---- the engine's side (any connection thread) ---- */

static void
dns_start(void *arg, const char *zone, const char *qname, int txt)
{
	struct dns_entry *e;

	(void)arg;
	pthread_mutex_lock(&dns.lock);
	if ((e = cache_get(qname)) == NULL)
		e = cache_add(zone, qname);
	entry_submit(e, txt, sess_now_ms());
	pthread_mutex_unlock(&dns.lock);
}

/* Is e still being looked up, as far as this question needs? */
static int
entry_waiting(const struct dns_entry *e, int txt)
{
	return e->a == DNS_PENDING || (txt && e->txt == DNS_PENDING &&
	    e->ans.status == DNSL_LISTED);
}

/* When a waiter on e gives up: a timeout and a margin after the later
 * of the lookups it waits for was sent (a TXT asked of a cached A starts
 * late). */
static uint64_t
entry_deadline(const struct dns_entry *e, int txt)
{
	uint64_t start = e->started_ms;

	if (txt && e->txt == DNS_PENDING && e->txt_started_ms > start)
		start = e->txt_started_ms;
	return start + dns.timeout_ms + DNS_MARGIN_MS;
}

static void
wait_until(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	pthread_cond_timedwait(&dns.done, &dns.lock, &ts);
}

static void
dns_find(void *arg, const char *zone, const char *qname, int txt,
    struct dnsl_answer *out)
{
	struct dns_entry *e;
	uint64_t deadline;
	int change;

	(void)arg;
	pthread_mutex_lock(&dns.lock);
	if ((e = cache_get(qname)) == NULL)
		e = cache_add(zone, qname);
	entry_submit(e, txt, sess_now_ms());
	deadline = entry_deadline(e, txt);
	e->waiters++;
	while (entry_waiting(e, txt) && sess_now_ms() < deadline)
		wait_until(deadline);
	e->waiters--;
	*out = e->ans;
	change = 0;
	if (e->a != DNS_DONE) {		/* c-ares still waits: we do not */
		out->status = DNSL_UNKNOWN;
		change = zone_note(zone, 1);
	}
	pthread_mutex_unlock(&dns.lock);
	zone_log(change, zone, "no answer within the timeout");
}

/* Start the resolver thread (dns.lock held).  What is made once stays
 * made, so a failed start (no file descriptor left) can be tried again at
 * the next session without leaking. */
static int
dns_thread_start(void)
{
	pthread_condattr_t ca;
	int rc;

	if (dns.bucket == NULL) {
		if (sodium_init() < 0)
			return -1;
		randombytes_buf(dns.key, sizeof dns.key);
		dns.bucket = xcalloc(DNS_BUCKETS, sizeof *dns.bucket);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&dns.done, &ca);
		pthread_condattr_destroy(&ca);
		ares_library_init(ARES_LIB_INIT_ALL);
		dns.res.start = dns_start;
		dns.res.find = dns_find;
	}
	if (pipe2(dns.pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	if ((rc = pthread_create(&dns.thread, NULL, dns_main, NULL)) != 0) {
		close(dns.pipe[0]);
		close(dns.pipe[1]);
		errno = rc;
		return -1;
	}
	dns.started = 1;
	return 0;
}

/* Take the settings (dns.lock held); 1 if the thread could not be woken. */
static int
dns_configure(const struct pol_dns *d, const char *servers)
{
	if (strcmp(dns.servers, servers) != 0 ||
	    dns.timeout_ms != d->timeout_ms) {
		snprintf(dns.servers, sizeof dns.servers, "%s", servers);
		dns.timeout_ms = d->timeout_ms;
		dns.gen++;
		if (write(dns.pipe[1], "", 1) < 0 && errno != EAGAIN)
			return 1;
	}
	dns.max = d->cache_size;
	return 0;
}

const struct dnsl_resolver *
dns_resolver(const struct pol_settings *settings)
{
	const struct pol_dns *d = &settings->dns;
	const char *servers = d->servers ? d->servers : "";
	const struct dnsl_resolver *r = NULL;
	int failed = 0, unwoken = 0, err = 0;

	pthread_mutex_lock(&dns.lock);	/* no logging under it: see above */
	if (!dns.started && dns_thread_start() < 0) {
		failed = 1;
		err = errno;
	}
	if (dns.started) {
		unwoken = dns_configure(d, servers);
		r = &dns.res;
	}
	pthread_mutex_unlock(&dns.lock);
	if (failed) {
		errno = err;
		log_msg(LOG_ERR, "dns: cannot start the resolver: %m; DNS "
		    "lists are unknown");
	}
	if (unwoken)
		log_msg(LOG_WARNING, "dns: cannot wake the resolver");
	return r;
}
