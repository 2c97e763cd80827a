/*
 * stop.h: running libmilter's loop and stopping it quickly.
 *
 * libmilter's listener looks at its stop flag only between waits of 5 s
 * for a connection, so a plain SIGTERM took about 6 s to stop an idle
 * milter.  Here smfi_main() runs in a thread of its own while the main
 * thread waits for SIGTERM, SIGINT or SIGHUP, asks libmilter to stop and
 * interrupts the listener's wait at once.  The main thread alone lets
 * those signals in (a handler), every other thread blocks them, so the
 * kernel hands a signal sent to the process to the main thread, never to
 * libmilter's own signal thread (which would stop the listener itself,
 * closing its socket under it: a failure, exit status 70).
 *
 * Once stopped libmilter serves no further milter command: a callback
 * under way finishes on its own thread, connections still open are closed
 * when the process exits.  Threads: call stop_run once, from the main
 * thread, after stop_hold().
 */
#ifndef STOP_H
#define STOP_H

/* Hold SIGTERM, SIGINT and SIGHUP in the calling thread and every thread
 * it starts from now on: a stop signal during start-up waits for
 * stop_run(), which stops cleanly (socket and pid file removed, state
 * saved); left alone, it would kill the process half started.  libmilter's
 * own signal thread sigwaits them too, so every thread must block them or
 * the kernel may hand SIGTERM to one that dies of it.  Call first, before
 * any socket is made or thread started. */
void stop_hold(void);

/* Run smfi_main() until a stop signal or its own end: MI_SUCCESS after
 * a stop signal, smfi_main()'s result (MI_SUCCESS or MI_FAILURE) when
 * it ended by itself. */
int stop_run(void);

#endif
