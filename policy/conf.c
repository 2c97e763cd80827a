/*
 * conf.c: reads a policy file, validates every setting of its milter,
 * state, lists, replies and relay groups, and compiles it into a struct
 * policy (rules.h); rules are conf_rule.c's, single values conf_value.c's.
 *
 * Errors are counted, not fatal: each is reported as "FILE:LINE: message"
 * through the caller's callback and loading goes on, so an admin sees every
 * mistake in one run; at the end a policy with errors is freed and NULL
 * returned.  libconfig strings never leave conf*.c: what is kept is
 * copied.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "rules.h"
#include "util.h"
#include "xmalloc.h"

static void
set_string(struct conf *cf, const config_setting_t *s, const char **field)
{
	(void)cf;
	free((char *)*field);
	*field = xstrdup(config_setting_get_string(s));
}

/* ---- milter = { } ---- */

static void
set_socket(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s);

	if (strncmp(v, "unix:", 5) != 0 && strncmp(v, "local:", 6) != 0 &&
	    strncmp(v, "inet:", 5) != 0 && strncmp(v, "inet6:", 6) != 0 &&
	    v[0] != '/') {
		conf_error(cf, s, "socket \"%s\" is not a milter socket; expected "
		    "\"unix:/path\", \"inet:PORT@HOST\" or \"inet6:PORT@HOST\"", v);
		return;
	}
	set_string(cf, s, &cf->p->settings.socket);
}

static void
set_user(struct conf *cf, const config_setting_t *s)
{
	set_string(cf, s, &cf->p->settings.user);
}

static void
set_facility(struct conf *cf, const config_setting_t *s)
{
	static const char *const names[] = { "mail", "daemon", "user",
	    "local0", "local1", "local2", "local3", "local4", "local5",
	    "local6", "local7" };

	if (conf_choice(cf, s, names, NELEM(names)) >= 0)
		set_string(cf, s, &cf->p->settings.syslog_facility);
}

static void
set_log_level(struct conf *cf, const config_setting_t *s)
{
	static const char *const names[] = { "error", "warning", "notice",
	    "info", "debug" };
	static const int levels[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE,
	    LOG_INFO, LOG_DEBUG };
	int i = conf_choice(cf, s, names, NELEM(names));

	if (i >= 0)
		cf->p->settings.log_level = levels[i];
}

static void
set_milter_mode(struct conf *cf, const config_setting_t *s)
{
	conf_mode(cf, s, &cf->p->settings.mode);
}

static void
set_stats_interval(struct conf *cf, const config_setting_t *s)
{
	cf->p->settings.stats_interval_s = conf_duration(cf, s) / 1000;
}

/* "0660": an octal mode the MTA's user can connect through.  A mode that
 * lets every local user connect is allowed but warned about (not counted
 * as an error): whoever connects can claim any client address and spend
 * other senders' quotas. */
static void
set_socket_mode(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s);
	char line[ERR_MAX + 64], *end;
	long m = strtol(v, &end, 8);

	if (*v == '\0' || *end != '\0' || m < 0 || m > 0777 || (m & 0600) != 0600) {
		conf_error(cf, s, "socket_mode \"%s\": expected an octal mode "
		    "such as \"0660\" that lets the milter's own user read and "
		    "write", v);
		return;
	}
	cf->p->settings.socket_mode = (unsigned)m;
	if (m & 0002) {
		snprintf(line, sizeof line, "%s:%d: warning: socket_mode \"%s\" "
		    "lets every local user connect to the milter, claim any "
		    "client address and spend other senders' quotas; write "
		    "\"0660\" with socket_group set to a group the MTA is in",
		    config_setting_source_file(s) ? config_setting_source_file(s)
		    : cf->path, config_setting_source_line(s), v);
		cf->errfn(cf->arg, line);
	}
}

static void
set_socket_group(struct conf *cf, const config_setting_t *s)
{
	set_string(cf, s, &cf->p->settings.socket_group);
}

static void
set_control_socket(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s);

	if (v[0] != '\0' && v[0] != '/')
		conf_error(cf, s, "control_socket \"%s\": expected an absolute "
		    "path such as \"/run/milter-policy/control.sock\", or \"\" "
		    "for none", v);
	else
		set_string(cf, s, &cf->p->settings.control_socket);
}

