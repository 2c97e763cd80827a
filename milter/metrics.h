/*
 * metrics.h: the Prometheus endpoint (metrics = { listen = "HOST:PORT"; },
 * off by default): GET /metrics answers the text exposition format with
 * the counters of stats.c and the labelled series counted here
 * (decisions by stage, rule, code and action; over-limit events by rule).
 *
 * Label values are bounded: rule names (cut to 64 bytes), stages, codes,
 * actions; never a client value.  Past METRICS_SERIES distinct series a
 * new one is counted with rule="other".
 *
 * Threads: metrics_decision and metrics_over_limit may be called from any
 * session thread (one short mutex); the endpoint runs in libmicrohttpd's
 * own thread, started by metrics_start after the signal mask is set.
 * metrics_listen binds while still root and before the daemon forks;
 * its failure (a bad address, a port in use) is logged and returned.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdio.h>

#define METRICS_SERIES	1024

/* Bind the endpoint's socket ("IP:PORT" or "[IPv6]:PORT"); NULL: off.
 * 0, or -1 after logging why. */
int metrics_listen(const char *listen);

/* Serve on the bound socket (nothing when off); 0 or -1 logged. */
int metrics_start(void);

/* Stop serving and close the socket. */
void metrics_stop(void);

/* A decision that was not a plain accept; code 0: none. */
void metrics_decision(const char *stage, const char *rule, int code,
    const char *action);

/* A counter went over its limit (the over-limit notice). */
void metrics_over_limit(const char *rule);

/* Write every metric in the text format to out. */
void metrics_write(FILE *out);

#endif
