/*
 * conf_rule.c: compiles rules = ( { ... }, ... ) into struct rule (rules.h):
 * conditions, action, reply, mode, scope and the stage a rule runs at.
 * Part of the loader; see conf.h.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "util.h"
#include "xmalloc.h"

#define HEADER_PREFIX	"header:"	/* per = "header:NAME", of = "header:NAME" */

static struct cond *
cond_add(struct condset *cs, enum cond_kind kind)
{
	struct cond *c;

	cs->c = xrealloc(cs->c, (cs->n + 1) * sizeof *cs->c);
	c = &cs->c[cs->n++];
	memset(c, 0, sizeof *c);
	c->kind = kind;
	return c;
}

static void
cond_list(struct conf *cf, const config_setting_t *s, enum cond_kind kind,
    enum match_kind mk)
{
	cond_add(cf->conds, kind)->list = conf_matcher(cf, s, mk);
}

#define COND_LIST_SETTER(fn, kind, mk) \
	static void fn(struct conf *cf, const config_setting_t *s) \
	{ cond_list(cf, s, kind, mk); }

COND_LIST_SETTER(set_client, COND_CLIENT, MATCH_CLIENT)
COND_LIST_SETTER(set_client_name, COND_CLIENT_NAME, MATCH_HOST)
COND_LIST_SETTER(set_helo, COND_HELO, MATCH_HOST)
COND_LIST_SETTER(set_sender, COND_SENDER, MATCH_ADDR)
COND_LIST_SETTER(set_sender_domain, COND_SENDER_DOMAIN, MATCH_DOMAIN)
COND_LIST_SETTER(set_rcpt, COND_RCPT, MATCH_ADDR)
COND_LIST_SETTER(set_rcpt_domain, COND_RCPT_DOMAIN, MATCH_DOMAIN)
COND_LIST_SETTER(set_auth_user, COND_AUTH_USER, MATCH_STRING)
COND_LIST_SETTER(set_daemon, COND_DAEMON, MATCH_STRING)

static void
set_authenticated(struct conf *cf, const config_setting_t *s)
{
	cond_add(cf->conds, COND_AUTHENTICATED)->want =
	    config_setting_get_bool(s);
}

static void
set_header(struct conf *cf, const config_setting_t *s)
{
	const config_setting_t *m = config_setting_get_member(s, "match");
	const char *name = NULL;
	struct cond *c;
	int i;

	for (i = 0; i < config_setting_length(s); i++) {
		const char *k = config_setting_name(config_setting_get_elem(s, i));

		if (strcmp(k, "name") != 0 && strcmp(k, "match") != 0)
			conf_error(cf, config_setting_get_elem(s, i), "unknown "
			    "setting \"%s\" in header; expected name, match", k);
	}
	if (config_setting_lookup_string(s, "name", &name) != CONFIG_TRUE ||
	    name[0] == '\0' || m == NULL) {
		conf_error(cf, s, "header needs name = \"Header-Name\"; and "
		    "match = \"/pattern/\" (or a list)");
		return;
	}
	c = cond_add(cf->conds, COND_HEADER);
	c->hdr_name = xstrdup(name);
	c->list = conf_matcher(cf, m, MATCH_STRING);
}

static void
set_size(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s);
	struct cond *c;
	char *end;

	/* v[0] first: strchr() finds the terminator, so "" would pass */
	if (v[0] == '\0' || strchr("<>=", v[0]) == NULL ||
	    !isdigit((unsigned char)v[1])) {
		conf_error(cf, s, "size \"%s\": expected \">BYTES\", \"<BYTES\" "
		    "or \"=BYTES\", e.g. \">10000000\"", v);
		return;
	}
	c = cond_add(cf->conds, COND_SIZE);
	c->size_op = v[0] == '>' ? SIZE_GT : v[0] == '<' ? SIZE_LT : SIZE_EQ;
	errno = 0;
	c->size = strtoul(v + 1, &end, 10);
	if (*end != '\0')
		conf_error(cf, s, "size \"%s\": trailing \"%s\"; give a plain "
		    "number of bytes", v, end);
	else if (errno == ERANGE)
		conf_error(cf, s, "size \"%s\": too big; at most %lu bytes",
		    v, ULONG_MAX);
}

/* dnsbl = "zone" or [ "zone=127.0.0.[2..11]", ... ]: one condition,
 * listed on any of them. */
static void
cond_dns(struct conf *cf, const config_setting_t *s, enum cond_kind kind,
    enum dnsl_subject subject)
{
	struct dnsl_cond *d = xcalloc(1, sizeof *d);
	int i, n = config_setting_type(s) == CONFIG_TYPE_STRING ? 1 :
	    config_setting_length(s);
	char err[ERR_MAX];

