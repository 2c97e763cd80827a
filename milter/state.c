/* state.c: the daemon's counter store and its snapshots; see state.h. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "backend.h"
#include "log.h"
#include "session.h"
#include "state.h"
#include "store_timed.h"
#include "xmalloc.h"

/* How long a stop waits for the decisions under way (a Redis timeout is
 * at most 5 s). */
#define STATE_DRAIN_MS	10000

static struct store *store;
static atomic_int calls;		/* store calls under way through gate */
static char *state_file;		/* NULL: no persistence */
static unsigned long save_interval_s;
static pthread_t saver;
static int saver_running;
static int saver_stop;
static pthread_mutex_t saver_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t saver_wake = PTHREAD_COND_INITIALIZER;

/* 0, or -1 when the milter must not start (logged). */
static int
state_load(void)
{
	char err[1024], aside[4096];

	switch (store_memory_load(store, state_file, sess_now_ms(),
	    sess_wall_ms(), err, sizeof err)) {
	case STORE_LOAD_OK:
		log_msg(LOG_INFO, "state: loaded %zu counters from %s",
		    store_count(store), state_file);
		break;
	case STORE_LOAD_MISSING:
		log_msg(LOG_INFO, "state: no state file %s yet; starting empty",
		    state_file);
		break;
	case STORE_LOAD_CORRUPT:
		snprintf(aside, sizeof aside, "%s.bad", state_file);
		if (rename(state_file, aside) < 0)
			snprintf(aside, sizeof aside, "(not moved: %s)", strerror(errno));
		log_msg(LOG_WARNING, "state: %s is unusable (%s); starting empty, "
		    "the file is kept as %s", state_file, err, aside);
		break;
	case STORE_LOAD_UNSAFE:
		log_msg(LOG_ERR, "state: refusing %s: %s", state_file, err);
		return -1;
	}
	return 0;
}

static void gate_fit(void);

/* 0, or -1 when the store cannot be made (logged). */
int
state_open(const struct pol_settings *ps)
{
	if (ps->backend == POL_BACKEND_REDIS) {
		/* The server keeps the counters: no state file. */
		store = backend_redis(ps);	/* timed there */
		gate_fit();
		if (store != NULL)
			log_msg(LOG_INFO, "state: counters on redis %s, keys "
			    "prefixed %s", ps->redis.server ? ps->redis.server :
			    ps->redis.master ? ps->redis.master : "cluster",
			    ps->redis.prefix);
		return store != NULL ? 0 : -1;
	}
	store = store_memory_new(ps->max_keys);
	save_interval_s = ps->save_interval_s;
	if (ps->state_file != NULL && ps->state_file[0] != '\0') {
		state_file = xstrdup(ps->state_file);
		if (state_load() < 0) {
			store_free(store);
			store = NULL;
			free(state_file);
			state_file = NULL;
			return -1;
		}
	}
	store = store_timed_new(store);	/* loaded as the memory store it wraps */
	return 0;
}

/* ---- the gate: the store as sessions see it, counting the calls under
 * way so that a stop can wait for them (state_drain) ---- */

static enum store_result
gate_take(struct store *g, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	enum store_result r;

	(void)g;
	atomic_fetch_add(&calls, 1);
	r = store_take(store, req, now_ms, res);
	atomic_fetch_sub(&calls, 1);
	return r;
}

static size_t
gate_take_seq(struct store *g, const struct store_req *reqs, size_t n,
    uint64_t now_ms, struct store_res *res, enum store_result *rc)
{
	size_t k;

	(void)g;
	atomic_fetch_add(&calls, 1);
	k = store_take_seq(store, reqs, n, now_ms, res, rc);
	atomic_fetch_sub(&calls, 1);
	return k;
}

static enum store_result
gate_give(struct store *g, const struct store_req *req, uint64_t now_ms)
{
	enum store_result r;

	(void)g;
	atomic_fetch_add(&calls, 1);
	r = store_give(store, req, now_ms);
	atomic_fetch_sub(&calls, 1);
	return r;
}

