/* redis_cluster.c: a store routed over a Redis Cluster; see redis_cluster.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "mono.h"
#include "redis_cluster.h"
#include "redis_slot.h"
#include "xmalloc.h"

#define REFRESH_MS	500	/* the slot map is read again at most this often */
#define HOPS_MAX	5	/* redirects followed for one call */
#define WHY_MAX		200

struct cnode {
	char host[REDIS_HOST_MAX];
	int port;
	struct store *st;		/* this node's pool, scripts and backoff */
	int down;			/* for notify; under the cluster's lock */
};

struct redis_cluster {
	struct store base;
	struct store_redis_opts ro;	/* for each node: prefix, password, timeout */
	pthread_mutex_t lock;		/* everything below */
	pthread_cond_t refreshed;	/* a refresh under way ended */
	struct cnode *nodes[CLUSTER_NODES_MAX];
	int nnodes;
	short slot[REDIS_SLOTS];	/* index into nodes, -1 unknown */
	uint64_t refreshed_ms;
	int refreshing;
	int down;			/* for notify: no node to ask (no slot map) */
};

/* The node at host:port, added when new; -1 when the table is full.
 * Called with the lock held (a node's store connects lazily: no I/O). */
static int
node_get(struct redis_cluster *c, const char *host, int port)
{
	struct store_redis_opts o = c->ro;
	struct cnode *n;
	int i;

	for (i = 0; i < c->nnodes; i++)
		if (c->nodes[i]->port == port &&
		    strcmp(c->nodes[i]->host, host) == 0)
			return i;
	if (c->nnodes == CLUSTER_NODES_MAX)
		return -1;
	n = xcalloc(1, sizeof *n);
	snprintf(n->host, sizeof n->host, "%s", host);
	n->port = port;
	o.host = n->host;
	o.port = port;
	o.unix_path = NULL;
	o.notify = NULL;	/* the cluster's health is told as one */
	n->st = store_redis_new(&o);
	c->nodes[c->nnodes] = n;
	return c->nnodes++;
}