	d->subject = subject;
	d->allow = kind == COND_DNSWL;
	d->l = xcalloc(n > 0 ? n : 1, sizeof *d->l);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = n == 1 &&
		    config_setting_type(s) == CONFIG_TYPE_STRING ? s :
		    config_setting_get_elem(s, i);
		const char *v = config_setting_get_string(e);

		if (v == NULL)
			conf_error(cf, e, "%s: each list is a string such as "
			    "\"zen.spamhaus.org\"", config_setting_name(s));
		else if (dnsl_parse(v, &d->l[d->n], err, sizeof err) < 0)
			conf_error(cf, e, "%s", err);
		else
			d->n++;
	}
	if (n == 0)
		conf_error(cf, s, "%s needs at least one list, e.g. "
		    "\"zen.spamhaus.org\"", config_setting_name(s));
	cond_add(cf->conds, kind)->dns = d;
	cf->p->uses_dns = 1;
}

#define COND_DNS_SETTER(fn, kind, subject) \
	static void fn(struct conf *cf, const config_setting_t *s) \
	{ cond_dns(cf, s, kind, subject); }

COND_DNS_SETTER(set_dnsbl, COND_DNSBL, DNSL_CLIENT_ADDR)
COND_DNS_SETTER(set_dnswl, COND_DNSWL, DNSL_CLIENT_ADDR)
COND_DNS_SETTER(set_rhsbl, COND_RHSBL, DNSL_SENDER_DOMAIN)
COND_DNS_SETTER(set_rhsbl_helo, COND_RHSBL_HELO, DNSL_HELO)
COND_DNS_SETTER(set_rhsbl_client, COND_RHSBL_CLIENT, DNSL_CLIENT_NAME)

static const struct setting cond_settings[] = {
	{ "client", TYPE_STRING | TYPE_LIST, set_client },
	{ "client_name", TYPE_STRING | TYPE_LIST, set_client_name },
	{ "helo", TYPE_STRING | TYPE_LIST, set_helo },
	{ "sender", TYPE_STRING | TYPE_LIST, set_sender },
	{ "sender_domain", TYPE_STRING | TYPE_LIST, set_sender_domain },
	{ "rcpt", TYPE_STRING | TYPE_LIST, set_rcpt },
	{ "rcpt_domain", TYPE_STRING | TYPE_LIST, set_rcpt_domain },
	{ "authenticated", TYPE_BOOL, set_authenticated },
	{ "auth_user", TYPE_STRING | TYPE_LIST, set_auth_user },
	{ "daemon", TYPE_STRING | TYPE_LIST, set_daemon },
	{ "header", TYPE_GROUP, set_header },
	{ "size", TYPE_STRING, set_size },
	{ "dnsbl", TYPE_STRING | TYPE_LIST, set_dnsbl },
	{ "dnswl", TYPE_STRING | TYPE_LIST, set_dnswl },
	{ "rhsbl", TYPE_STRING | TYPE_LIST, set_rhsbl },
	{ "rhsbl_helo", TYPE_STRING | TYPE_LIST, set_rhsbl_helo },
	{ "rhsbl_client", TYPE_STRING | TYPE_LIST, set_rhsbl_client },
};

static void
cond_group(struct conf *cf, const config_setting_t *s, struct condset *set)
{
	cf->conds = set;
	conf_group(cf, s, cond_settings, NELEM(cond_settings));
	cf->conds = NULL;
}

/* ---- limit = { count; per; rate; burst; } and charge ---- */

static struct limit *
limit_get(struct conf *cf)
{
	struct limit *l = cf->rule->limit;

	if (l == NULL) {
		l = cf->rule->limit = xcalloc(1, sizeof *l);
		l->unit = RL_MESSAGES;
		l->charge = STORE_CHARGE_ALLOWED;
	}
	return l;
}

static void
set_count(struct conf *cf, const config_setting_t *s)
{
	int i = conf_choice(cf, s, rl_unit_names, RL_NUNITS);

	if (i >= 0)
		limit_get(cf)->unit = (enum rl_unit)i;
}

/* The index of a header name in the policy's list, added when new. */
static int
header_index(struct policy *p, const char *name)
{
	int i;

	for (i = 0; i < p->nheaders; i++)
		if (strcasecmp(p->headers[i], name) == 0)
			return i;
	p->headers = xrealloc(p->headers, (p->nheaders + 1) * sizeof *p->headers);
	p->headers[p->nheaders] = xstrdup(name);
	return p->nheaders++;
}

