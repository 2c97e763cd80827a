/*
 * backend.h: the Redis store as the policy's state.redis settings describe
 * it, for the daemon (state.c) and `try`.
 */
#ifndef BACKEND_H
#define BACKEND_H

#include "policy.h"
#include "store.h"

/* A Redis store for ps->redis: the password file read now (as the user
 * the caller runs as), up/down changes logged once each.  NULL, with the
 * reason logged, when the settings cannot be used (unreadable password
 * file). */
struct store *backend_redis(const struct pol_settings *ps);

#endif
