/*
 * current.h: the policy that new connections get.
 *
 * One global slot behind a mutex.  current_set() swaps a newly loaded
 * policy in (taking over the caller's reference) and drops the slot's old
 * reference; connections under way keep the policy they started with
 * through their own reference.  Thread safe.
 */
#ifndef CURRENT_H
#define CURRENT_H

#include "policy.h"

/* Install p as the current policy; takes over the caller's reference. */
void current_set(struct policy *p);

/* The current policy with a new reference the caller must pol_unref(). */
struct policy *current_get(void);

#endif
