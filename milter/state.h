/*
 * state.h: the daemon's counter store.  Created once at start (it outlives
 * every policy reload, so counters survive by rule name), loaded from the
 * state file, saved every save_interval by a thread of its own and once
 * more at stop.  The state settings of the first policy are the ones used
 * until a restart.
 */
#ifndef STATE_H
#define STATE_H

#include "policy.h"
#include "store.h"

/* Create the store: on Redis (state.backend = "redis"), or in memory,
 * loaded from the state file; a corrupt file is logged and moved aside
 * (FILE.bad), never fatal.  -1 (logged) when the store cannot be made or
 * the state file's directory may be written by others.
 * Call once, before smfi_main. */
int state_open(const struct pol_settings *ps);

/* Start saving every save_interval (after any fork). */
void state_start_saver(void);

/* The store every connection uses: valid until the process exits.  Its
 * calls are counted for state_drain. */
struct store *state_store(void);

/* Wait, up to a bound, until no store call is under way: the decisions a
 * stop finds running finish before the state is saved.  The number still
 * running at the bound (logged), or 0. */
int state_drain(void);

/* Stop the saver and save once more.  The store is not freed: a session
 * thread libmilter has let go of may still be using it; the process exit
 * frees it, and state_store() stays valid until then. */
void state_close(void);

#endif
