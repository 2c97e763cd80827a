/*
 * reload.h: SIGUSR1 reloads the policy; SIGUSR2 (and every stats_interval)
 * writes the stats line.
 *
 * reload_start() blocks both signals in the calling thread (so every
 * thread created after it, libmilter's included, inherits the mask) and
 * starts one thread that waits for them with sigwait().  A reload loads
 * the file afresh: valid, it replaces the current policy for new
 * connections (those under way finish on theirs); invalid, every error is
 * logged as FILE:LINE and the old policy stays.  Not SIGHUP: libmilter's
 * own signal thread takes SIGHUP as "stop".
 */
#ifndef RELOAD_H
#define RELOAD_H

/* Start the signal thread for the policy file at path (kept by pointer);
 * it also writes the stats line every stats_interval seconds (0: never). */
void reload_start(const char *path, unsigned long stats_interval);

/* Reload now (the signal thread calls this); 0 when the new policy is in. */
int reload_now(void);

#endif
