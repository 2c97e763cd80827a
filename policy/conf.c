/*
 * conf.c: the only libconfig user.  Reads a policy file, validates every
 * setting, and compiles it into a struct policy (rules.h).
 *
 * Errors are counted, not fatal: each is reported as "FILE:LINE: message"
 * through the caller's callback and loading goes on, so an admin sees every
 * mistake in one run; at the end a policy with errors is freed and NULL
 * returned.  libconfig strings never leave this file: what is kept is
 * copied.
 */
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
#include "xmalloc.h"

void
conf_error(struct conf *cf, const config_setting_t *s, const char *fmt, ...)
{
	char msg[ERR_MAX], line[ERR_MAX + 64];
	const char *file = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s != NULL)
		file = config_setting_source_file(s);
	snprintf(line, sizeof line, "%s:%d: %s", file ? file : cf->path,
	    s ? config_setting_source_line(s) : 0, msg);
	cf->errfn(cf->arg, line);
	cf->nerrors++;
}

static int
setting_types(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		return TYPE_STRING;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return TYPE_INT;
	case CONFIG_TYPE_BOOL:
		return TYPE_BOOL;
	case CONFIG_TYPE_GROUP:
		return TYPE_GROUP;
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
		return TYPE_LIST;
	default:
		return 0;
	}
}

static const char *
types_name(int types)
{
	if (types == (TYPE_STRING | TYPE_LIST))
		return "a string or a list of strings";
	if (types == (TYPE_STRING | TYPE_INT))
		return "a string or a number";
	if (types & TYPE_STRING)
		return "a string";
	if (types & TYPE_INT)
		return "a number";
	if (types & TYPE_BOOL)
		return "true or false";
	if (types & TYPE_GROUP)
		return "a group { ... }";
	return "a list";
}

static void
known_names(const struct setting *tab, size_t n, char *out, size_t outsz)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < n && len < outsz; i++)
		len += snprintf(out + len, outsz - len, "%s%s",
		    i ? ", " : "", tab[i].name);
}

/* Apply a table of settings to the members of a group; unknown names and
 * wrong types are errors. */
void
conf_group(struct conf *cf, const config_setting_t *group,
    const struct setting *tab, size_t n)
{
	char names[ERR_MAX];
	int i, len = config_setting_length(group);
	size_t k;

	for (i = 0; i < len; i++) {
		const config_setting_t *s = config_setting_get_elem(group, i);
		const char *name = config_setting_name(s);

		for (k = 0; k < n; k++)
			if (name != NULL && strcmp(name, tab[k].name) == 0)
				break;
		if (k == n) {
			known_names(tab, n, names, sizeof names);
			conf_error(cf, s, "unknown setting \"%s\" in %s; expected one of: %s",
			    name ? name : "?", config_setting_name(group) ?
			    config_setting_name(group) : "a rule", names);
		} else if ((setting_types(s) & tab[k].types) == 0) {
			conf_error(cf, s, "%s must be %s", name,
			    types_name(tab[k].types));
		} else
			tab[k].set(cf, s);
	}
}

/* Durations: "30s", "10m", "1h", "1d", "50ms", or a number of seconds. */
int
conf_parse_duration(const char *s, unsigned long *ms)
{
	static const struct { const char *unit; unsigned long ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "", 1000 },
	};
	unsigned long n;
	char *end;
	size_t i;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0)
		return -1;
	for (i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(end, units[i].unit) == 0) {
			if (n > ULONG_MAX / units[i].ms)
				return -1;
			*ms = n * units[i].ms;
			return 0;
		}
	return -1;
}

unsigned long
conf_duration(struct conf *cf, const config_setting_t *s)
{
	unsigned long ms = 0;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		long long n = config_setting_get_int64(s);

		if (config_setting_type(s) == CONFIG_TYPE_INT)
			n = config_setting_get_int(s);
		if (n < 0)
			conf_error(cf, s, "%s must not be negative",
			    config_setting_name(s));
		return n < 0 ? 0 : (unsigned long)n * 1000;
	}
	if (conf_parse_duration(config_setting_get_string(s), &ms) < 0)
		conf_error(cf, s, "%s: bad duration \"%s\"; expected a number "
		    "with a unit: 50ms, 30s, 10m, 1h, 1d",
		    config_setting_name(s), config_setting_get_string(s));
	return ms;
}

/* A string setting that must be one of names[]; returns its index or -1. */
int
conf_choice(struct conf *cf, const config_setting_t *s,
    const char *const *names, int n)
{
	const char *v = config_setting_get_string(s);
	char list[ERR_MAX];
	size_t len = 0;
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	list[0] = '\0';
	for (i = 0; i < n; i++)
		len += snprintf(list + len, sizeof list - len, "%s\"%s\"",
		    i ? ", " : "", names[i]);
	conf_error(cf, s, "%s: \"%s\" is not valid; expected one of %s",
	    config_setting_name(s), v, list);
	return -1;
}

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

	if (conf_choice(cf, s, names, sizeof names / sizeof names[0]) >= 0)
		set_string(cf, s, &cf->p->settings.syslog_facility);
}