static enum store_result
gate_reset(struct store *g, const void *id, size_t idlen)
{
	enum store_result r;

	(void)g;
	atomic_fetch_add(&calls, 1);
	r = store_reset(store, id, idlen);
	atomic_fetch_sub(&calls, 1);
	return r;
}

static enum store_result
gate_save(struct store *g, const char *path, uint64_t now_ms, int64_t wall,
    char *err, size_t errsz)
{
	(void)g;
	return store_save(store, path, now_ms, wall, err, errsz);
}

static size_t
gate_count(struct store *g)
{
	(void)g;
	return store_count(store);
}

static void
gate_free(struct store *g)
{
	(void)g;	/* static, and the store behind it outlives the sessions */
}

static const struct store_ops gate_ops = {
	.take = gate_take, .give = gate_give, .reset = gate_reset,
	.save = gate_save, .count = gate_count, .free = gate_free,
};

/* The same, for a store that batches (store_has_seq). */
static const struct store_ops gate_seq_ops = {
	.take = gate_take, .give = gate_give, .reset = gate_reset,
	.save = gate_save, .count = gate_count, .free = gate_free,
	.take_seq = gate_take_seq,
};

static struct store gate = { &gate_ops };

/* Before the sessions start: batch where the store does. */
static void
gate_fit(void)
{
	if (store_has_seq(store))
		gate.ops = &gate_seq_ops;
}

struct store *
state_store(void)
{
	return &gate;
}

int
state_drain(void)
{
	struct timespec pause = { 0, 10 * 1000000L }, grace = { 0, 200 * 1000000L };
	int i, n = 0;

	for (i = 0; i < STATE_DRAIN_MS / 10; i++) {
		if ((n = atomic_load(&calls)) == 0) {
			/* XXX the callback, its store call done, still has its
			 * reply to send: a moment for that, not a count */
			if (i > 0)
				nanosleep(&grace, NULL);
			return 0;
		}
		if (i == 0)
			log_msg(LOG_INFO, "stop: waiting for %d decision%s under "
			    "way (at most %d s)", n, n == 1 ? "" : "s",
			    STATE_DRAIN_MS / 1000);
		nanosleep(&pause, NULL);
	}
	log_msg(LOG_WARNING, "stop: %d decision%s still under way after %d s; "
	    "stopping without them", n, n == 1 ? "" : "s", STATE_DRAIN_MS / 1000);
	return n;
}

static void
state_save(void)
{
	char err[1024];

	if (state_file == NULL)
		return;
	if (store_save(store, state_file, sess_now_ms(), sess_wall_ms(), err,
	    sizeof err) != STORE_OK)
		log_msg(LOG_WARNING, "state: cannot save %s: %s; counters are "
		    "kept in memory and saving is tried again", state_file, err);
}

static void *
saver_main(void *arg)
{
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&saver_lock);
	while (!saver_stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)save_interval_s;
		pthread_cond_timedwait(&saver_wake, &saver_lock, &until);
		if (saver_stop)
			break;
		pthread_mutex_unlock(&saver_lock);
		state_save();
		pthread_mutex_lock(&saver_lock);
	}
	pthread_mutex_unlock(&saver_lock);
	return NULL;
}

void
state_start_saver(void)
{
	if (state_file == NULL)
		return;
	if (pthread_create(&saver, NULL, saver_main, NULL) != 0) {
		log_msg(LOG_WARNING, "state: no saver thread; saving at stop only");
		return;
	}
	saver_running = 1;
}

void
state_close(void)
{
	if (saver_running) {
		pthread_mutex_lock(&saver_lock);
		saver_stop = 1;
		pthread_cond_signal(&saver_wake);
		pthread_mutex_unlock(&saver_lock);
		pthread_join(saver, NULL);
		saver_running = 0;
	}
	state_save();
	/* Not freed: libmilter returns from smfi_main() while a session's
	 * callback may still be inside a take or a give on another thread
	 * (issue 20 item 7).  The store stays until the process exits. */
}
