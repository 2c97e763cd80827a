/* redis_sentinel.c: the master of a Sentinel set; see redis_sentinel.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "mono.h"
#include "redis_sentinel.h"
#include "redis_slot.h"
#include "xmalloc.h"

#define ASK_AGAIN_MS	200	/* fresh answers within this are shared */
#define WATCH_MS	1000	/* the watcher asks the sentinels this often */

struct sentinel_addr {
	char host[REDIS_HOST_MAX];
	int port;
};

struct redis_sentinel {
	struct sentinel_addr *sentinels;
	size_t n;
	char *master, *password;
	unsigned long timeout_ms;
	void (*moved)(void *, const char *, const char *);
	void *moved_arg;
	void (*changed)(void *);	/* the store: drop connections to the old master */
	void *changed_arg;
	pthread_mutex_t lock;		/* everything below */
	pthread_cond_t wake;		/* the watcher's sleep; signalled to stop it */
	pthread_t watcher;
	int watching, stop;
	char host[REDIS_HOST_MAX];	/* "" until found */
	int port;
	uint64_t asked_ms;		/* the last time the sentinels answered */
	uint64_t failed_ms;		/* ... and the last time they did not */
	const char *failed_why;		/* what that failure was */
};

/* "HOST:PORT", the port after the last colon; 0 when well formed. */
static int
addr_parse(const char *s, struct sentinel_addr *a)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long p;

	if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof a->host)
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || p < 1 || p > 65535)
		return -1;
	memcpy(a->host, s, (size_t)(colon - s));
	a->host[colon - s] = '\0';
	a->port = (int)p;
	return 0;
}

/* A connection whose answers are read under the store's bound (b lives
 * as long as it). */
static redisContext *
connect_to(const struct redis_sentinel *s, const char *host, int port,
    struct store_redis_budget *b)
{
	struct timeval tv = { .tv_sec = (time_t)(s->timeout_ms / 1000),
	    .tv_usec = (suseconds_t)(s->timeout_ms % 1000) * 1000 };
	redisContext *c = redisConnectWithTimeout(host, port, tv);

	if (c != NULL && !c->err && redisSetTimeout(c, tv) == REDIS_OK) {
		store_redis_reader_bound(c, b);
		return c;
	}
	redisFree(c);
	return NULL;
}

/* One sentinel's answer for the master: 0 and host, port when it knows. */
static int
sentinel_ask(const struct redis_sentinel *s, const struct sentinel_addr *a,
    struct sentinel_addr *out, const char **why)
{
	struct store_redis_budget b;
	redisContext *c = connect_to(s, a->host, a->port, &b);
	redisReply *rep;
	char addr[REDIS_HOST_MAX + 8];
	int ok;

	if (c == NULL) {
		*why = "no sentinel answers";
		return -1;
	}
	rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", s->master);
	ok = rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
	    rep->elements == 2 &&
	    rep->element[0]->type == REDIS_REPLY_STRING &&
	    rep->element[1]->type == REDIS_REPLY_STRING;
	if (ok) {
		snprintf(addr, sizeof addr, "%.*s:%.*s",
		    (int)rep->element[0]->len, rep->element[0]->str,
		    (int)rep->element[1]->len, rep->element[1]->str);
		ok = addr_parse(addr, out) == 0;
	}
	if (!ok)
		*why = rep == NULL ? "no sentinel answers" :
		    rep->type == REDIS_REPLY_NIL ? "the sentinels do not know "
		    "that master name (state.redis master)" :
		    "a sentinel gave an unexpected answer";
	freeReplyObject(rep);
	redisFree(c);
	return ok ? 0 : -1;
}

