/* stop.c: libmilter's loop in a thread, stopped at once; see stop.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "log.h"
#include "stop.h"

#define STOP_KICK	SIGALRM		/* interrupts the listener's wait */
#define STOP_KICK_MS	10

static pthread_t listener;
static atomic_int listener_done, stopper_done;
static int listener_rc;
static int wake[2] = { -1, -1 };	/* a stop signal or the listener's end */
static volatile sig_atomic_t stop_sig;	/* the stop signal that came */
static atomic_int milter_took;		/* one libmilter's own thread took */

static void
kick_handler(int sig)
{
	(void)sig;	/* only there so the signal interrupts poll() */
}

static void
wake_main(void)
{
	int e = errno;

	(void)!write(wake[1], "", 1);
	errno = e;
}

static void
stop_handler(int sig)
{
	if (stop_sig == 0)
		stop_sig = sig;
	wake_main();
}

/*
 * libmilter's own signal thread waits for SIGTERM, SIGINT and SIGHUP with
 * sigwait() and, when it gets one, stops the listener itself, racily (see
 * stop_run).  One can reach it despite stop_handler: a signal still queued
 * for the process, not yet taken by the main thread (busy machine), when
 * that thread begins its wait is its to take.  This definition, which the
 * dynamic linker gives libmilter in place of the C library's (a program's
 * own symbols come first), waits as that one does and notes such a
 * signal, so that stop is known for what it is.  Nothing else here calls
 * sigwait().
 */
int
sigwait(const sigset_t *restrict set, int *restrict sig)
{
	int s;

	do
		s = sigwaitinfo(set, NULL);
	while (s < 0 && errno == EINTR);
	if (s < 0)
		return errno;
	if (s == SIGTERM || s == SIGINT || s == SIGHUP)
		atomic_store(&milter_took, s);
	*sig = s;
	return 0;
}

static void *
listener_main(void *arg)
{
	(void)arg;
	stop_hold();	/* the main thread's; libmilter's threads inherit this */
	listener_rc = smfi_main();
	atomic_store(&listener_done, 1);
	wake_main();	/* it ended by itself */
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

/* Until a stop signal (returned) or the listener's own end (0). */
static int
wait_stop(void)
{
	struct pollfd pfd = { .fd = wake[0], .events = POLLIN };
	char buf[64];

	while (stop_sig == 0 && !atomic_load(&listener_done))
		if (poll(&pfd, 1, -1) > 0)
			while (read(wake[0], buf, sizeof buf) > 0)
				continue;
	return stop_sig;
}

/*
 * The stop signals reach this thread alone, through stop_handler: let in
 * here (one held since stop_hold() arrives now) and blocked in every
 * other thread, so the kernel hands a signal for the process to this
 * one.  Waited for with sigwait, they were blocked here too between
 * waits, and one that came then (or during start-up) could go to
 * libmilter's own signal thread instead, which stops the listener by
 * closing its socket: a failure to report, exit status 70.
 */
static int
stop_signals_here(void)
{
	struct sigaction sa = { .sa_handler = stop_handler };	/* no SA_RESTART */
	sigset_t set;

	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	stop_signals(&set);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

int
stop_run(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };	/* no SA_RESTART */
	int sig;

	sigemptyset(&sa.sa_mask);
	sigaction(STOP_KICK, &sa, NULL);
	if ((sig = take_early_signal()) > 0) {
		log_msg(LOG_INFO, "stop: SIG%s during start-up: stopping before "
		    "taking any connection", signal_name(sig));
		return MI_SUCCESS;
	}
	if (stop_signals_here() < 0 ||
	    pthread_create(&listener, NULL, listener_main, NULL) != 0) {
		stop_hold();
		log_msg(LOG_WARNING, "stop: no listener thread; a stop takes "
		    "libmilter's few seconds");
		return stop_sig != 0 ? MI_SUCCESS : smfi_main();
	}
	if ((sig = wait_stop()) == 0) {	/* it ended by itself */
		pthread_join(listener, NULL);
		if ((sig = atomic_load(&milter_took)) == 0)
			return listener_rc;
		log_msg(LOG_INFO, "stop: SIG%s: libmilter's own signal thread "
		    "took it and stopped", signal_name(sig));
		return MI_SUCCESS;	/* a stop: see after stop_listener() */
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