static void
set_sendmail(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s);

	if (v[0] != '/')
		conf_error(cf, s, "sendmail \"%s\": write the absolute path of "
		    "the MTA's sendmail command, like \"/usr/sbin/sendmail\"", v);
	else
		set_string(cf, s, &cf->p->settings.sendmail);
}

static void
set_notify_max(struct conf *cf, const config_setting_t *s)
{
	int n = config_setting_get_int(s);

	if (n < 0 || n > 1000)
		conf_error(cf, s, "notify_max_per_hour must be between 0 and 1000");
	else
		cf->p->settings.notify_max_per_hour = (unsigned)n;
}

/* "256k", "1m" or a plain number of bytes; ~0 when it is none of them. */
static unsigned long long
parse_bytes(const char *v)
{
	unsigned long long n;
	char *end;

	if (!isdigit((unsigned char)v[0]))
		return ~0ULL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || n > (~0ULL >> 20))
		return ~0ULL;
	if (*end == 'k' || *end == 'K')
		n <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		n <<= 20, end++;
	return *end == '\0' ? n : ~0ULL;
}

/* The stack of each thread libmilter starts; 0: the system's default.
 * The guard page below each stack stays (milter/main.c). */
static void
set_thread_stack(struct conf *cf, const config_setting_t *s)
{
	unsigned long long n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		n = parse_bytes(config_setting_get_string(s));
	else if (config_setting_type(s) == CONFIG_TYPE_INT)
		n = config_setting_get_int(s) < 0 ? ~0ULL :
		    (unsigned long long)config_setting_get_int(s);
	else
		n = config_setting_get_int64(s) < 0 ? ~0ULL :
		    (unsigned long long)config_setting_get_int64(s);
	if (n != 0 && (n < POL_STACK_MIN || n > POL_STACK_MAX)) {
		conf_error(cf, s, "thread_stack: expected a size from 64k to "
		    "64m such as \"%luk\" (the default), or 0 for the "
		    "system's default", POL_STACK_DEFAULT >> 10);
		return;
	}
	cf->p->settings.thread_stack = (size_t)n;
}

static const struct setting milter_settings[] = {
	{ "control_socket", TYPE_STRING, set_control_socket },
	{ "socket", TYPE_STRING, set_socket },
	{ "socket_mode", TYPE_STRING, set_socket_mode },
	{ "socket_group", TYPE_STRING, set_socket_group },
	{ "user", TYPE_STRING, set_user },
	{ "syslog_facility", TYPE_STRING, set_facility },
	{ "log_level", TYPE_STRING, set_log_level },
	{ "mode", TYPE_STRING, set_milter_mode },
	{ "stats_interval", TYPE_STRING | TYPE_INT, set_stats_interval },
	{ "sendmail", TYPE_STRING, set_sendmail },
	{ "notify_max_per_hour", TYPE_INT, set_notify_max },
	{ "thread_stack", TYPE_STRING | TYPE_INT, set_thread_stack },
};

/* ---- state = { } ---- */

static void
set_backend(struct conf *cf, const config_setting_t *s)
{
	static const char *const names[] = { "memory", "redis" };
	int i = conf_choice(cf, s, names, NELEM(names));

	if (i >= 0)
		cf->p->settings.backend = (enum pol_backend)i;
}

/* "HOST:PORT" (port 1-65535) or "unix:/absolute/path". */
static void
set_redis_server(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s), *colon = strrchr(v, ':');
	char *end;
	long port;

	if (strncmp(v, "unix:/", 6) != 0) {
		port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
		if (colon == NULL || colon == v || *end != '\0' || port < 1 ||
		    port > 65535) {
			conf_error(cf, s, "server \"%s\": expected HOST:PORT "
			    "(\"127.0.0.1:6379\") or unix:/PATH", v);
			return;
		}
	}
	set_string(cf, s, &cf->p->settings.redis.server);
}

static void
set_redis_prefix(struct conf *cf, const config_setting_t *s)
{
	set_string(cf, s, &cf->p->settings.redis.prefix);
}

static void
set_redis_db(struct conf *cf, const config_setting_t *s)
{
	int n = config_setting_get_int(s);

	if (n < 0)
		conf_error(cf, s, "db must be 0 or more");
	else
		cf->p->settings.redis.db = n;
}

