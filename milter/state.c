/* state.c: the daemon's counter store and its snapshots; see state.h. */
#include <errno.h>
#include <pthread.h>
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

static struct store *store;
static char *state_file;		/* NULL: no persistence */
static unsigned long save_interval_s;
static pthread_t saver;
static int saver_running;
static int saver_stop;
static pthread_mutex_t saver_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t saver_wake = PTHREAD_COND_INITIALIZER;

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 0, or -1 when the milter must not start (logged). */
static int
state_load(void)
{
	char err[1024], aside[4096];

	switch (store_memory_load(store, state_file, sess_now_ms(), wall_ms(),
	    err, sizeof err)) {
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

/* 0, or -1 when the store cannot be made (logged). */
int
state_open(const struct pol_settings *ps)
{
	if (ps->backend == POL_BACKEND_REDIS) {
		/* The server keeps the counters: no state file. */
		store = backend_redis(ps);	/* timed there */
		if (store != NULL)
			log_msg(LOG_INFO, "state: counters on redis %s, keys "
			    "prefixed %s", ps->redis.server, ps->redis.prefix);
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

struct store *
state_store(void)
{
	return store;
}

static void
state_save(void)
{
	char err[1024];

	if (state_file == NULL)
		return;
	if (store_save(store, state_file, sess_now_ms(), wall_ms(), err,
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
	store_free(store);
	store = NULL;
	free(state_file);
	state_file = NULL;
}