static void
set_log_level(struct conf *cf, const config_setting_t *s)
{
	static const char *const names[] = { "error", "warning", "notice",
	    "info", "debug" };
	static const int levels[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE,
	    LOG_INFO, LOG_DEBUG };
	int i = conf_choice(cf, s, names, 5);

	if (i >= 0)
		cf->p->settings.log_level = levels[i];
}

int
conf_mode(struct conf *cf, const config_setting_t *s, enum pol_mode *mode)
{
	static const char *const names[] = { "enforce", "dry-run" };
	int i = conf_choice(cf, s, names, 2);

	if (i < 0)
		return -1;
	*mode = i == 0 ? POL_ENFORCE : POL_DRY_RUN;
	return 0;
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

/* "0660": an octal mode the MTA's user can connect through. */
static void
set_socket_mode(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s);
	char *end;
	long m = strtol(v, &end, 8);

	if (*v == '\0' || *end != '\0' || m < 0 || m > 0777 || (m & 0600) != 0600)
		conf_error(cf, s, "socket_mode \"%s\": expected an octal mode "
		    "such as \"0660\" that lets the milter's own user read and "
		    "write", v);
	else
		cf->p->settings.socket_mode = (unsigned)m;
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
};

/* ---- state = { } ---- */

static void
set_backend(struct conf *cf, const config_setting_t *s)
{
	static const char *const names[] = { "memory", "redis" };
	int i = conf_choice(cf, s, names, 2);

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
	conf_group(cf, s, redis_settings, sizeof redis_settings /
	    sizeof redis_settings[0]);
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
	int i = conf_choice(cf, s, names, 3);

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

/* ---- lists ---- */

static void match_from(struct conf *, struct match_list *,
    const config_setting_t *, int);

/* Is "@name" a reference to a list (no dot), rather than "@domain"? */
static int
is_list_ref(const char *v)
{
	return v[0] == '@' && v[1] != '\0' && strchr(v, '.') == NULL;
}

/* Cut a comment: a line that starts with '#', or " #..." after an entry
 * that is not a /regex/ (a regex may hold " #"). */
static void
list_line_comment(char *p)
{
	char *e;

	if (*p == '#')
		*p = '\0';
	else if (*p != '/' && (e = strstr(p, " #")) != NULL)
		*e = '\0';
	else if (*p != '/' && (e = strstr(p, "\t#")) != NULL)
		*e = '\0';
}

static void
match_file(struct conf *cf, struct match_list *l, const config_setting_t *s,
    const char *path)
{
	char err[ERR_MAX], *line = NULL, *full = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0;
	FILE *fp;

	if (path[0] != '/' && strrchr(cf->path, '/') != NULL &&
	    asprintf(&full, "%.*s/%s", (int)(strrchr(cf->path, '/') - cf->path),
	    cf->path, path) < 0)
		full = NULL;
	if ((fp = fopen(full ? full : path, "r")) == NULL) {
		conf_error(cf, s, "cannot read list file %s: %s",
		    full ? full : path, strerror(errno));
		free(full);
		return;
	}
	while ((len = getline(&line, &cap, fp)) >= 0) {
		char *p = line, *e;

		lineno++;
		while (isspace((unsigned char)*p))
			p++;
		list_line_comment(p);
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*p != '\0' && match_add(l, p, err, sizeof err) < 0)
			conf_error(cf, s, "%s line %d: %s", full ? full : path,
			    lineno, err);
	}
	free(line);
	fclose(fp);
	free(full);
}

/* Add one string value: a pattern, "@list" or "file:PATH". */
static void
match_value(struct conf *cf, struct match_list *l, const config_setting_t *s,
    const char *v, int depth)
{
	char err[ERR_MAX];
	const config_setting_t *ref;

	if (is_list_ref(v)) {
		ref = cf->lists ? config_setting_get_member(cf->lists, v + 1) : NULL;
		if (ref == NULL)
			conf_error(cf, s, "unknown list \"%s\": define it in lists = { }", v);
		else if (depth >= LIST_DEPTH_MAX)
			conf_error(cf, s, "list \"%s\" refers to lists more than %d "
			    "deep (a loop?)", v, LIST_DEPTH_MAX);
		else
			match_from(cf, l, ref, depth + 1);
	} else if (strncmp(v, "file:", 5) == 0)
		match_file(cf, l, s, v + 5);
	else if (match_add(l, v, err, sizeof err) < 0)
		conf_error(cf, s, "%s", err);
}