static void
set_redis_password(struct conf *cf, const config_setting_t *s)
{
	set_string(cf, s, &cf->p->settings.redis.password);
}

static void
set_redis_password_file(struct conf *cf, const config_setting_t *s)
{
	set_string(cf, s, &cf->p->settings.redis.password_file);
}

/* Far below the MTAs' own milter timeouts (Sendmail 10 s, Postfix 30 s):
 * a slow store must never stall a session. */
static void
set_redis_timeout(struct conf *cf, const config_setting_t *s)
{
	unsigned long ms = conf_duration(cf, s);

	if (ms < 1 || ms > 5000)
		conf_error(cf, s, "timeout must be from 1ms to 5s (default "
		    "1s): a store slower than that stalls the MTA");
	else
		cf->p->settings.redis.timeout_ms = ms;
}

/* HOST:PORT, the port after the last colon. */
static int
redis_addr_ok(const char *v)
{
	const char *colon = strrchr(v, ':');
	char *end;
	long port;

	if (colon == NULL || colon == v || colon - v > 255)
		return 0;
	port = strtol(colon + 1, &end, 10);
	return colon[1] != '\0' && *end == '\0' && port >= 1 && port <= 65535;
}

/* A list of 1 to 64 "HOST:PORT" strings into a NULL-terminated array. */
static void
set_redis_addrs(struct conf *cf, const config_setting_t *s, const char ***field,
    const char *example)
{
	int i, n = config_setting_length(s);
	const char **v;

	if (n < 1 || n > 64) {
		conf_error(cf, s, "%s: expected a list of 1 to 64 addresses such "
		    "as [ \"%s\" ]", config_setting_name(s), example);
		return;
	}
	v = xcalloc((size_t)n + 1, sizeof *v);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		const char *a = config_setting_get_string(e);

		if (a == NULL || !redis_addr_ok(a)) {
			conf_error(cf, e, "%s: \"%s\" is not an address; expected "
			    "HOST:PORT such as \"%s\"", config_setting_name(s),
			    a != NULL ? a : "?", example);
			a = "";
		}
		v[i] = xstrdup(a);
	}
	pol_strv_free(*field);
	*field = v;
}

static void
set_redis_sentinels(struct conf *cf, const config_setting_t *s)
{
	set_redis_addrs(cf, s, &cf->p->settings.redis.sentinels,
	    "127.0.0.1:26379");
}

static void
set_redis_master(struct conf *cf, const config_setting_t *s)
{
	if (config_setting_get_string(s)[0] == '\0')
		conf_error(cf, s, "master: expected the name the sentinels "
		    "monitor, such as \"mymaster\"");
	else
		set_string(cf, s, &cf->p->settings.redis.master);
}

static void
set_redis_cluster(struct conf *cf, const config_setting_t *s)
{
	set_redis_addrs(cf, s, &cf->p->settings.redis.cluster,
	    "127.0.0.1:7000");
}

static const struct setting redis_settings[] = {
	{ "server", TYPE_STRING, set_redis_server },
	{ "sentinels", TYPE_LIST, set_redis_sentinels },
	{ "master", TYPE_STRING, set_redis_master },
	{ "cluster", TYPE_LIST, set_redis_cluster },
	{ "prefix", TYPE_STRING, set_redis_prefix },
	{ "db", TYPE_INT, set_redis_db },
	{ "password", TYPE_STRING, set_redis_password },
	{ "password_file", TYPE_STRING, set_redis_password_file },
	{ "timeout", TYPE_STRING | TYPE_INT, set_redis_timeout },
};

