/* reload.c: SIGUSR1 reload and SIGUSR2 stats; see reload.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

#include "current.h"
#include "log.h"
#include "reload.h"
#include "stats.h"

static const char *policy_path;
static unsigned long stats_interval_s;

static void
log_error(void *arg, const char *msg)
{
	(void)arg;
	log_msg(LOG_ERR, "reload: %s", msg);
}

int
reload_now(void)
{
	/* SIGUSR1 and `ctl reload` at once: the later load is the one kept. */
	static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER;
	struct policy *p;

	pthread_mutex_lock(&one);
	if ((p = pol_load(policy_path, log_error, NULL)) == NULL)
		log_msg(LOG_ERR, "reload: %s is not valid; keeping the policy "
		    "in force", policy_path);
	else {
		log_msg(LOG_INFO, "reloaded: policy %s, %d rules", pol_path(p),
		    pol_rule_count(p));
		current_set(p);
	}
	pthread_mutex_unlock(&one);
	stats_reload(p != NULL);
	return p != NULL ? 0 : -1;
}

/* Wait for signals; the stats line also comes every stats_interval. */
static void *
signal_main(void *arg)
{
	struct timespec wait = { .tv_sec = (time_t)stats_interval_s };
	sigset_t *set = arg;
	int sig;

	for (;;) {
		sig = stats_interval_s ? sigtimedwait(set, NULL, &wait) :
		    sigwaitinfo(set, NULL);
		if (sig == SIGUSR1)
			reload_now();
		else if (sig == SIGUSR2 || (sig < 0 && errno == EAGAIN))
			stats_log();
	}
	return NULL;
}

void
reload_start(const char *path, unsigned long stats_interval)
{
	static sigset_t set;
	pthread_t t;

	policy_path = path;
	stats_interval_s = stats_interval;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* SIGTERM and co.: stop_hold() */
	if (pthread_create(&t, NULL, signal_main, &set) != 0) {
		log_msg(LOG_WARNING, "no signal thread: SIGUSR1 will not reload");
		return;
	}
	pthread_detach(t);
}
