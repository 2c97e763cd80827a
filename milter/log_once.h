/*
 * log_once.h: whether a rule's error for a client was logged lately
 * (log_once.c), so a client that keeps sending what a rule cannot judge
 * (a value that runs a regex out of its budget) costs one log line per
 * rule and client in LOG_ONCE_WINDOW_MS, not one per message.
 *
 * A fixed table of LOG_ONCE_SLOTS slots, each remembering one (rule,
 * client) pair by keyed hash and when it was logged; a pair that lands
 * on a slot another pair took is logged again (never fewer lines than
 * that).  Memory is fixed; any thread may call it.
 */
#ifndef LOG_ONCE_H
#define LOG_ONCE_H

#include <stdint.h>

#define LOG_ONCE_SLOTS		4096
#define LOG_ONCE_WINDOW_MS	(10 * 60 * 1000)

/* 1 when the error of rule for client should be logged now (the first
 * time in the window), 0 when it was logged already; now_ms monotonic. */
int log_once_first(const char *rule, const char *client, uint64_t now_ms);

#endif
