/*
 * conf.h: the policy loader's internals: conf.c (the file, the
 * milter/state/lists/relay/replies groups) calls conf_rule.c (rules), and
 * both read single values through conf_value.c.  Nothing outside conf*.c
 * includes this; libconfig types stay here.
 *
 * struct conf lives on pol_load's stack for one load; the policy it fills
 * (cf->p) is freed by pol_load when any error was reported.
 */
#ifndef CONF_H
#define CONF_H

#include <libconfig.h>

#include "rules.h"

#define ERR_MAX		1024
#define LIST_DEPTH_MAX	8

struct conf {
	const char *path;
	pol_error_fn *errfn;
	void *arg;
	int nerrors;
	config_t cfg;
	const config_setting_t *lists;		/* lists = { }, or NULL */
	const config_setting_t *replies;	/* replies = { }, or NULL */
	struct policy *p;
	struct rule *rule;			/* the rule being compiled */
	struct condset *conds;			/* its when or unless, being filled */
};

/* One known key of a group: its name, the types it may have, its setter. */
struct setting {
	const char *name;
	int types;			/* TYPE_* bits */
	void (*set)(struct conf *, const config_setting_t *);
};

#define TYPE_STRING	0x01
#define TYPE_INT	0x02
#define TYPE_BOOL	0x04
#define TYPE_GROUP	0x08
#define TYPE_LIST	0x10	/* an array [ ] or a list ( ) */

/* ---- conf_value.c ---- */

/* The TYPE_* bit of a setting's type, and a name for a set of them. */
int conf_types(const config_setting_t *s);
const char *conf_types_name(int types);

/* The names of a table of settings, ", "-separated, into out. */
void conf_known_names(const struct setting *tab, size_t n, char *out,
    size_t outsz);

/* Report "FILE:LINE: message" for setting s (NULL: line 0) and count it. */
void conf_error(struct conf *cf, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Apply a table of settings to a group's members; unknown keys and wrong
 * types are reported. */
void conf_group(struct conf *cf, const config_setting_t *group,
    const struct setting *tab, size_t n);

/* Parse "50ms", "30s", "10m", "1h", "1d" or plain seconds; 0 or -1. */
int conf_parse_duration(const char *s, unsigned long *ms);

/* A duration setting (string or number of seconds) in ms; 0 after an error. */
unsigned long conf_duration(struct conf *cf, const config_setting_t *s);

/* The index of a string setting's value in names[], or -1 after an error. */
int conf_choice(struct conf *cf, const config_setting_t *s,
    const char *const *names, int n);

/* "enforce" or "dry-run" into *mode; 0, or -1 after an error. */
int conf_mode(struct conf *cf, const config_setting_t *s, enum pol_mode *mode);

/* A string or list setting ("@list", "file:PATH", patterns) compiled into a
 * new match list of one kind; errors reported, never NULL. */
struct match_list *conf_matcher(struct conf *cf, const config_setting_t *s,
    enum match_kind kind);

/* The reply a string setting names (replies group, built-in or inline);
 * a new copy the caller owns, or NULL after an error. */
struct reply *conf_reply(struct conf *cf, const config_setting_t *s);

/* A reply written as a group { code; xcode; text; }; a new reply, or
 * NULL after an error. */
struct reply *conf_reply_group(struct conf *cf, const config_setting_t *g);

/* A built-in reply by name, or the policy's replies = { } entry that
 * overrides it: the defaults rules and the relay check use. */
struct reply *conf_reply_named(struct conf *cf, const char *name);

/* What the admin most likely missed where libconfig says only "syntax
 * error" at line `line` of path (conf_hint.c): a short guess into out. */
void conf_hint(const char *path, int line, char *out, size_t size);

/* ---- conf_dns.c ---- */

/* The dns = { } group into cf->p->settings.dns. */
void conf_dns(struct conf *cf, const config_setting_t *s);

/* ---- conf_rule.c ---- */

/* Compile rules = ( ... ) into cf->p->rules. */
void conf_rules(struct conf *cf, const config_setting_t *list);

/* ---- conf_overrides.c ---- */

struct ov_table;

/* limit = { overrides = "file:PATH"; }: load the table into *out (a
 * table already there is freed); each bad line is an error at its
 * FILE:LINE. */
void conf_overrides(struct conf *cf, const config_setting_t *s,
    struct ov_table **out);

#endif