/* One of server, sentinels + master, or cluster. */
static void
redis_fleet_check(struct conf *cf, const config_setting_t *s)
{
	const struct pol_redis *r = &cf->p->settings.redis;
	const config_setting_t *server = config_setting_get_member(s, "server");

	if (r->sentinels != NULL && r->cluster != NULL)
		conf_error(cf, s, "redis: give sentinels (with master) or "
		    "cluster, not both: a Sentinel set and a Cluster are two "
		    "ways to run Redis");
	else if (r->sentinels != NULL && r->master == NULL)
		conf_error(cf, s, "redis: sentinels need the master's name: add "
		    "master = \"mymaster\" (as in the sentinels' "
		    "\"sentinel monitor\" line)");
	else if (r->master != NULL && r->sentinels == NULL)
		conf_error(cf, s, "redis: master names a Sentinel set: add "
		    "sentinels = [ \"HOST:PORT\", ... ]");
	else if (server != NULL && (r->sentinels != NULL || r->cluster != NULL))
		conf_error(cf, server, "redis: server is one Redis; with %s "
		    "the milter finds the servers itself: drop server",
		    r->cluster != NULL ? "cluster" : "sentinels");
	else if (r->cluster != NULL && r->db != 0)
		conf_error(cf, config_setting_get_member(s, "db"), "redis: a "
		    "Redis Cluster has only db 0: drop db");
}

static void
set_redis(struct conf *cf, const config_setting_t *s)
{
	conf_group(cf, s, redis_settings, NELEM(redis_settings));
	if (cf->p->settings.redis.password != NULL &&
	    cf->p->settings.redis.password_file != NULL)
		conf_error(cf, s, "redis: give password or password_file, not "
		    "both");
	redis_fleet_check(cf, s);
}

static void
set_on_error(struct conf *cf, const config_setting_t *s)
{
	static const char *const names[] = { "tempfail", "accept", "local" };
	int i = conf_choice(cf, s, names, NELEM(names));

	/* local: the store's errors go to memory; any other fault tempfails */
	if (i >= 0)
		cf->p->settings.on_error = i == 1 ? POL_ACCEPT : POL_TEMPFAIL;
	cf->p->settings.redis.local = i == 2;
}

static void
set_state_file(struct conf *cf, const config_setting_t *s)
{
	set_string(cf, s, &cf->p->settings.state_file);
}

static void
set_save_interval(struct conf *cf, const config_setting_t *s)
{
	unsigned long ms = conf_duration(cf, s);

	if (ms < 1000)
		conf_error(cf, s, "save_interval must be at least 1s");
	else
		cf->p->settings.save_interval_s = ms / 1000;
}

static void
set_max_keys(struct conf *cf, const config_setting_t *s)
{
	long long n = config_setting_type(s) == CONFIG_TYPE_INT64 ?
	    config_setting_get_int64(s) : config_setting_get_int(s);

	if (n < 1000)
		conf_error(cf, s, "max_keys must be at least 1000");
	else
		cf->p->settings.max_keys = (unsigned long)n;
}

static const struct setting state_settings[] = {
	{ "backend", TYPE_STRING, set_backend },
	{ "file", TYPE_STRING, set_state_file },
	{ "save_interval", TYPE_STRING | TYPE_INT, set_save_interval },
	{ "max_keys", TYPE_INT, set_max_keys },
	{ "on_error", TYPE_STRING, set_on_error },
	{ "redis", TYPE_GROUP, set_redis },
};

/* ---- policy_service = { } ---- */

static void
set_ps_listen(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s);

	if (v[0] == '\0') {
		free((char *)cf->p->settings.policy_service.listen);
		cf->p->settings.policy_service.listen = NULL;	/* "": off */
		return;
	}
	if ((strncmp(v, "unix:/", 6) != 0 && strncmp(v, "inet:", 5) != 0 &&
	    strncmp(v, "inet6:", 6) != 0) || (v[0] == 'i' && !strchr(v, '@'))) {
		conf_error(cf, s, "listen \"%s\" is not a socket; expected "
		    "\"unix:/path\", \"inet:PORT@HOST\" or \"inet6:PORT@HOST\"", v);
		return;
	}
	set_string(cf, s, &cf->p->settings.policy_service.listen);
}

static void
set_ps_max_connections(struct conf *cf, const config_setting_t *s)
{
	int n = config_setting_get_int(s);

	if (n < 1 || n > 100000)
		conf_error(cf, s, "max_connections must be between 1 and 100000");
	else
		cf->p->settings.policy_service.max_connections = (unsigned long)n;
}

static const struct setting policy_service_settings[] = {
	{ "listen", TYPE_STRING, set_ps_listen },
	{ "max_connections", TYPE_INT, set_ps_max_connections },
};

/* ---- metrics = { } ---- */