/* ROLE on the server: 0 when it says it is a master. */
static int
role_is_master(const struct redis_sentinel *s, const struct sentinel_addr *a,
    const char **why)
{
	struct store_redis_budget b;
	redisContext *c = connect_to(s, a->host, a->port, &b);
	redisReply *rep = NULL;
	int ok = 0;

	if (c != NULL && s->password != NULL && s->password[0] != '\0') {
		rep = redisCommand(c, "AUTH %s", s->password);
		ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;
		freeReplyObject(rep);
		if (!ok) {
			redisFree(c);
			*why = "the master refused AUTH: check state.redis password";
			return -1;
		}
	}
	if (c != NULL)
		rep = redisCommand(c, "ROLE");
	ok = rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
	    rep->elements > 0 && rep->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(rep->element[0]->str, "master") == 0;
	if (!ok)
		*why = rep == NULL ? "the master the sentinels name does not "
		    "answer (failover under way?)" : "the server the sentinels "
		    "name is not a master by ROLE (failover under way?)";
	freeReplyObject(rep);
	redisFree(c);
	return ok ? 0 : -1;
}

/* Ask each sentinel in turn until one names a confirmed master. */
static int
discover(const struct redis_sentinel *s, struct sentinel_addr *m,
    const char **why)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (sentinel_ask(s, &s->sentinels[i], m, why) == 0 &&
		    role_is_master(s, m, why) == 0)
			return 0;
	return -1;
}

/* m is the master now: tell the moved callback (after the lock) when
 * that is news.  Called with the lock held; 1 when it changed, with the
 * new and old addresses in now and old. */
static int
master_set(struct redis_sentinel *s, const struct sentinel_addr *m,
    char *now, char *old, size_t sz)
{
	int changed = strcmp(m->host, s->host) != 0 || m->port != s->port;

	s->asked_ms = mono_ms();
	if (s->host[0] != '\0')
		snprintf(old, sz, "%s:%d", s->host, s->port);
	else
		old[0] = '\0';
	memcpy(s->host, m->host, sizeof s->host);
	s->port = m->port;
	snprintf(now, sz, "%s:%d", s->host, s->port);
	return changed;
}

/* After the lock: log the new address, drop connections to the old one. */
static void
master_told(struct redis_sentinel *s, const char *now, const char *old)
{
	if (s->moved != NULL)
		s->moved(s->moved_arg, now, old);
	if (old[0] != '\0' && s->changed != NULL)
		s->changed(s->changed_arg);
}

/* A thread that asks the sentinels every WATCH_MS, so a failover that
 * leaves the old master answering (SENTINEL FAILOVER, until the sentinels
 * demote it) is followed within a second, as +switch-master would be. */
static void *
watch(void *arg)
{
	struct redis_sentinel *s = arg;
	char now[REDIS_HOST_MAX + 8], old[REDIS_HOST_MAX + 8];
	struct sentinel_addr m;
	struct timespec until;
	const char *why;
	int changed, found;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += WATCH_MS / 1000;
		pthread_cond_timedwait(&s->wake, &s->lock, &until);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->lock);
		found = discover(s, &m, &why) == 0;	/* no lock during I/O */
		pthread_mutex_lock(&s->lock);
		changed = found && master_set(s, &m, now, old, sizeof now);
		if (changed) {
			pthread_mutex_unlock(&s->lock);
			master_told(s, now, old);
			pthread_mutex_lock(&s->lock);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int
redis_sentinel_locate(void *arg, int fresh, char *host, size_t hostsz,
    int *port, const char **why)
{
	struct redis_sentinel *s = arg;
	struct sentinel_addr m;
	char now[REDIS_HOST_MAX + 8], old[REDIS_HOST_MAX + 8];
	int changed = 0, rc = 0;

	pthread_mutex_lock(&s->lock);
	if (!s->watching)	/* here, not at start: after any fork */
		s->watching = pthread_create(&s->watcher, NULL, watch, s) == 0;
	if (s->host[0] == '\0' || (fresh && mono_ms() - s->asked_ms >
	    ASK_AGAIN_MS)) {
		if (s->failed_ms != 0 && mono_ms() - s->failed_ms <= ASK_AGAIN_MS) {
			rc = -1;	/* the threads that waited share the failure */
			*why = s->failed_why;
		} else if ((rc = discover(s, &m, why)) == 0)
			changed = master_set(s, &m, now, old, sizeof now);
		else {
			s->failed_ms = mono_ms();
			s->failed_why = *why;
		}
	}
	if (rc == 0) {
		snprintf(host, hostsz, "%s", s->host);
		*port = s->port;
	}
	pthread_mutex_unlock(&s->lock);
	if (changed)
		master_told(s, now, old);
	return rc;
}

struct redis_sentinel *
redis_sentinel_new(const struct redis_sentinel_opts *o, const char **why)
{
	struct redis_sentinel *s = xcalloc(1, sizeof *s);
	size_t i;

	s->sentinels = xcalloc(o->nsentinels ? o->nsentinels : 1,
	    sizeof *s->sentinels);
	for (i = 0; i < o->nsentinels; i++)
		if (addr_parse(o->sentinels[i], &s->sentinels[i]) < 0) {
			free(s->sentinels);
			free(s);
			*why = "a sentinel address is not HOST:PORT";
			return NULL;
		}
	s->n = o->nsentinels;
	s->master = xstrdup(o->master != NULL ? o->master : "");
	s->password = o->password != NULL ? xstrdup(o->password) : NULL;
	s->timeout_ms = o->timeout_ms ? o->timeout_ms : STORE_REDIS_TIMEOUT_MS;
	s->moved = o->moved;
	s->moved_arg = o->moved_arg;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	return s;
}

void
redis_sentinel_free(struct redis_sentinel *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (s->watching)
		pthread_join(s->watcher, NULL);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->sentinels);
	free(s->master);
	free(s->password);
	free(s);
}