/* Add a string or a list of strings to a match list. */
static void
match_from(struct conf *cf, struct match_list *l, const config_setting_t *s,
    int depth)
{
	int i, n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		match_value(cf, l, s, config_setting_get_string(s), depth);
		return;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			conf_error(cf, e, "%s: list entries must be strings",
			    config_setting_name(s) ? config_setting_name(s) : "list");
		else
			match_value(cf, l, e, config_setting_get_string(e), depth);
	}
}

/* Compile a string or list setting into a new match list of one kind. */
struct match_list *
conf_matcher(struct conf *cf, const config_setting_t *s, enum match_kind kind)
{
	struct match_list *l = match_list_new(kind);

	match_from(cf, l, s, 0);
	match_list_finish(l);
	return l;
}

static void
check_lists(struct conf *cf)
{
	int i, n = config_setting_length(cf->lists);

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(cf->lists, i);

		if ((setting_types(s) & (TYPE_STRING | TYPE_LIST)) == 0)
			conf_error(cf, s, "list %s must be a string or a list of "
			    "strings", config_setting_name(s));
	}
}

/* ---- replies ---- */

static struct reply *
reply_from_group(struct conf *cf, const config_setting_t *g)
{
	const char *lines[REPLY_MAX_LINES], *xcode = NULL, *name;
	const config_setting_t *text, *s;
	char err[ERR_MAX];
	struct reply *r;
	int code = 0, n = 0, i;

	name = config_setting_name(g);
	for (i = 0; i < config_setting_length(g); i++) {
		s = config_setting_get_elem(g, i);
		if (strcmp(config_setting_name(s), "code") != 0 &&
		    strcmp(config_setting_name(s), "xcode") != 0 &&
		    strcmp(config_setting_name(s), "text") != 0)
			conf_error(cf, s, "unknown setting \"%s\" in reply %s; "
			    "expected code, xcode, text", config_setting_name(s), name);
	}
	if (config_setting_lookup_int(g, "code", &code) != CONFIG_TRUE) {
		conf_error(cf, g, "reply %s needs code = NNN (a number)", name);
		return NULL;
	}
	config_setting_lookup_string(g, "xcode", &xcode);
	if ((text = config_setting_get_member(g, "text")) == NULL) {
		conf_error(cf, g, "reply %s needs text = \"...\" or a list of lines", name);
		return NULL;
	}
	if (config_setting_type(text) == CONFIG_TYPE_STRING)
		lines[n++] = config_setting_get_string(text);
	else
		for (i = 0; i < config_setting_length(text) && n < REPLY_MAX_LINES; i++)
			if ((lines[n] = config_setting_get_string_elem(text, i)) != NULL)
				n++;
	if (n == 0 || (config_setting_type(text) != CONFIG_TYPE_STRING &&
	    config_setting_length(text) > n)) {
		conf_error(cf, text, "reply %s: text must be a string or a list of "
		    "at most %d strings", name, REPLY_MAX_LINES);
		return NULL;
	}
	if ((r = reply_new(name, code, xcode, lines, n, err, sizeof err)) == NULL)
		conf_error(cf, g, "reply %s: %s", name, err);
	return r;
}

/* The policy's own replies = { NAME } entry; NULL when it has none or a
 * bad one (check_replies reports that). */
static struct reply *
reply_defined(struct conf *cf, const char *name)
{
	const config_setting_t *g;
	char err[ERR_MAX];

	if (cf->replies == NULL ||
	    (g = config_setting_get_member(cf->replies, name)) == NULL)
		return NULL;
	if (config_setting_type(g) == CONFIG_TYPE_GROUP)
		return reply_from_group(cf, g);
	if (config_setting_type(g) == CONFIG_TYPE_STRING)
		return reply_parse(config_setting_get_string(g), err, sizeof err);
	return NULL;
}

struct reply *
conf_reply_named(struct conf *cf, const char *name)
{
	struct reply *r = reply_defined(cf, name);

	return r != NULL ? r : reply_copy(reply_builtin(name));
}

/* A reply named in the policy: the replies group, a built-in, or inline. */
struct reply *
conf_reply(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s);
	const struct reply *b;
	struct reply *r;
	char err[ERR_MAX];

	if (isdigit((unsigned char)v[0])) {
		if ((r = reply_parse(v, err, sizeof err)) == NULL)
			conf_error(cf, s, "reply: %s", err);
		return r;
	}
	if (cf->replies && config_setting_get_member(cf->replies, v) != NULL)
		return reply_defined(cf, v);
	if ((b = reply_builtin(v)) != NULL)
		return reply_copy(b);
	conf_error(cf, s, "unknown reply \"%s\": define it in replies = { }, "
	    "use a built-in name (see milter-policy.conf(5)) or write "
	    "\"CODE X.Y.Z text\"", v);
	return NULL;
}

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
			r = reply_from_group(cf, g);
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
	conf_group(cf, s, permit_settings, sizeof permit_settings /
	    sizeof permit_settings[0]);
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
	conf_group(cf, g, relay_settings, sizeof relay_settings /
	    sizeof relay_settings[0]);
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
	conf_group(cf, s, milter_settings, sizeof milter_settings /
	    sizeof milter_settings[0]);
}