/* "IP:PORT" or "[IPv6]:PORT", a numeric address and a port 1-65535. */
static int
valid_listen(const char *v)
{
	const char *colon = strrchr(v, ':');
	char host[64], *end;
	unsigned char a[16];
	size_t n;
	long port;

	if (colon == NULL || (n = (size_t)(colon - v)) < 2 || n >= sizeof host)
		return 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
		return 0;
	if (v[0] == '[' && v[n - 1] == ']') {
		memcpy(host, v + 1, n - 2);
		host[n - 2] = '\0';
		return inet_pton(AF_INET6, host, a) == 1;
	}
	memcpy(host, v, n);
	host[n] = '\0';
	return inet_pton(AF_INET, host, a) == 1;
}

static void
set_metrics_listen(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s);

	if (v[0] == '\0') {
		free((char *)cf->p->settings.metrics.listen);
		cf->p->settings.metrics.listen = NULL;	/* "": off */
	} else if (!valid_listen(v))
		conf_error(cf, s, "listen \"%s\" is not an address and port; "
		    "expected \"127.0.0.1:9187\" or \"[::1]:9187\"", v);
	else
		set_string(cf, s, &cf->p->settings.metrics.listen);
}

static const struct setting metrics_settings[] = {
	{ "listen", TYPE_STRING, set_metrics_listen },
};

/* ---- lists ---- */

static void
check_lists(struct conf *cf)
{
	int i, n = config_setting_length(cf->lists);

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(cf->lists, i);

		if ((conf_types(s) & (TYPE_STRING | TYPE_LIST)) == 0)
			conf_error(cf, s, "list %s must be a string or a list of "
			    "strings", config_setting_name(s));
	}
}

/* ---- replies ---- */

/* Validate every entry of replies = { } once, used or not. */
static void
check_replies(struct conf *cf)
{
	int i, n = config_setting_length(cf->replies);
	char err[ERR_MAX];

	for (i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(cf->replies, i);
		struct reply *r = NULL;

		if (config_setting_type(g) == CONFIG_TYPE_GROUP)
			r = conf_reply_group(cf, g);
		else if (config_setting_type(g) == CONFIG_TYPE_STRING) {
			if ((r = reply_parse(config_setting_get_string(g), err,
			    sizeof err)) == NULL)
				conf_error(cf, g, "reply %s: %s",
				    config_setting_name(g), err);
		} else
			conf_error(cf, g, "reply %s must be a group { code = ...; "
			    "text = ...; } or a string \"CODE X.Y.Z text\"",
			    config_setting_name(g));
		reply_free(r);
	}
}

/* ---- relay = { } ---- */

static void
set_relay_local(struct conf *cf, const config_setting_t *s)
{
	match_list_free(cf->p->relay.local_domains);
	cf->p->relay.local_domains = conf_matcher(cf, s, MATCH_DOMAIN);
}

static void
set_permit_client(struct conf *cf, const config_setting_t *s)
{
	match_list_free(cf->p->relay.permit_client);
	cf->p->relay.permit_client = conf_matcher(cf, s, MATCH_CLIENT);
}

static void
set_permit_auth(struct conf *cf, const config_setting_t *s)
{
	cf->p->relay.permit_authenticated = config_setting_get_bool(s);
}

static const struct setting permit_settings[] = {
	{ "client", TYPE_STRING | TYPE_LIST, set_permit_client },
	{ "authenticated", TYPE_BOOL, set_permit_auth },
};

static void
set_relay_permit(struct conf *cf, const config_setting_t *s)
{
	conf_group(cf, s, permit_settings, NELEM(permit_settings));
}

static void
set_relay_reply(struct conf *cf, const config_setting_t *s)
{
	reply_free(cf->p->relay.reply);
	cf->p->relay.reply = conf_reply(cf, s);
}

static const struct setting relay_settings[] = {
	{ "local_domains", TYPE_STRING | TYPE_LIST, set_relay_local },
	{ "permit", TYPE_GROUP, set_relay_permit },
	{ "reply", TYPE_STRING, set_relay_reply },
};

static void
conf_relay(struct conf *cf, const config_setting_t *g)
{
	struct relay *r = &cf->p->relay;

	r->enabled = 1;
	conf_group(cf, g, relay_settings, NELEM(relay_settings));
	if (r->local_domains == NULL)
		conf_error(cf, g, "relay needs local_domains: the domains this "
		    "server receives mail for (a list or \"@list\")");
	if (r->reply == NULL)
		r->reply = conf_reply_named(cf, "relay_denied");
}

