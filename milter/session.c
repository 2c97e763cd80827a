/* session.c: per-connection and per-message state; see session.h. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "dns.h"
#include "policyd.h"
#include "session.h"
#include "stats.h"
#include "xmalloc.h"

struct session *
sess_new(struct policy *p, struct store *st)
{
	struct session *s = xcalloc(1, sizeof *s);

	stats_session(1);
	s->pc = pol_conn_new(p, st);
	if (pol_uses_dns(p))
		s->dns = dns_resolver(pol_settings(p));
	if (policyd_listening())
		pol_conn_door(s->pc, POL_DOOR_CONTENT);	/* limits: policyd.h */
	return s;
}

void
sess_set(char **field, const char *value)
{
	free(*field);
	*field = value ? xstrdup(value) : NULL;
}

void
sess_msg_reset(struct session *s)
{
	sess_set(&s->sender, NULL);
	sess_set(&s->rcpt, NULL);
	sess_set(&s->auth_user, NULL);
	sess_set(&s->queue_id, NULL);
	sess_set(&s->quarantine, NULL);
	s->size = 0;
	s->received = 0;
	s->size_counted = 0;
}

void
sess_path(char **field, const char *arg)
{
	size_t n;

	if (arg == NULL) {
		sess_set(field, NULL);
		return;
	}
	free(*field);
	n = addr_unbracket(arg, NULL, 0);
	*field = xmalloc(n + 1);
	addr_unbracket(arg, *field, n + 1);
}

void
sess_sender(struct session *s, char **argv)
{
	char *end;
	int i;

	sess_path(&s->sender, argv[0]);
	s->size = s->received = 0;	/* a new message, even without abort */
	s->size_counted = 0;
	for (i = 1; argv[i] != NULL; i++)
		if (strncasecmp(argv[i], "SIZE=", 5) == 0) {
			s->size = strtoul(argv[i] + 5, &end, 10);
			if (*end != '\0')
				s->size = 0;
		}
}

void
sess_count(struct session *s, size_t n)
{
	s->received = n > ULONG_MAX - s->received ? ULONG_MAX :
	    s->received + n;
}

void
sess_free(struct session *s)
{
	if (s == NULL)
		return;
	stats_session(-1);
	sess_msg_reset(s);
	free(s->client_addr);
	free(s->client_name);
	free(s->helo);
	free(s->daemon);
	pol_conn_free(s->pc);
	free(s);
}

void
sess_env(const struct session *s, struct pol_env *env)
{
	memset(env, 0, sizeof *env);
	env->client_addr = s->client_addr;
	env->client_name = s->client_name;
	env->helo = s->helo;
	env->daemon = s->daemon;
	env->sender = s->sender;
	env->rcpt = s->rcpt;
	env->auth_user = s->auth_user;
	env->queue_id = s->queue_id;
	env->size = s->size_counted ? s->received : s->size;
	env->dns = s->dns;
}

uint64_t
sess_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t
sess_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