/* The NAME of "header:NAME", or NULL when v is not one. */
static const char *
header_name(const char *v)
{
	size_t n = strlen(HEADER_PREFIX);

	return strncmp(v, HEADER_PREFIX, n) == 0 && v[n] != '\0' ? v + n : NULL;
}

static void
key_add(struct conf *cf, const config_setting_t *s, const char *name,
    struct keyset *keys)
{
	struct keyspec k = { .kind = KEY_HEADER };
	const char *hdr = header_name(name);
	size_t i, n = NELEM(keys_kind_names);
	char err[ERR_MAX];

	for (i = 0; i < n && hdr == NULL; i++)
		if (strcmp(name, keys_kind_names[i]) == 0 ||
		    (i == KEY_CLIENT_NET && strncmp(name, "client_net", 10) == 0 &&
		    (name[10] == '/' || name[10] == ','))) {
			k.kind = (enum key_kind)i;
			break;
		}
	if (k.kind == KEY_CLIENT_NET && keys_parse_net(name + 10, &k.net4,
	    &k.net6, err, sizeof err) < 0) {
		conf_error(cf, s, "per: %s", err);
		return;
	}
	if (hdr != NULL)
		k.hdr = header_index(cf->p, hdr);
	else if (i == n) {
		conf_error(cf, s, "per: unknown key \"%s\"; expected client_addr, "
		    "client_net (or client_net/22,/48), helo, sender, "
		    "sender_domain, auth_user, rcpt, rcpt_domain or header:NAME",
		    name);
		return;
	}
	keys->k = xrealloc(keys->k, (keys->n + 1) * sizeof *keys->k);
	keys->k[keys->n++] = k;
}

/* per = "key" or [ "key", ... ] into a key list. */
static void
keys_from(struct conf *cf, const config_setting_t *s, struct keyset *keys)
{
	int i;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		key_add(cf, s, config_setting_get_string(s), keys);
		return;
	}
	for (i = 0; i < config_setting_length(s); i++) {
		const char *k = config_setting_get_string_elem(s, i);

		if (k == NULL)
			conf_error(cf, s, "per: keys must be strings");
		else
			key_add(cf, config_setting_get_elem(s, i), k, keys);
	}
}

static void
set_per(struct conf *cf, const config_setting_t *s)
{
	keys_from(cf, s, &limit_get(cf)->keys);
}

static void
set_rate(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s);
	struct limit *l = limit_get(cf);
	unsigned long n, ms;
	char *slash;

	errno = 0;
	n = strtoul(v, &slash, 10);
	if (!isdigit((unsigned char)v[0]) || *slash != '/' || n == 0 ||
	    errno == ERANGE ||
	    conf_parse_duration(slash + 1, &ms) < 0 || ms == 0) {
		conf_error(cf, s, "rate \"%s\": expected N/DURATION, e.g. "
		    "\"100/1h\" (N at least 1; durations 30s, 10m, 1h, 1d)", v);
		return;
	}
	l->rate = n;
	l->window_ms = ms;
}

/* A count setting (burst, max) into *field: at least 1, or an error that
 * ends in `what`. */
static void
count_set(struct conf *cf, const config_setting_t *s, unsigned long *field,
    const char *what)
{
	long long n = config_setting_get_int64(s);

	if (config_setting_type(s) == CONFIG_TYPE_INT)
		n = config_setting_get_int(s);
	if (n >= 1)
		*field = (unsigned long)n;
	else
		conf_error(cf, s, "%s must be at least 1%s",
		    config_setting_name(s), what);
}

static void
set_burst(struct conf *cf, const config_setting_t *s)
{
	count_set(cf, s, &limit_get(cf)->burst, "");
}

static void
set_counter(struct conf *cf, const config_setting_t *s)
{
	struct limit *l = limit_get(cf);

	free(l->counter);
	l->counter = xstrdup(config_setting_get_string(s));
}

static void
set_quota(struct conf *cf, const config_setting_t *s)
{
	struct limit *l = limit_get(cf);
	enum quota_kind kind;
	unsigned long n;
	char err[ERR_MAX];

	if (quota_parse(config_setting_get_string(s), &kind, &n, err,
	    sizeof err) < 0) {
		conf_error(cf, s, "%s", err);
		return;
	}
	quota_free(l->quota);
	l->quota = quota_new(kind, n, NULL);
}

static void
set_time_zone(struct conf *cf, const config_setting_t *s)
{
	struct limit *l = limit_get(cf);
	char err[ERR_MAX];

	if (quota_tz_check(config_setting_get_string(s), err, sizeof err) < 0) {
		conf_error(cf, s, "%s", err);
		return;
	}
	free(l->time_zone);
	l->time_zone = xstrdup(config_setting_get_string(s));
}

