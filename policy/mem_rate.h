/*
 * mem_rate.h: the rates memory-store counters were written under, so a
 * counter written under one limit can be read under another (a reload
 * that changed `rate` or its period) and keep its count.
 *
 * A slot has 30 spare bits (mem_counter.h); they hold a tag of the
 * (rate, window_ms) pair its TAT is expressed in.  This module maps tags
 * back to pairs: a process-wide, append-only table of at most
 * MR_TABLE_MAX pairs, read without a lock (entries are published with a
 * release store of their tag and never change), written under a mutex.
 * A policy has a few rates, and each reload a few more, so the table
 * stays small; when it is full, or two pairs hash to one tag, mr_tag
 * answers 0: "written under the rate in force", which is what every
 * counter meant before this module (the old, time-debt behaviour).
 *
 * Threads: any, at once.  No allocation.
 */
#ifndef MEM_RATE_H
#define MEM_RATE_H

#include <stdint.h>

#define MR_TAG_BITS	30
#define MR_TABLE_MAX	4096

/* The tag of (rate, window_ms), known to mr_find from now on; 0 when it
 * cannot be kept (see above). */
uint32_t mr_tag(uint64_t rate, uint64_t window_ms);

/* The pair of a non-zero tag mr_tag gave: 0, or -1 if unknown. */
int mr_find(uint32_t tag, uint64_t *rate, uint64_t *window_ms);

#endif
