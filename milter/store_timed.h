/*
 * store_timed.h: a store that times every call of the store it wraps and
 * counts its errors, for the stats line (store_calls, store_errors and
 * the latency percentiles).  Same answers as the wrapped store.
 */
#ifndef STORE_TIMED_H
#define STORE_TIMED_H

#include "store.h"

/* Wrap inner (owned: freed with the wrapper); NULL stays NULL. */
struct store *store_timed_new(struct store *inner);

#endif
