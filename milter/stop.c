/* stop.c: libmilter's loop in a thread, stopped at once; see stop.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <syslog.h>
#include <time.h>

#include <libmilter/mfapi.h>

#include "log.h"
#include "stop.h"

#define STOP_KICK	SIGALRM		/* interrupts the listener's wait */
#define STOP_KICK_MS	10

static pthread_t main_thread, listener;
static atomic_int listener_done, stopper_done;
static int listener_rc;

static void
kick_handler(int sig)
{
	(void)sig;	/* only there so the signal interrupts poll() */
}

static void *
listener_main(void *arg)
{
	(void)arg;
	listener_rc = smfi_main();
	atomic_store(&listener_done, 1);
	pthread_kill(main_thread, SIGTERM);	/* it ended by itself: wake main */
	return NULL;
}

/* smfi_stop() waits for the listener's lock, held during its wait. */
static void *
stopper_main(void *arg)
{
	(void)arg;
	smfi_stop();
	atomic_store(&stopper_done, 1);
	return NULL;
}

/* Ask libmilter to stop and interrupt the listener until it has. */
static void
stop_listener(void)
{
	struct timespec pause = { 0, STOP_KICK_MS * 1000000L };
	pthread_t stopper;
	int have_stopper;

	have_stopper = pthread_create(&stopper, NULL, stopper_main, NULL) == 0;
	if (!have_stopper)
		log_msg(LOG_WARNING, "stop: no thread to stop libmilter; "
		    "it stops at its next check");
	while (!atomic_load(&listener_done)) {
		pthread_kill(listener, STOP_KICK);
		nanosleep(&pause, NULL);
	}
	if (have_stopper)
		pthread_join(stopper, NULL);
}

static void
stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

void
stop_hold(void)
{
	sigset_t set;

	stop_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* A stop signal that came during start-up, taken now: its number, 0
 * when none.  It must be ours before libmilter starts its signal thread,
 * which would take it and stop the listener the racy way (stop_run). */
static int
take_early_signal(void)
{
	struct timespec none = { 0, 0 };
	sigset_t set;
	int sig;

	stop_signals(&set);
	sig = sigtimedwait(&set, NULL, &none);
	return sig > 0 ? sig : 0;
}

static const char *
signal_name(int sig)
{
	return sig == SIGINT ? "INT" : sig == SIGHUP ? "HUP" : "TERM";
}

static int
wait_stop_signal(void)
{
	sigset_t set;
	int sig;

	stop_signals(&set);
	do
		sig = sigwaitinfo(&set, NULL);
	while (sig < 0 && errno == EINTR);
	return sig;
}

int
stop_run(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };	/* no SA_RESTART */
	int sig;

	sigemptyset(&sa.sa_mask);
	sigaction(STOP_KICK, &sa, NULL);
	main_thread = pthread_self();
	if ((sig = take_early_signal()) > 0) {
		log_msg(LOG_INFO, "stop: SIG%s during start-up: stopping before "
		    "taking any connection", signal_name(sig));
		return MI_SUCCESS;
	}
	if (pthread_create(&listener, NULL, listener_main, NULL) != 0) {
		log_msg(LOG_WARNING, "stop: no listener thread; a stop takes "
		    "libmilter's few seconds");
		return smfi_main();
	}
	sig = wait_stop_signal();
	if (atomic_load(&listener_done)) {	/* it ended by itself */
		pthread_join(listener, NULL);
		return listener_rc;
	}
	log_msg(LOG_INFO, "stop: SIG%s: taking no more connections",
	    signal_name(sig));
	stop_listener();
	pthread_join(listener, NULL);
	/* A stop we asked for is a success even when the listener says it
	 * failed: libmilter reads its stop flag without its lock, so a
	 * listener that read "go on" just before smfi_stop() finds the
	 * socket closed under it and returns MI_FAILURE ("listenfd
	 * corrupted"). */
	return MI_SUCCESS;
}