static void
set_state(struct conf *cf, const config_setting_t *s)
{
	conf_group(cf, s, state_settings, sizeof state_settings /
	    sizeof state_settings[0]);
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
	{ "lists", TYPE_GROUP, set_lists },
	{ "replies", TYPE_GROUP, set_replies },
	{ "relay", TYPE_GROUP, set_relay },
	{ "rules", TYPE_LIST, set_rules },
};

static void
settings_default(struct pol_settings *s)
{
	s->socket = xstrdup("unix:/run/milter-policy/milter-policy.sock");
	s->user = NULL;
	s->socket_mode = 0666;
	s->syslog_facility = xstrdup("mail");
	s->log_level = LOG_INFO;
	s->mode = POL_ENFORCE;
	s->stats_interval_s = 300;
	s->on_error = POL_TEMPFAIL;
	s->state_file = xstrdup("/var/lib/milter-policy/state");
	s->save_interval_s = 60;
	s->max_keys = 1000000;
	s->backend = POL_BACKEND_MEMORY;
	s->redis.server = xstrdup("127.0.0.1:6379");
	s->redis.prefix = xstrdup("milter-policy:");
	s->redis.timeout_ms = STORE_REDIS_TIMEOUT_MS;
	s->policy_service.max_connections = 1000;
}

/* Apply the top-level table in its own order, whatever the file's order. */
static void
conf_top(struct conf *cf, const config_setting_t *root)
{
	size_t k, n = sizeof top_settings / sizeof top_settings[0];
	char names[ERR_MAX];
	int i;

	for (i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, i);

		for (k = 0; k < n; k++)
			if (strcmp(config_setting_name(s), top_settings[k].name) == 0)
				break;
		if (k == n) {
			known_names(top_settings, n, names, sizeof names);
			conf_error(cf, s, "unknown setting \"%s\"; expected one of: %s",
			    config_setting_name(s), names);
		}
	}
	for (k = 0; k < n; k++) {
		const config_setting_t *s = config_setting_get_member(root,
		    top_settings[k].name);

		if (s == NULL)
			continue;
		if ((setting_types(s) & top_settings[k].types) == 0)
			conf_error(cf, s, "%s must be %s", top_settings[k].name,
			    top_settings[k].name[0] == 'r' && k == n - 1 ?
			    "a list ( { ... }, { ... } )" :
			    types_name(top_settings[k].types));
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

		for (k = 0; d != NULL && k < d->nkeys; k++)
			if (d->keys[k].kind == KEY_RCPT ||
			    d->keys[k].kind == KEY_RCPT_DOMAIN)
				p->msg_rcpts = 1;
		p->stages |= 1u << p->rules[i].stage;
		if ((p->rules[i].stage > POL_MAIL && rule_tests_size(&p->rules[i])) ||
		    (p->rules[i].limit && p->rules[i].limit->unit == RL_BYTES))
			p->stages |= 1u << POL_BODY;	/* to count the bytes */
	}
	p->internal_error = conf_reply_named(cf, "internal_error");
	p->store_unavailable = conf_reply_named(cf, "store_unavailable");
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

/* ---- what a rule needs ---- */

static const char *
condset_content(const struct condset *cs)
{
	int i;

	for (i = 0; i < cs->n; i++)
		if (cs->c[i].kind == COND_HEADER)
			return "it tests a header";
	return NULL;
}

static const char *
keys_content(const struct keyspec *k, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (k[i].kind == KEY_HEADER)
			return "it counts per header";
	return NULL;
}

const char *
pol_rule_content(const struct policy *p, int i, const char **name)
{
	const struct rule *r = &p->rules[i];
	const char *why;

	*name = r->name;
	if (r->dup != NULL)
		return "it counts duplicate messages";
	if ((why = condset_content(&r->when)) != NULL ||
	    (why = condset_content(&r->unless)) != NULL ||
	    (r->limit != NULL &&
	    (why = keys_content(r->limit->keys, r->limit->nkeys)) != NULL))
		return why;
	if (r->stage == POL_HEADER || r->stage == POL_EOH || r->stage == POL_BODY)
		return "it is checked at a header or body stage";
	return NULL;
}