/* ---- a store that owns its locator ---- */

struct sentinel_store {
	struct store base;
	struct store *inner;
	struct redis_sentinel *loc;
};

static enum store_result
ss_take(struct store *s, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	return store_take(((struct sentinel_store *)s)->inner, req, now_ms, res);
}

static size_t
ss_take_seq(struct store *s, const struct store_req *reqs, size_t n,
    uint64_t now_ms, struct store_res *res, enum store_result *rc)
{
	return store_take_seq(((struct sentinel_store *)s)->inner, reqs, n,
	    now_ms, res, rc);
}

static enum store_result
ss_give(struct store *s, const struct store_req *req, uint64_t now_ms)
{
	return store_give(((struct sentinel_store *)s)->inner, req, now_ms);
}

static enum store_result
ss_reset(struct store *s, const void *id, size_t idlen)
{
	return store_reset(((struct sentinel_store *)s)->inner, id, idlen);
}

static enum store_result
ss_save(struct store *s, const char *path, uint64_t now_ms, int64_t wall_ms,
    char *err, size_t errsz)
{
	return store_save(((struct sentinel_store *)s)->inner, path, now_ms,
	    wall_ms, err, errsz);
}

static size_t
ss_count(struct store *s)
{
	return store_count(((struct sentinel_store *)s)->inner);
}

static void
ss_free(struct store *s)
{
	struct sentinel_store *ss = (struct sentinel_store *)s;

	redis_sentinel_free(ss->loc);	/* first: its watcher drops inner's pool */
	store_free(ss->inner);
	free(ss);
}

static const struct store_ops sentinel_ops = {
	.take = ss_take, .give = ss_give, .reset = ss_reset, .save = ss_save,
	.count = ss_count, .free = ss_free, .take_seq = ss_take_seq,
};

static void
inner_drop(void *inner)
{
	store_redis_drop(inner);
}

struct store *
redis_sentinel_store(const struct redis_sentinel_opts *o,
    const struct store_redis_opts *ro, const char **why)
{
	struct sentinel_store *ss;
	struct store_redis_opts r = *ro;
	struct redis_sentinel *loc = redis_sentinel_new(o, why);

	if (loc == NULL)
		return NULL;
	ss = xcalloc(1, sizeof *ss);
	ss->base.ops = &sentinel_ops;
	ss->loc = loc;
	r.host = NULL;
	r.unix_path = NULL;
	r.locate = redis_sentinel_locate;
	r.locate_arg = loc;
	if (r.backoff_max_ms == 0)	/* find a new master within a second */
		r.backoff_max_ms = 1000;
	ss->inner = store_redis_new(&r);
	loc->changed = inner_drop;
	loc->changed_arg = ss->inner;
	return &ss->base;
}