/* ---- top level ---- */

static void
set_milter(struct conf *cf, const config_setting_t *s)
{
	conf_group(cf, s, milter_settings, NELEM(milter_settings));
}

static void
set_state(struct conf *cf, const config_setting_t *s)
{
	conf_group(cf, s, state_settings, NELEM(state_settings));
	if (cf->p->settings.redis.local &&
	    cf->p->settings.backend != POL_BACKEND_REDIS)
		conf_error(cf, config_setting_get_member(s, "on_error"),
		    "on_error = \"local\" falls back from Redis to memory: it "
		    "needs backend = \"redis\"");
}

static void
set_policy_service(struct conf *cf, const config_setting_t *s)
{
	conf_group(cf, s, policy_service_settings,
	    sizeof policy_service_settings / sizeof policy_service_settings[0]);
}

static void
set_metrics(struct conf *cf, const config_setting_t *s)
{
	conf_group(cf, s, metrics_settings,
	    sizeof metrics_settings / sizeof metrics_settings[0]);
}

static void
set_lists(struct conf *cf, const config_setting_t *s)
{
	cf->lists = s;
	check_lists(cf);
}

static void
set_relay(struct conf *cf, const config_setting_t *s)
{
	conf_relay(cf, s);
}

static void
set_rules(struct conf *cf, const config_setting_t *s)
{
	conf_rules(cf, s);
}

static void
set_replies(struct conf *cf, const config_setting_t *s)
{
	cf->replies = s;
	check_replies(cf);
}

/* In this order: lists and replies are referred to by what follows. */
static const struct setting top_settings[] = {
	{ "milter", TYPE_GROUP, set_milter },
	{ "state", TYPE_GROUP, set_state },
	{ "policy_service", TYPE_GROUP, set_policy_service },
	{ "metrics", TYPE_GROUP, set_metrics },
	{ "lists", TYPE_GROUP, set_lists },
	{ "replies", TYPE_GROUP, set_replies },
	{ "relay", TYPE_GROUP, set_relay },
	{ "dns", TYPE_GROUP, conf_dns },
	{ "rules", TYPE_LIST, set_rules },
};

static void
settings_default(struct pol_settings *s)
{
	s->socket = xstrdup("unix:/run/milter-policy/milter-policy.sock");
	s->user = NULL;
	s->socket_mode = 0660;	/* the MTA's user reaches it through socket_group */
	s->syslog_facility = xstrdup("mail");
	s->log_level = LOG_INFO;
	s->mode = POL_ENFORCE;
	s->stats_interval_s = 300;
	s->thread_stack = POL_STACK_DEFAULT;
	s->on_error = POL_TEMPFAIL;
	s->state_file = xstrdup("/var/lib/milter-policy/state");
	s->save_interval_s = 60;
	s->max_keys = 1000000;
	s->backend = POL_BACKEND_MEMORY;
	s->redis.server = xstrdup("127.0.0.1:6379");
	s->redis.prefix = xstrdup("milter-policy:");
	s->redis.timeout_ms = STORE_REDIS_TIMEOUT_MS;
	s->policy_service.max_connections = 1000;
	s->sendmail = xstrdup("/usr/sbin/sendmail");
	s->notify_max_per_hour = 10;
	s->dns.timeout_ms = 2000;
	s->dns.cache_size = 10000;
}

/* Apply the top-level table in its own order, whatever the file's order. */
static void
conf_top(struct conf *cf, const config_setting_t *root)
{
	size_t k, n = NELEM(top_settings);
	char names[ERR_MAX];
	int i;

	for (i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, i);

		for (k = 0; k < n; k++)
			if (strcmp(config_setting_name(s), top_settings[k].name) == 0)
				break;
		if (k == n) {
			conf_known_names(top_settings, n, names, sizeof names);
			conf_error(cf, s, "unknown setting \"%s\"; expected one of: %s",
			    config_setting_name(s), names);
		}
	}
	for (k = 0; k < n; k++) {
		const config_setting_t *s = config_setting_get_member(root,
		    top_settings[k].name);

		if (s == NULL)
			continue;
		if ((conf_types(s) & top_settings[k].types) == 0)
			conf_error(cf, s, "%s must be %s", top_settings[k].name,
			    top_settings[k].name[0] == 'r' && k == n - 1 ?
			    "a list ( { ... }, { ... } )" :
			    conf_types_name(top_settings[k].types));
		else
			top_settings[k].set(cf, s);
	}
}