/* The node serving slot, or NULL. */
static struct cnode *
slot_owner(struct redis_cluster *c, unsigned slot)
{
	struct cnode *n;

	pthread_mutex_lock(&c->lock);
	n = c->slot[slot] >= 0 ? c->nodes[c->slot[slot]] : NULL;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* A node told down that the map no longer gives a slot (its replica took
 * over, or its slots moved) is down no more: the first such node's name
 * into up, for the notice; 0 when there is none.  With the lock held. */
static int
map_retire(struct redis_cluster *c, char *up, size_t upsz)
{
	char owns[CLUSTER_NODES_MAX] = { 0 };
	unsigned s;
	int i, told = 0;

	for (s = 0; s < REDIS_SLOTS; s++)
		if (c->slot[s] >= 0)
			owns[c->slot[s]] = 1;
	for (i = 0; i < c->nnodes; i++) {
		if (!c->nodes[i]->down || owns[i])
			continue;
		c->nodes[i]->down = 0;
		if (!told++)
			snprintf(up, upsz, "node %.64s:%d's slots are served by "
			    "others now", c->nodes[i]->host, c->nodes[i]->port);
	}
	return told;
}

/* A new slot map, as node `asked` told it ("" hosts are its own). */
static void
map_apply(struct redis_cluster *c, const struct cnode *asked,
    const struct redis_slot_range *r, int nr)
{
	char up[WHY_MAX];
	int i, idx, retired;
	unsigned s;

	pthread_mutex_lock(&c->lock);
	for (s = 0; s < REDIS_SLOTS; s++)
		c->slot[s] = -1;
	for (i = 0; i < nr; i++) {
		idx = node_get(c, r[i].host[0] ? r[i].host : asked->host,
		    r[i].port);
		for (s = r[i].first; s <= r[i].last && idx >= 0; s++)
			c->slot[s] = (short)idx;
	}
	retired = map_retire(c, up, sizeof up);
	pthread_mutex_unlock(&c->lock);
	if (retired && c->ro.notify != NULL)
		c->ro.notify(c->ro.notify_arg, 1, up);
}

/* CLUSTER SLOTS from one node: 0 when its map was applied. */
static int
map_read(struct redis_cluster *c, struct cnode *n, char *why, size_t whysz)
{
	const char *argv[2] = { "CLUSTER", "SLOTS" }, *err = NULL;
	redisReply *rep = store_redis_command(n->st, 2, argv, &err);
	struct redis_slot_range *r;
	int nr;

	if (rep == NULL) {
		snprintf(why, whysz, "node %.64s:%d: %s", n->host, n->port,
		    err != NULL ? err : "no answer");
		return -1;
	}
	nr = redis_slot_map_parse(rep, &r, &err);
	freeReplyObject(rep);
	if (nr < 0) {
		snprintf(why, whysz, "node %.64s:%d: %s", n->host, n->port, err);
		return -1;
	}
	map_apply(c, n, r, nr);
	free(r);
	return 0;
}

/* Read the slot map again from any node that answers, unless it was
 * read less than REFRESH_MS ago; when another thread is at it, wait for
 * its map (bounded by its timeouts) rather than fail for want of one. */
static void
map_refresh(struct redis_cluster *c, char *why, size_t whysz)
{
	uint64_t now = mono_ms();
	int i, n;

	pthread_mutex_lock(&c->lock);
	if (c->refreshing) {
		while (c->refreshing)
			pthread_cond_wait(&c->refreshed, &c->lock);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (c->refreshed_ms != 0 && now - c->refreshed_ms < REFRESH_MS) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->refreshing = 1;
	c->refreshed_ms = now;
	n = c->nnodes;		/* nodes are never removed: safe unlocked */
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i < n; i++)
		if (map_read(c, c->nodes[i], why, whysz) == 0)
			break;
	pthread_mutex_lock(&c->lock);
	c->refreshing = 0;
	pthread_cond_broadcast(&c->refreshed);
	pthread_mutex_unlock(&c->lock);
}

/* Up or down, per node (n NULL: the slot map itself), told to notify
 * once per change: with one master down and the others up, decisions
 * alternate between failing and not, and the log must not. */
static void
health(struct redis_cluster *c, struct cnode *n, int ok, const char *why)
{
	int *down = n != NULL ? &n->down : &c->down, changed;
	char up[WHY_MAX];

	pthread_mutex_lock(&c->lock);
	changed = *down == ok;
	*down = !ok;
	pthread_mutex_unlock(&c->lock);
	if (!changed || c->ro.notify == NULL)
		return;
	if (ok && n != NULL)
		snprintf(up, sizeof up, "node %.64s:%d", n->host, n->port);
	c->ro.notify(c->ro.notify_arg, ok, ok ? (n != NULL ? up : NULL) : why);
}

/* Where a redirect points; NULL when it is not one or the table is full. */
static struct cnode *
redirect_node(struct redis_cluster *c, const struct cnode *from,
    const char *redir, enum redis_redirect *kind)
{
	char host[REDIS_HOST_MAX];
	unsigned slot;
	int port, idx;

	*kind = redis_slot_redirect(redir, &slot, host, &port);
	if (*kind == REDIRECT_NONE)
		return NULL;
	pthread_mutex_lock(&c->lock);
	idx = node_get(c, host[0] ? host : from->host, port);
	if (idx >= 0 && *kind == REDIRECT_MOVED)
		c->slot[slot] = (short)idx;
	pthread_mutex_unlock(&c->lock);
	return idx >= 0 ? c->nodes[idx] : NULL;
}

/* The next node after n answered redir (or failed: redir ""); NULL when
 * there is none to try. */
static struct cnode *
next_hop(struct redis_cluster *c, struct cnode *n, unsigned slot,
    const char *redir, int *asking, char *why, size_t whysz)
{
	enum redis_redirect kind;
	struct cnode *to;
	struct timespec pause = { 0, 20 * 1000000 };

	*asking = 0;
	if (redir[0] == '\0') {		/* the node failed: a failover? */
		snprintf(why, whysz, "node %.64s:%d does not answer", n->host,
		    n->port);
		map_refresh(c, why, whysz);
		to = slot_owner(c, slot);
		return to != n ? to : NULL;
	}
	if (strncmp(redir, "TRYAGAIN", 8) == 0) {	/* a slot on the move */
		nanosleep(&pause, NULL);
		return n;
	}
	snprintf(why, whysz, "node %.64s:%d: %.120s", n->host, n->port, redir);
	if ((to = redirect_node(c, n, redir, &kind)) == NULL)
		return NULL;	/* CLUSTERDOWN, or nowhere to go */
	if (kind == REDIRECT_MOVED)
		map_refresh(c, why, whysz);	/* the topology changed */
	*asking = kind == REDIRECT_ASK;
	return to;
}

static enum store_result
cluster_call(struct redis_cluster *c, const struct store_req *req, int give,
    struct store_res *res)
{
	char key[STORE_REDIS_KEY_MAX], redir[WHY_MAX], why[WHY_MAX] = "";
	size_t keylen = store_redis_key(c->ro.prefix, req->id, req->idlen,
	    key, sizeof key);
	unsigned slot = redis_slot_of(key, keylen);
	struct cnode *n = slot_owner(c, slot), *last = NULL;
	int hop, asking = 0;

	if (n == NULL) {
		map_refresh(c, why, sizeof why);
		if ((n = slot_owner(c, slot)) == NULL && why[0] == '\0')
			snprintf(why, sizeof why, "no node serves slot %u "
			    "(state.redis cluster: are the seeds up?)", slot);
	}
	for (hop = 0; n != NULL && hop < HOPS_MAX; hop++) {
		if (store_redis_routed(n->st, req, give, asking, res, redir,
		    sizeof redir) == STORE_OK) {
			health(c, NULL, 1, NULL);
			health(c, n, 1, NULL);
			return STORE_OK;
		}
		last = n;
		n = next_hop(c, n, slot, redir, &asking, why, sizeof why);
	}
	health(c, last, 0, why[0] ? why : "too many redirects");
	return STORE_ERROR;
}

static enum store_result
cluster_take(struct store *s, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	(void)now_ms;		/* the server's clock decides */
	return cluster_call((struct redis_cluster *)s, req, 0, res);
}

static enum store_result
cluster_give(struct store *s, const struct store_req *req, uint64_t now_ms)
{
	(void)now_ms;
	return cluster_call((struct redis_cluster *)s, req, 1, NULL);
}

/* ctl reset: rare, so a failure refreshes the map and tries once more. */
static enum store_result
cluster_reset(struct store *s, const void *id, size_t idlen)
{
	struct redis_cluster *c = (struct redis_cluster *)s;
	char key[STORE_REDIS_KEY_MAX], why[WHY_MAX];
	unsigned slot = redis_slot_of(key, store_redis_key(c->ro.prefix, id,
	    idlen, key, sizeof key));
	struct cnode *n = slot_owner(c, slot);

	if (n != NULL && store_reset(n->st, id, idlen) == STORE_OK)
		return STORE_OK;
	pthread_mutex_lock(&c->lock);
	c->refreshed_ms = 0;
	pthread_mutex_unlock(&c->lock);
	map_refresh(c, why, sizeof why);
	n = slot_owner(c, slot);
	return n != NULL ? store_reset(n->st, id, idlen) : STORE_ERROR;
}

static enum store_result
cluster_save(struct store *s, const char *path, uint64_t now_ms,
    int64_t wall_ms, char *err, size_t errsz)
{
	(void)s;
	(void)path;
	(void)now_ms;
	(void)wall_ms;
	if (errsz > 0)
		err[0] = '\0';
	return STORE_OK;	/* the cluster keeps its own data */
}

static size_t
cluster_count(struct store *s)
{
	(void)s;
	return 0;
}

static void
cluster_free(struct store *s)
{
	struct redis_cluster *c = (struct redis_cluster *)s;
	int i;

	for (i = 0; i < c->nnodes; i++) {
		store_free(c->nodes[i]->st);
		free(c->nodes[i]);
	}
	pthread_cond_destroy(&c->refreshed);
	pthread_mutex_destroy(&c->lock);
	free(c->ro.prefix);
	free(c->ro.password);
	free(c);
}

static const struct store_ops cluster_ops = {
	.take = cluster_take, .give = cluster_give, .reset = cluster_reset,
	.save = cluster_save, .count = cluster_count, .free = cluster_free,
};

/* "HOST:PORT" into host and port; 0 when well formed. */
static int
seed_parse(const char *s, char host[REDIS_HOST_MAX], int *port)
{
	char buf[REDIS_HOST_MAX + 32];
	unsigned slot;

	/* a seed is written as a MOVED target is: reuse that parser */
	snprintf(buf, sizeof buf, "MOVED 0 %s", s);
	return redis_slot_redirect(buf, &slot, host, port) == REDIRECT_MOVED &&
	    host[0] != '\0' ? 0 : -1;
}

struct store *
redis_cluster_new(const char *const *seeds, size_t nseeds,
    const struct store_redis_opts *ro, const char **why)
{
	struct redis_cluster *c = xcalloc(1, sizeof *c);
	char host[REDIS_HOST_MAX];
	size_t i;
	int port;

	c->base.ops = &cluster_ops;
	c->ro = *ro;
	c->ro.prefix = xstrdup(ro->prefix != NULL ? ro->prefix : "");
	c->ro.password = ro->password != NULL ? xstrdup(ro->password) : NULL;
	c->ro.db = 0;		/* a cluster has only database 0 */
	if (c->ro.backoff_max_ms == 0)
		c->ro.backoff_max_ms = 1000;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->refreshed, NULL);
	memset(c->slot, 0xff, sizeof c->slot);	/* all -1 */
	for (i = 0; i < nseeds; i++) {
		if (seed_parse(seeds[i], host, &port) < 0 ||
		    node_get(c, host, port) < 0) {
			*why = "a cluster seed is not HOST:PORT";
			cluster_free(&c->base);
			return NULL;
		}
	}
	return &c->base;
}
