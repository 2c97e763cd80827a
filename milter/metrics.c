/*
 * metrics.c: the Prometheus endpoint and its labelled series; see
 * metrics.h.  Names follow Prometheus conventions: milter_policy_ prefix,
 * _total for counters, seconds for durations.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "current.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "stats.h"

#define NAME_MAX_LEN	65

struct series {
	char stage[16], rule[NAME_MAX_LEN], action[24];
	int code;			/* -1: an over-limit series */
	unsigned long n;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Past METRICS_SERIES, two overflow series: decisions, over-limit. */
static struct series series[METRICS_SERIES + 2] = {
	[METRICS_SERIES] = { "other", "other", "other", 0, 0 },
	[METRICS_SERIES + 1] = { "", "other", "", -1, 0 },
};
static int nseries;
static int listen_fd = -1;
static struct MHD_Daemon *daemon_mhd;
static time_t start_time;

/* The series of these labels, added if new; the caller holds lock. */
static struct series *
series_find(const char *stage, const char *rule, int code, const char *action)
{
	struct series *s;
	int i;

	for (i = 0; i < nseries; i++) {
		s = &series[i];
		if (s->code == code && strcmp(s->stage, stage) == 0 &&
		    strncmp(s->rule, rule, NAME_MAX_LEN - 1) == 0 &&
		    strcmp(s->action, action) == 0)
			return s;
	}
	if (nseries == METRICS_SERIES)
		return &series[METRICS_SERIES + (code < 0)];
	s = &series[nseries++];
	snprintf(s->stage, sizeof s->stage, "%s", stage);
	snprintf(s->rule, sizeof s->rule, "%s", rule);
	snprintf(s->action, sizeof s->action, "%s", action);
	s->code = code;
	return s;
}

void
metrics_decision(const char *stage, const char *rule, int code,
    const char *action)
{
	pthread_mutex_lock(&lock);
	series_find(stage, rule ? rule : "none", code, action)->n++;
	pthread_mutex_unlock(&lock);
}

void
metrics_over_limit(const char *rule)
{
	pthread_mutex_lock(&lock);
	series_find("", rule ? rule : "none", -1, "")->n++;
	pthread_mutex_unlock(&lock);
}