static void
set_overrides(struct conf *cf, const config_setting_t *s)
{
	conf_overrides(cf, s, &limit_get(cf)->overrides);
}

static const struct setting limit_settings[] = {
	{ "counter", TYPE_STRING, set_counter },
	{ "overrides", TYPE_STRING, set_overrides },
	{ "quota", TYPE_STRING, set_quota },
	{ "time_zone", TYPE_STRING, set_time_zone },
	{ "count", TYPE_STRING, set_count },
	{ "per", TYPE_STRING | TYPE_LIST, set_per },
	{ "rate", TYPE_STRING, set_rate },
	{ "burst", TYPE_INT, set_burst },
};

/* The limit rule named name among those before this one, or NULL. */
static const struct limit *
limit_earlier(const struct conf *cf, const char *name)
{
	const struct policy *p = cf->p;
	int i;

	for (i = 0; i < p->nrules - 1; i++)
		if (p->rules[i].name != NULL && p->rules[i].limit != NULL &&
		    strcmp(p->rules[i].name, name) == 0)
			return p->rules[i].limit;
	return NULL;
}

/* counter = "RULE": this rule looks at (or charges) RULE's counter, so a
 * rule with charge = "none" can check early what another charges later. */
static void
limit_share(struct conf *cf, const config_setting_t *s, struct limit *l)
{
	static const char *const own[] = { "count", "per", "rate", "burst",
	    "quota", "time_zone" };
	const struct limit *o = limit_earlier(cf, l->counter);
	size_t i;

	for (i = 0; i < NELEM(own); i++)
		if (config_setting_get_member(s, own[i]) != NULL)
			conf_error(cf, s, "limit: counter = \"%s\" takes count, "
			    "per, rate and burst from that rule; do not set %s "
			    "here", l->counter, own[i]);
	if (o == NULL) {
		conf_error(cf, s, "limit: counter = \"%s\": no limit rule of "
		    "that name before this one", l->counter);
		return;
	}
	if (o->counter != NULL) {
		free(l->counter);
		l->counter = xstrdup(o->counter);
	}
	l->unit = o->unit;
	l->rate = o->rate;
	l->window_ms = o->window_ms;
	l->burst = o->burst;
	if (o->quota != NULL)
		l->quota = quota_new(o->quota->kind, o->quota->n, o->quota->tz);
	if (l->overrides == NULL && o->overrides != NULL) {
		l->overrides = o->overrides;	/* the same table, the same limits */
		l->overrides_shared = 1;
	}
	l->keys.n = o->keys.n;
	l->keys.k = xcalloc(o->keys.n ? o->keys.n : 1, sizeof *l->keys.k);
	memcpy(l->keys.k, o->keys.k, o->keys.n * sizeof *l->keys.k);
}

/* A quota takes the place of rate and burst; time_zone is its.  1 when
 * the limit has a quota (checked here). */
static int
limit_quota_check(struct conf *cf, const config_setting_t *s,
    struct limit *l)
{
	if (l->quota == NULL) {
		if (l->time_zone != NULL)
			conf_error(cf, s, "limit: time_zone is the zone of a "
			    "quota's midnight; set quota = \"N/day\" (week, "
			    "month) or remove time_zone");
		return 0;
	}
	if (config_setting_get_member(s, "rate") != NULL ||
	    config_setting_get_member(s, "burst") != NULL)
		conf_error(cf, s, "limit: quota counts per calendar period and "
		    "takes no rate or burst; keep one: quota = \"500/day\" or "
		    "rate = \"500/1d\"");
	if (l->time_zone != NULL)
		l->quota->tz = xstrdup(l->time_zone);
	return 1;
}

static void
set_limit(struct conf *cf, const config_setting_t *s)
{
	struct limit *l = limit_get(cf);

	conf_group(cf, s, limit_settings, NELEM(limit_settings));
	if (l->counter != NULL) {
		limit_share(cf, s, l);
		return;
	}
	if (limit_quota_check(cf, s, l))
		return;
	if (l->rate == 0 && config_setting_get_member(s, "rate") == NULL)
		conf_error(cf, s, "limit needs rate = \"N/DURATION\", e.g. "
		    "\"100/1h\", or quota = \"N/day\" (week, month)");
	if (l->burst == 0)
		l->burst = l->rate;
}

static void
set_charge(struct conf *cf, const config_setting_t *s)
{
	int i = conf_choice(cf, s, rl_charge_names, NELEM(rl_charge_names));

	if (i >= 0)
		limit_get(cf)->charge = (enum store_charge)i;
}

/* ---- duplicates = { of; per; max; window; count_refused; } ---- */

