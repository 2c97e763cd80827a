/* backend.c: the Redis store from state.redis; see backend.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "backend.h"
#include "log.h"
#include "store_timed.h"
#include "xmalloc.h"

static void
redis_health(void *arg, int up, const char *why)
{
	const struct pol_redis *r = arg;

	if (up)
		log_msg(LOG_NOTICE, "state: redis %s answers again; counters "
		    "are shared again", r->server);
	else
		log_msg(LOG_ERR, "state: redis %s is unavailable (%s); %s until "
		    "it answers", r->server, why ? why : "no reason given",
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
	server_split(r->server, &o);
	/* timed inside the fallback: a Redis failure answered from memory
	 * still counts as a store error in the stats line */
	st = store_timed_new(store_redis_new(&o));
	if (r->local)
		st = store_fallback_new(st, store_memory_new(ps->max_keys));
	free(o.password);
	free(o.host);
	free(o.unix_path);
	return st;
}