/* A label value: \, " and newline escaped as the format asks. */
static void
label(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static void
head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
write_series(FILE *out)
{
	int i, over;

	for (over = 0; over <= 1; over++) {
		if (over)
			head(out, "milter_policy_over_limit_total", "counter",
			    "Counters that went over their limit (the over-limit notice), by rule.");
		else
			head(out, "milter_policy_decisions_total", "counter",
			    "Decisions that were not a plain accept, by stage, rule, reply code and action.");
		for (i = 0; i < METRICS_SERIES + 2; i++) {
			const struct series *s = &series[i];

			if ((i < nseries || i >= METRICS_SERIES) == 0 ||
			    (s->code < 0) != over || s->n == 0)
				continue;
			fprintf(out, over ? "milter_policy_over_limit_total{" :
			    "milter_policy_decisions_total{stage=\"%s\",", s->stage);
			fputs("rule=\"", out);
			label(out, s->rule);
			if (!over && s->code > 0)
				fprintf(out, "\",code=\"%d", s->code);
			else if (!over)
				fputs("\",code=\"none", out);
			if (!over)
				fprintf(out, "\",action=\"%s", s->action);
			fprintf(out, "\"} %lu\n", s->n);
		}
	}
}

static void
write_counter(FILE *out, const char *name, const char *help, unsigned long n)
{
	head(out, name, "counter", help);
	fprintf(out, "%s %lu\n", name, n);
}

static void
write_store(FILE *out, const struct stats_snap *st)
{
	const char *h = "milter_policy_store_call_duration_seconds";
	unsigned long cum = 0;
	int i;

	write_counter(out, "milter_policy_store_calls_total",
	    "Calls to the counter store (memory or Redis): takes and give-backs.",
	    st->store_calls);
	write_counter(out, "milter_policy_store_errors_total",
	    "Store calls that failed.", st->store_errors);
	head(out, h, "histogram", "How long a store call took.");
	for (i = 0; i < STATS_BUCKETS; i++) {
		cum += st->bucket[i];
		fprintf(out, "%s_bucket{le=\"%g\"} %lu\n", h,
		    (double)st->bucket_us[i] / 1e6, cum);
	}
	cum += st->bucket[STATS_BUCKETS];
	fprintf(out, "%s_bucket{le=\"+Inf\"} %lu\n%s_sum %.6f\n%s_count %lu\n",
	    h, cum, h, (double)st->store_us_sum / 1e6, h, cum);
}

static void
write_process(FILE *out, const struct stats_snap *st)
{
	struct policy *p = current_get();

	head(out, "milter_policy_sessions_open", "gauge",
	    "Milter sessions (MTA connections) open now.");
	fprintf(out, "milter_policy_sessions_open %ld\n", st->sessions_open);
	head(out, "milter_policy_reloads_total", "counter",
	    "Policy reloads (SIGUSR1 or ctl reload), by result.");
	fprintf(out, "milter_policy_reloads_total{result=\"ok\"} %lu\n"
	    "milter_policy_reloads_total{result=\"error\"} %lu\n",
	    st->reloads_ok, st->reloads_failed);
	head(out, "milter_policy_rules", "gauge", "Rules in the policy in force.");
	fprintf(out, "milter_policy_rules %d\n", p ? pol_rule_count(p) : 0);
	pol_unref(p);
	head(out, "process_start_time_seconds", "gauge",
	    "Start time of the process since the Unix epoch, in seconds.");
	fprintf(out, "process_start_time_seconds %ld\n", (long)start_time);
}

void
metrics_write(FILE *out)
{
	struct stats_snap st;

	stats_snapshot(&st);
	pthread_mutex_lock(&lock);
	write_series(out);
	pthread_mutex_unlock(&lock);
	write_counter(out, "milter_policy_connections_total",
	    "SMTP connections seen.", st.connections);
	write_counter(out, "milter_policy_messages_total",
	    "Messages begun (MAIL FROM).", st.messages);
	write_counter(out, "milter_policy_errors_total",
	    "Decisions the engine could not make (store or match error).",
	    st.errors);
	write_store(out, &st);
	write_process(out, &st);
}

/* "IP:PORT" or "[IPv6]:PORT" into *ss; -1 when it is neither. */
static int
parse_listen(const char *v, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *colon = strrchr(v, ':');
	char *end;
	long port;
	size_t n;

	if (colon == NULL || (n = (size_t)(colon - v)) == 0 || n >= sizeof host)
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
		return -1;
	memset(ss, 0, sizeof *ss);
	if (v[0] == '[' && v[n - 1] == ']') {
		memcpy(host, v + 1, n - 2);
		host[n - 2] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof *s6;
		return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	memcpy(host, v, n);
	host[n] = '\0';
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*len = sizeof *s4;
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

int
metrics_listen(const char *listen_at)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, on = 1;

	start_time = time(NULL);
	if (listen_at == NULL)
		return 0;
	if (parse_listen(listen_at, &ss, &len) < 0) {
		log_msg(LOG_ERR, "metrics.listen \"%s\": expected IP:PORT, like "
		    "\"127.0.0.1:9187\" or \"[::1]:9187\"", listen_at);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
		log_msg(LOG_ERR, "metrics: cannot listen on %s: %s", listen_at,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	listen_fd = fd;
	return 0;
}

/* GET /metrics: the text format; anything else 404 or 405. */
static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct MHD_Response *r;
	char *buf = NULL;
	size_t len = 0;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result rc;
	FILE *out = open_memstream(&buf, &len);

	(void)cls, (void)version, (void)upload, (void)upload_size, (void)con_cls;
	if (out == NULL)
		return MHD_NO;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		fputs("only GET\n", out);
	} else if (strcmp(url, "/metrics") != 0) {
		status = MHD_HTTP_NOT_FOUND;
		fputs("see /metrics\n", out);
	} else
		metrics_write(out);
	fclose(out);
	r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", status == MHD_HTTP_OK ?
	    "text/plain; version=0.0.4; charset=utf-8" : "text/plain");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

int
metrics_start(void)
{
	if (listen_fd < 0)
		return 0;
	daemon_mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, answer, NULL,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	    MHD_OPTION_END);
	if (daemon_mhd == NULL) {
		log_msg(LOG_ERR, "metrics: cannot start the HTTP server");
		return -1;
	}
	return 0;
}

void
metrics_stop(void)
{
	if (daemon_mhd != NULL)
		MHD_stop_daemon(daemon_mhd);
	daemon_mhd = NULL;
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
}