static struct dupspec *
dup_get(struct conf *cf)
{
	struct dupspec *d = cf->rule->dup;

	if (d == NULL) {
		d = cf->rule->dup = xcalloc(1, sizeof *d);
		d->count_refused = 1;
	}
	return d;
}

static void
set_of(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s);
	struct dupspec *d = dup_get(cf);

	if (strcmp(v, "body") == 0)
		d->of = DUP_BODY;
	else if (strcmp(v, "message_id") == 0) {
		d->of = DUP_HEADER;
		d->message_id = 1;
		d->hdr = header_index(cf->p, "Message-ID");
	} else if (header_name(v) != NULL) {
		d->of = DUP_HEADER;
		d->hdr = header_index(cf->p, header_name(v));
	} else
		conf_error(cf, s, "of: \"%s\" is not valid; expected \"body\", "
		    "\"message_id\" or \"header:NAME\"", v);
}

static void
set_dup_per(struct conf *cf, const config_setting_t *s)
{
	keys_from(cf, s, &dup_get(cf)->keys);
}

static void
set_max(struct conf *cf, const config_setting_t *s)
{
	count_set(cf, s, &dup_get(cf)->max, " (the copies allowed)");
}

static void
set_window(struct conf *cf, const config_setting_t *s)
{
	dup_get(cf)->window_ms = conf_duration(cf, s);
}

static void
set_count_refused(struct conf *cf, const config_setting_t *s)
{
	dup_get(cf)->count_refused = config_setting_get_bool(s);
}

static const struct setting dup_settings[] = {
	{ "of", TYPE_STRING, set_of },
	{ "per", TYPE_STRING | TYPE_LIST, set_dup_per },
	{ "max", TYPE_INT, set_max },
	{ "window", TYPE_STRING | TYPE_INT, set_window },
	{ "count_refused", TYPE_BOOL, set_count_refused },
};

static void
set_duplicates(struct conf *cf, const config_setting_t *s)
{
	struct dupspec *d = dup_get(cf);

	conf_group(cf, s, dup_settings, NELEM(dup_settings));
	if (config_setting_get_member(s, "of") == NULL ||
	    config_setting_get_member(s, "max") == NULL ||
	    config_setting_get_member(s, "window") == NULL)
		conf_error(cf, s, "duplicates needs of = \"body\" | \"message_id\" "
		    "| \"header:NAME\", max = N and window = \"DURATION\"");
	else if (d->window_ms == 0)
		conf_error(cf, s, "duplicates: window must be longer than 0");
	if (d->of == DUP_BODY)
		cf->p->body_fp = 1;
}

/* ---- greylist = { per; delay; retry_window; pass_for; auto_whitelist; } ---- */

static struct greyspec *
grey_get(struct conf *cf)
{
	if (cf->rule->grey == NULL)
		cf->rule->grey = grey_spec_new();
	return cf->rule->grey;
}

static void
set_grey_per(struct conf *cf, const config_setting_t *s)
{
	keys_from(cf, s, &grey_get(cf)->keys);
}

static void
grey_duration(struct conf *cf, const config_setting_t *s, unsigned long *ms)
{
	unsigned long v = conf_duration(cf, s);

	if (v == 0)
		conf_error(cf, s, "greylist: %s must be longer than 0",
		    config_setting_name(s));
	else
		*ms = v;
}

static void
set_delay(struct conf *cf, const config_setting_t *s)
{
	grey_duration(cf, s, &grey_get(cf)->delay_ms);
}

static void
set_retry_window(struct conf *cf, const config_setting_t *s)
{
	grey_duration(cf, s, &grey_get(cf)->retry_window_ms);
}

static void
set_pass_for(struct conf *cf, const config_setting_t *s)
{
	grey_duration(cf, s, &grey_get(cf)->pass_for_ms);
}

static void
set_auto_whitelist(struct conf *cf, const config_setting_t *s)
{
	int n = config_setting_get_int(s);

	if (n < 0 || n > 1000000)
		conf_error(cf, s, "greylist: auto_whitelist is a number of "
		    "passed triplets (0: off)");
	else
		grey_get(cf)->auto_whitelist = (unsigned long)n;
}

static const struct setting grey_settings[] = {
	{ "per", TYPE_STRING | TYPE_LIST, set_grey_per },
	{ "delay", TYPE_STRING | TYPE_INT, set_delay },
	{ "retry_window", TYPE_STRING | TYPE_INT, set_retry_window },
	{ "pass_for", TYPE_STRING | TYPE_INT, set_pass_for },
	{ "auto_whitelist", TYPE_INT, set_auto_whitelist },
};

