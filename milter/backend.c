/* backend.c: the Redis store from state.redis; see backend.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "backend.h"
#include "log.h"
#include "redis_cluster.h"
#include "redis_sentinel.h"
#include "store_timed.h"
#include "xmalloc.h"

/* What the log calls the store: "HOST:PORT", "sentinel master NAME" or
 * "cluster"; set once, before the store is made. */
static char redis_what[300];

static void
redis_health(void *arg, int up, const char *why)
{
	const struct pol_redis *r = arg;

	if (up)
		log_msg(LOG_NOTICE, "state: redis %s answers again%s%s%s; "
		    "counters are shared again", redis_what, why ? " (" : "",
		    why ? why : "", why ? ")" : "");
	else
		log_msg(LOG_ERR, "state: redis %s is unavailable (%s); %s until "
		    "it answers", redis_what, why ? why : "no reason given",
		    r->local ? "counting in this milter's memory (on_error "
		    "local)" : "state.on_error applies");
}

/* The first line of path, without its newline; NULL if unreadable. */
static char *
password_read(const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		log_msg(LOG_ERR, "state: cannot read redis password_file %s: %s",
		    path, strerror(errno));
		return NULL;
	}
	n = getline(&line, &cap, fp);
	fclose(fp);
	if (n < 0) {
		free(line);
		return xstrdup("");
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/* Split "HOST:PORT" or "unix:PATH" (checked at load) into o. */
static void
server_split(const char *server, struct store_redis_opts *o)
{
	const char *colon = strrchr(server, ':');

	if (strncmp(server, "unix:", 5) == 0) {
		o->unix_path = xstrdup(server + 5);
		return;
	}
	o->host = xstrdup(server);
	o->host[colon - server] = '\0';
	o->port = atoi(colon + 1);
}

/* Sentinel: a new master address, once per change. */
static void
redis_moved(void *arg, const char *addr, const char *old)
{
	(void)arg;
	if (old[0] == '\0')
		log_msg(LOG_INFO, "state: redis %s is at %s", redis_what, addr);
	else
		log_msg(LOG_NOTICE, "state: redis %s is now at %s (was %s): a "
		    "failover", redis_what, addr, old);
}

static size_t
strv_len(const char **v)
{
	size_t n = 0;

	while (v[n] != NULL)
		n++;
	return n;
}

/* The store on one server, a Sentinel set's master, or a Cluster. */
static struct store *
redis_store(const struct pol_redis *r, struct store_redis_opts *o)
{
	struct redis_sentinel_opts so = { .master = r->master,
	    .password = o->password, .timeout_ms = o->timeout_ms,
	    .moved = redis_moved };
	const char *why = "?";
	struct store *st;

	if (r->cluster != NULL) {
		snprintf(redis_what, sizeof redis_what, "cluster (seeds %s%s)",
		    r->cluster[0], r->cluster[1] != NULL ? ", ..." : "");
		st = redis_cluster_new(r->cluster, strv_len(r->cluster), o, &why);
	} else if (r->sentinels != NULL) {
		snprintf(redis_what, sizeof redis_what, "sentinel master %s",
		    r->master);
		so.sentinels = r->sentinels;
		so.nsentinels = strv_len(r->sentinels);
		st = redis_sentinel_store(&so, o, &why);
	} else {
		snprintf(redis_what, sizeof redis_what, "%s", r->server);
		server_split(r->server, o);
		return store_redis_new(o);
	}
	if (st == NULL)
		log_msg(LOG_ERR, "state: redis %s: %s", redis_what, why);
	return st;
}

struct store *
backend_redis(const struct pol_settings *ps)
{
	const struct pol_redis *r = &ps->redis;
	struct store_redis_opts o = { .prefix = (char *)r->prefix, .db = r->db,
	    .timeout_ms = r->timeout_ms, .notify = redis_health,
	    .notify_arg = (void *)r };
	struct store *st;

	if (r->password_file != NULL &&
	    (o.password = password_read(r->password_file)) == NULL)
		return NULL;
	if (r->password != NULL)
		o.password = xstrdup(r->password);
	/* timed inside the fallback: a Redis failure answered from memory
	 * still counts as a store error in the stats line */
	if ((st = redis_store(r, &o)) != NULL)
		st = store_timed_new(st);
	if (st != NULL && r->local)
		st = store_fallback_new(st, store_memory_new(ps->max_keys));
	free(o.password);
	free(o.host);
	free(o.unix_path);
	return st;
}
