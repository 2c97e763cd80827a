/*
 * conf_value.c: reading one setting's value, for conf.c (the file and its
 * groups) and conf_rule.c (rules): errors as FILE:LINE, groups of known
 * settings, durations, choices among names, match lists ("@list",
 * "file:PATH", patterns) and replies.  Part of the loader; see conf.h.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "util.h"

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

int
conf_types(const config_setting_t *s)
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

const char *
conf_types_name(int types)
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

void
conf_known_names(const struct setting *tab, size_t n, char *out, size_t outsz)
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
			conf_known_names(tab, n, names, sizeof names);
			conf_error(cf, s, "unknown setting \"%s\" in %s; expected one of: %s",
			    name ? name : "?", config_setting_name(group) ?
			    config_setting_name(group) : "a rule", names);
		} else if ((conf_types(s) & tab[k].types) == 0) {
			conf_error(cf, s, "%s must be %s", name,
			    conf_types_name(tab[k].types));
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
	for (i = 0; i < NELEM(units); i++)
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

int
conf_mode(struct conf *cf, const config_setting_t *s, enum pol_mode *mode)
{
	static const char *const names[] = { "enforce", "dry-run" };
	int i = conf_choice(cf, s, names, NELEM(names));

	if (i < 0)
		return -1;
	*mode = i == 0 ? POL_ENFORCE : POL_DRY_RUN;
	return 0;
}

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

/* ---- replies ---- */

struct reply *
conf_reply_group(struct conf *cf, const config_setting_t *g)
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
		return conf_reply_group(cf, g);
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