static void
set_greylist(struct conf *cf, const config_setting_t *s)
{
	grey_get(cf);
	conf_group(cf, s, grey_settings, NELEM(grey_settings));
}

/* ---- the rule's own keys ---- */

static void
set_name(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s);
	const char *p;

	for (p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && strchr("-_.", *p) == NULL)
			break;
	if (v[0] == '\0' || *p != '\0' || p - v > RULE_NAME_MAX) {
		conf_error(cf, s, "rule name \"%s\": use 1-%d letters, digits, "
		    "'-', '_' or '.' (it appears in logs as rule=NAME)", v,
		    RULE_NAME_MAX);
		return;
	}
	free(cf->rule->name);
	cf->rule->name = xstrdup(v);
}

static void
set_when(struct conf *cf, const config_setting_t *s)
{
	cond_group(cf, s, &cf->rule->when);
}

static void
set_unless(struct conf *cf, const config_setting_t *s)
{
	cond_group(cf, s, &cf->rule->unless);
}

static void
set_action(struct conf *cf, const config_setting_t *s)
{
	/* every action but "error", which only the engine gives */
	int i = conf_choice(cf, s, pol_action_names, POL_ERROR);

	if (i >= 0)
		cf->rule->action = (enum pol_action)i;
}

static void
set_reply(struct conf *cf, const config_setting_t *s)
{
	reply_free(cf->rule->reply);
	cf->rule->reply = conf_reply(cf, s);
}

static void
set_mode(struct conf *cf, const config_setting_t *s)
{
	conf_mode(cf, s, &cf->rule->mode);
}

static void
set_scope(struct conf *cf, const config_setting_t *s)
{
	static const char *const names[] = { "message", "connection" };
	int i = conf_choice(cf, s, names, NELEM(names));

	if (i >= 0)
		cf->rule->scope = i == 0 ? POL_SCOPE_MESSAGE : POL_SCOPE_CONNECTION;
}

static void
set_stage(struct conf *cf, const config_setting_t *s)
{
	int i = conf_choice(cf, s, pol_stage_names, POL_NSTAGES);

	if (i >= 0)
		cf->rule->stage = (enum pol_stage)i;
}

/* An address to tell when a counter goes over its limit: one plain
 * local@domain, passed to sendmail as an argument, so nothing else. */
static void
set_notify(struct conf *cf, const config_setting_t *s)
{
	const char *v = config_setting_get_string(s), *at = strchr(v, '@'), *p;

	for (p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && strchr("-_.+@", *p) == NULL)
			break;
	if (*p != '\0' || at == NULL || at == v || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL || v[0] == '-' || p - v > 254) {
		conf_error(cf, s, "notify \"%s\": write one address, like "
		    "\"postmaster@example.com\" (letters, digits, '-', '_', "
		    "'.', '+')", v);
		return;
	}
	free(cf->rule->notify);
	cf->rule->notify = xstrdup(v);
}

static const struct setting rule_settings[] = {
	{ "name", TYPE_STRING, set_name },
	{ "when", TYPE_GROUP, set_when },
	{ "unless", TYPE_GROUP, set_unless },
	{ "action", TYPE_STRING, set_action },
	{ "reply", TYPE_STRING, set_reply },
	{ "mode", TYPE_STRING, set_mode },
	{ "scope", TYPE_STRING, set_scope },
	{ "stage", TYPE_STRING, set_stage },
	{ "limit", TYPE_GROUP, set_limit },
	{ "charge", TYPE_STRING, set_charge },
	{ "duplicates", TYPE_GROUP, set_duplicates },
	{ "notify", TYPE_STRING, set_notify },
	{ "greylist", TYPE_GROUP, set_greylist },
};

/* ---- checks across a rule's keys ---- */

enum pol_stage
cond_stage(enum cond_kind kind)
{
	switch (kind) {
	case COND_CLIENT:
	case COND_CLIENT_NAME:
	case COND_DAEMON:
	case COND_DNSBL:
	case COND_DNSWL:
	case COND_RHSBL_CLIENT:
		return POL_CONNECT;
	case COND_HELO:
	case COND_RHSBL_HELO:
		return POL_HELO;
	case COND_SENDER:
	case COND_SENDER_DOMAIN:
	case COND_RHSBL:
	case COND_AUTHENTICATED:
	case COND_AUTH_USER:
	case COND_SIZE:
		return POL_MAIL;
	case COND_RCPT:
	case COND_RCPT_DOMAIN:
		return POL_RCPT;
	case COND_HEADER:
		return POL_HEADER;
	}
	return POL_CONNECT;
}