static int
rule_tests_size(const struct rule *r)
{
	int i;

	for (i = 0; i < r->when.n; i++)
		if (r->when.c[i].kind == COND_SIZE)
			return 1;
	for (i = 0; i < r->unless.n; i++)
		if (r->unless.c[i].kind == COND_SIZE)
			return 1;
	return 0;
}

/* Whole-policy facts derived once the groups are read. */
static void
conf_finish(struct conf *cf)
{
	struct policy *p = cf->p;
	int i, k;

	p->stages = 1u << POL_CONNECT | 1u << POL_MAIL | 1u << POL_EOM;
	if (p->relay.enabled)
		p->stages |= 1u << POL_RCPT;
	if (p->nheaders > 0)
		p->stages |= 1u << POL_HEADER;
	if (p->body_fp)
		p->stages |= 1u << POL_BODY;
	for (i = 0; i < p->nrules; i++) {
		const struct dupspec *d = p->rules[i].dup;
		const char *name;

		p->rules[i].content = pol_rule_content(p, i, &name) != NULL;

		for (k = 0; d != NULL && k < d->keys.n; k++)
			if (d->keys.k[k].kind == KEY_RCPT ||
			    d->keys.k[k].kind == KEY_RCPT_DOMAIN)
				p->msg_rcpts = 1;
		p->stages |= 1u << p->rules[i].stage;
		if ((p->rules[i].stage > POL_MAIL && rule_tests_size(&p->rules[i])) ||
		    (p->rules[i].limit && p->rules[i].limit->unit == RL_BYTES))
			p->stages |= 1u << POL_HEADER |	/* to count the bytes */
			    1u << POL_BODY;
	}
	p->internal_error = conf_reply_named(cf, "internal_error");
	p->store_unavailable = conf_reply_named(cf, "store_unavailable");
	p->dns_unavailable = conf_reply_named(cf, "dns_unavailable");
}

/* Append what the admin most likely missed to a bare "syntax error". */
static void
syntax_hint(const config_t *cfg, const char *path, char *line, size_t size)
{
	char hint[ERR_MAX];
	size_t len = strlen(line);

	conf_hint(config_error_file(cfg) ? config_error_file(cfg) : path,
	    config_error_line(cfg), hint, sizeof hint);
	snprintf(line + len, size - len, ": %s", hint);
}

struct policy *
pol_load(const char *path, pol_error_fn *errfn, void *arg)
{
	struct conf cf = { .path = path, .errfn = errfn, .arg = arg };
	char line[ERR_MAX + 64];

	config_init(&cf.cfg);
	if (config_read_file(&cf.cfg, path) != CONFIG_TRUE) {
		if (config_error_type(&cf.cfg) == CONFIG_ERR_FILE_IO)
			snprintf(line, sizeof line, "%s:0: cannot read the policy "
			    "file: %s", path, strerror(errno));
		else
			snprintf(line, sizeof line, "%s:%d: %s",
			    config_error_file(&cf.cfg) ? config_error_file(&cf.cfg)
			    : path, config_error_line(&cf.cfg),
			    config_error_text(&cf.cfg));
		if (config_error_type(&cf.cfg) == CONFIG_ERR_PARSE &&
		    strcmp(config_error_text(&cf.cfg), "syntax error") == 0)
			syntax_hint(&cf.cfg, path, line, sizeof line);
		errfn(arg, line);
		config_destroy(&cf.cfg);
		return NULL;
	}
	cf.p = xcalloc(1, sizeof *cf.p);
	atomic_init(&cf.p->refs, 1);
	cf.p->path = xstrdup(path);
	settings_default(&cf.p->settings);
	conf_top(&cf, config_root_setting(&cf.cfg));
	conf_finish(&cf);
	config_destroy(&cf.cfg);
	if (cf.nerrors > 0) {
		policy_free(cf.p);
		return NULL;
	}
	return cf.p;
}
