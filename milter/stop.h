/*
 * stop.h: running libmilter's loop and stopping it quickly.
 *
 * libmilter's listener looks at its stop flag only between waits of 5 s
 * for a connection, so a plain SIGTERM took about 6 s to stop an idle
 * milter.  Here smfi_main() runs in a thread of its own while the main
 * thread waits for SIGTERM, SIGINT or SIGHUP (the kernel hands a signal
 * sent to the process to its main thread when that thread waits for it),
 * asks libmilter to stop and interrupts the listener's wait at once.
 *
 * Once stopped libmilter serves no further milter command: a callback
 * under way finishes on its own thread, connections still open are closed
 * when the process exits.  Threads: call stop_run once, from the main
 * thread, with SIGTERM, SIGINT and SIGHUP blocked in every thread.
 */
#ifndef STOP_H
#define STOP_H

/* Run smfi_main() until a stop signal or its own end; its result
 * (MI_SUCCESS or MI_FAILURE). */
int stop_run(void);

#endif