static enum pol_stage
key_stage(enum key_kind kind)
{
	switch (kind) {
	case KEY_CLIENT_ADDR:
	case KEY_CLIENT_NET:
		return POL_CONNECT;
	case KEY_HELO:
		return POL_HELO;
	case KEY_SENDER:
	case KEY_SENDER_DOMAIN:
	case KEY_AUTH_USER:
		return POL_MAIL;
	case KEY_RCPT:
	case KEY_RCPT_DOMAIN:
		return POL_RCPT;
	case KEY_HEADER:
		return POL_EOH;
	}
	return POL_CONNECT;
}

static const enum pol_stage unit_stage[RL_NUNITS] = {
	POL_CONNECT, POL_MAIL, POL_RCPT, POL_EOM
};

/* Widen [lo, hi] for data known from stage st; per-recipient and
 * per-header data exist only at their own stage. */
static void
bound(enum pol_stage st, enum pol_stage *lo, enum pol_stage *hi)
{
	if (st > *lo)
		*lo = st;
	if ((st == POL_RCPT || st == POL_HEADER) && st < *hi)
		*hi = st;
}

/* A duplicate rule runs once the fingerprint is known; its recipient keys
 * count once per recipient of the message, so they do not pin it to rcpt. */
static void
dup_stage_bounds(const struct dupspec *d, enum pol_stage *lo,
    enum pol_stage *hi)
{
	enum pol_stage fp = d->of == DUP_BODY ? POL_EOM : POL_EOH;
	int i;

	bound(fp, lo, hi);
	for (i = 0; i < d->keys.n; i++)
		if (key_stage(d->keys.k[i].kind) != POL_RCPT)
			bound(key_stage(d->keys.k[i].kind), lo, hi);
}

/* The earliest stage where all a rule's data is known, and the latest it
 * may run at. */
static void
rule_stage_bounds(const struct rule *r, enum pol_stage *lo, enum pol_stage *hi)
{
	const struct condset *sets[2] = { &r->when, &r->unless };
	int i, k;

	*lo = POL_CONNECT;
	*hi = POL_EOM;
	for (k = 0; k < 2; k++)
		for (i = 0; i < sets[k]->n; i++)
			bound(cond_stage(sets[k]->c[i].kind), lo, hi);
	if (r->dup != NULL)
		dup_stage_bounds(r->dup, lo, hi);
	if (r->grey != NULL) {
		const struct keyset *gk = &r->grey->keys;

		bound(POL_RCPT, lo, hi);	/* decided per recipient */
		for (i = 0; i < gk->n; i++)
			bound(key_stage(gk->k[i].kind), lo, hi);
	}
	if (r->limit == NULL)
		return;
	/* A look (charge none) asks "would one more be allowed?" anywhere. */
	if (r->limit->charge != STORE_CHARGE_NONE)
		bound(unit_stage[r->limit->unit], lo, hi);
	for (i = 0; i < r->limit->keys.n; i++)
		bound(key_stage(r->limit->keys.k[i].kind), lo, hi);
}

static void
rule_check_stage(struct conf *cf, const config_setting_t *g, int stage_set)
{
	struct rule *r = cf->rule;
	enum pol_stage lo, hi;

	rule_stage_bounds(r, &lo, &hi);
	if (lo > hi) {
		conf_error(cf, g, "rule %s needs data known only from \"%s\" on "
		    "but must run at \"%s\" (recipients are checked one by one "
		    "at rcpt, headers one by one at header): split it into two "
		    "rules", r->name, pol_stage_names[lo], pol_stage_names[hi]);
		return;
	}
	if (!stage_set)
		r->stage = lo;
	else if (r->stage < lo)
		conf_error(cf, g, "rule %s: stage \"%s\" is too early: its "
		    "conditions are known only from \"%s\" on", r->name,
		    pol_stage_names[r->stage], pol_stage_names[lo]);
	else if (r->stage > hi)
		conf_error(cf, g, "rule %s: stage \"%s\" is too late: its %s "
		    "condition is checked at \"%s\" only", r->name,
		    pol_stage_names[r->stage], hi == POL_RCPT ? "recipient" :
		    "header", pol_stage_names[hi]);
}

