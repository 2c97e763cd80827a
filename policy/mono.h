/*
 * mono.h: the monotonic clock in milliseconds, for the Redis clients'
 * deadlines and backoffs (store_redis.c, redis_sentinel.c,
 * redis_cluster.c).  The engine itself never reads a clock: its time is
 * the caller's argument.
 */
#ifndef MONO_H
#define MONO_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
