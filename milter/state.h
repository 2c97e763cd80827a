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

/* The store every connection uses. */
struct store *state_store(void);

/* Stop the saver, save once more, free the store. */
void state_close(void);

#endif