/* Action and reply must agree: the action follows the code's class. */
static void
rule_check_action(struct conf *cf, const config_setting_t *g, int action_set,
    int reply_set)
{
	struct rule *r = cf->rule;
	int class = r->reply ? r->reply->code / 100 : 0;

	static const char *const limit_replies[RL_NUNITS] = { "too_many_connections",
	    "too_many_messages", "too_many_recipients", "too_many_bytes" };

	if (reply_set && r->reply == NULL)
		return;		/* the bad reply was reported */
	if (r->dup != NULL && r->reply == NULL && (!action_set ||
	    r->action == POL_REJECT || r->action == POL_TEMPFAIL)) {
		r->reply = conf_reply_named(cf, "too_many_duplicates");
		class = r->reply->code / 100;
	}
	if (r->grey != NULL && r->reply == NULL && (!action_set ||
	    r->action == POL_TEMPFAIL)) {
		r->reply = conf_reply_named(cf, "greylisted");
		class = r->reply->code / 100;
	}
	if (r->limit != NULL && r->reply == NULL && (!action_set ||
	    r->action == POL_REJECT || r->action == POL_TEMPFAIL)) {
		r->reply = conf_reply_named(cf, r->limit->quota != NULL ?
		    "quota_reached" : limit_replies[r->limit->unit]);
		class = r->reply->code / 100;
	}
	if (!action_set && r->reply == NULL) {
		conf_error(cf, g, "rule %s does nothing: give it an action "
		    "(reject, tempfail, accept, ...) or a reply", r->name);
		return;
	}
	if (!action_set)
		r->action = class == 4 ? POL_TEMPFAIL : POL_REJECT;
	else if ((r->action == POL_REJECT && class == 4) ||
	    (r->action == POL_TEMPFAIL && class == 5))
		conf_error(cf, g, "rule %s: action %s does not fit reply code %d; "
		    "a 4xx reply tempfails, a 5xx reply rejects", r->name,
		    pol_action_names[r->action], r->reply->code);
	else if (r->reply == NULL && r->action == POL_REJECT)
		r->reply = conf_reply_named(cf, "access_denied");
	else if (r->reply == NULL && r->action == POL_TEMPFAIL)
		r->reply = conf_reply_named(cf, "try_later");
	if (r->scope == POL_SCOPE_CONNECTION && r->action != POL_ACCEPT)
		conf_error(cf, g, "rule %s: scope applies to accept only", r->name);
}

static void
rule_check_name(struct conf *cf, const config_setting_t *g, int idx)
{
	struct policy *p = cf->p;
	char buf[32];
	int i;

	if (cf->rule->name == NULL) {
		snprintf(buf, sizeof buf, "rule-%d", idx + 1);
		cf->rule->name = xstrdup(buf);
	}
	for (i = 0; i < idx; i++)
		if (p->rules[i].name && strcmp(p->rules[i].name, cf->rule->name) == 0)
			conf_error(cf, g, "duplicate rule name \"%s\" (first at "
			    "line %d); names must be unique: logs and counters "
			    "use them", cf->rule->name, p->rules[i].line);
}

static void
conf_rule(struct conf *cf, const config_setting_t *g, int idx)
{
	struct rule *r = &cf->p->rules[idx];

	cf->rule = r;
	r->line = config_setting_source_line(g);
	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		conf_error(cf, g, "rules must hold groups: { name = \"...\"; "
		    "when = { ... }; reply = \"...\"; }");
		rule_check_name(cf, g, idx);
		return;
	}
	conf_group(cf, g, rule_settings, NELEM(rule_settings));
	rule_check_name(cf, g, idx);
	if (config_setting_get_member(g, "charge") != NULL &&
	    config_setting_get_member(g, "limit") == NULL) {
		conf_error(cf, g, "rule %s: charge applies to limit rules only",
		    r->name);
		return;
	}
	if (r->notify != NULL && r->limit == NULL) {
		conf_error(cf, config_setting_get_member(g, "notify"), "rule %s: "
		    "notify applies to limit rules only (it tells when a counter "
		    "goes over its limit)", r->name);
		return;
	}
	if (r->limit != NULL && r->dup != NULL) {
		conf_error(cf, g, "rule %s has both limit and duplicates: make "
		    "them two rules", r->name);
		return;
	}
	if (r->grey != NULL && (r->limit != NULL || r->dup != NULL)) {
		conf_error(cf, g, "rule %s has greylist and %s: make them two "
		    "rules", r->name, r->limit ? "limit" : "duplicates");
		return;
	}
	rule_check_stage(cf, g, config_setting_get_member(g, "stage") != NULL);
	rule_check_action(cf, g, config_setting_get_member(g, "action") != NULL,
	    config_setting_get_member(g, "reply") != NULL);
	cf->rule = NULL;
}

void
conf_rules(struct conf *cf, const config_setting_t *list)
{
	int i, n = config_setting_length(list);

	cf->p->rules = xcalloc(n ? n : 1, sizeof *cf->p->rules);
	for (i = 0; i < n; i++) {
		cf->p->nrules = i + 1;
		conf_rule(cf, config_setting_get_elem(list, i), i);
	}
}
