/*
 * policy.c: rule evaluation, stage by stage, and the life of a compiled
 * policy and of a connection's engine state.  See policy.h.
 *
 * At each stage the relay check (at rcpt) runs first, then the rules of
 * that stage in file order; the first enforced verdict that is not
 * "continue" decides.  An accept ends rule checking for the message or the
 * connection but never the relay check: an accept rule must not open a
 * relay.  Dry-run verdicts go to the caller's note function and evaluation
 * goes on.  A rule that cannot decide (a failed match, a failed store) is
 * that rule's error: the rules after it still run, a refusal among them
 * overrules it, and otherwise the error is the stage's verdict (with
 * on_error = accept, any later verdict overrules it).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "batch.h"
#include "dnsl.h"
#include "dupes.h"
#include "ratelimit.h"
#include "rules.h"
#include "xmalloc.h"

#define HDR_VALUE_MAX 4096	/* bytes kept of a header that keys a counter */
#define MSG_RCPTS_MAX 32	/* recipients kept for per-recipient duplicate counts */

struct pol_conn {
	struct policy *p;
	struct store *st;	/* borrowed */
	enum pol_door door;	/* the rules it evaluates */
	int done_conn;		/* an accept with scope connection was given */
	int done_msg;		/* an accept with scope message was given */
	pol_note_fn *note;	/* verdicts not applied go here, or nowhere */
	void *note_arg;
	struct rl_ledger conn_charges;	/* connections: never given back */
	struct rl_ledger msg_charges;	/* this message's units */
	int stage_mark;		/* msg_charges.n when this stage began */
	char **hdrs;		/* this message's values of p->headers */
	struct dup_body *body;	/* the body fingerprint under way, if needed */
	unsigned char fp[DUP_FP_LEN];	/* the body fingerprint, at eom */
	int nrcpts;		/* this message's accepted recipients, */
	char *rcpts[MSG_RCPTS_MAX];	/* kept when p->msg_rcpts */
	struct batch *batch;	/* when the store batches: batch.h */
};

const char *const pol_stage_names[POL_NSTAGES] = {
	"connect", "helo", "mail", "rcpt", "data", "header", "eoh", "body", "eom"
};

const char *const pol_action_names[POL_NACTIONS] = {
	"continue", "accept", "tempfail", "reject", "discard", "quarantine", "error"
};

const char *
pol_stage_name(enum pol_stage stage)
{
	return stage < POL_NSTAGES ? pol_stage_names[stage] : "?";
}

const char *
pol_action_name(enum pol_action action)
{
	return action < POL_NACTIONS ? pol_action_names[action] : "?";
}

static void
condset_free(struct condset *cs)
{
	int i;

	for (i = 0; i < cs->n; i++) {
		match_list_free(cs->c[i].list);
		free(cs->c[i].hdr_name);
		dnsl_cond_free(cs->c[i].dns);
	}
	free(cs->c);
}

void
policy_free(struct policy *p)
{
	int i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nrules; i++) {
		free(p->rules[i].name);
		free(p->rules[i].notify);
		condset_free(&p->rules[i].when);
		condset_free(&p->rules[i].unless);
		reply_free(p->rules[i].reply);
		rl_limit_free(p->rules[i].limit);
		dup_spec_free(p->rules[i].dup);
		grey_spec_free(p->rules[i].grey);
	}
	for (i = 0; i < p->nheaders; i++)
		free(p->headers[i]);
	free(p->headers);
	reply_free(p->store_unavailable);
	reply_free(p->dns_unavailable);
	free((char *)p->settings.dns.servers);
	free(p->rules);
	match_list_free(p->relay.local_domains);
	match_list_free(p->relay.permit_client);
	reply_free(p->relay.reply);
	reply_free(p->internal_error);
	free((char *)p->settings.socket);
	free((char *)p->settings.user);
	free((char *)p->settings.socket_group);
	free((char *)p->settings.control_socket);
	free((char *)p->settings.syslog_facility);
	free((char *)p->settings.state_file);
	free((char *)p->settings.redis.server);
	free((char *)p->settings.redis.prefix);
	free((char *)p->settings.redis.password);
	free((char *)p->settings.redis.password_file);
	free((char *)p->settings.redis.master);
	pol_strv_free(p->settings.redis.sentinels);
	pol_strv_free(p->settings.redis.cluster);
	free((char *)p->settings.policy_service.listen);
	free((char *)p->settings.metrics.listen);
	free((char *)p->settings.sendmail);
	free(p->path);
	free(p);
}

void
pol_strv_free(const char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free((char *)v[i]);
	free(v);
}

struct policy *
pol_ref(struct policy *p)
{
	atomic_fetch_add(&p->refs, 1);
	return p;
}

void
pol_unref(struct policy *p)
{
	if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1)
		policy_free(p);
}

const struct pol_settings *
pol_settings(const struct policy *p)
{
	return &p->settings;
}

const char *
pol_path(const struct policy *p)
{
	return p->path;
}

int
pol_rule_count(const struct policy *p)
{
	return p->nrules;
}

int
pol_uses_dns(const struct policy *p)
{
	return p->uses_dns;
}

int
pol_needs_stage(const struct policy *p, enum pol_stage stage)
{
	return (p->stages >> stage) & 1;
}

int
pol_answers_at(const struct policy *p, enum pol_stage stage)
{
	int i;

	if (stage == POL_CONNECT || stage == POL_MAIL || stage == POL_EOM ||
	    (stage == POL_RCPT && p->relay.enabled))
		return 1;	/* held verdicts, new messages, errors, the relay check */
	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].stage == stage)
			return 1;
	return 0;
}

struct pol_conn *
pol_conn_new(struct policy *p, struct store *st)
{
	struct pol_conn *c = xcalloc(1, sizeof *c);

	c->p = pol_ref(p);
	c->st = st;
	if (p->nheaders > 0)
		c->hdrs = xcalloc(p->nheaders, sizeof *c->hdrs);
	if (p->body_fp) {
		c->body = xmalloc(sizeof *c->body);
		dup_body_init(c->body);
	}
	if (store_has_seq(st))
		c->batch = xcalloc(1, sizeof *c->batch);
	return c;
}

static void
msg_rcpts_free(struct pol_conn *c)
{
	while (c->nrcpts > 0)
		free(c->rcpts[--c->nrcpts]);
}

/* Keep an accepted recipient for the rules that count per recipient. */
static void
msg_rcpt_add(struct pol_conn *c, const char *rcpt)
{
	int i;

	if (rcpt == NULL || c->nrcpts == MSG_RCPTS_MAX)
		return;		/* XXX bounded: later recipients are not counted */
	for (i = 0; i < c->nrcpts; i++)
		if (strcasecmp(c->rcpts[i], rcpt) == 0)
			return;
	c->rcpts[c->nrcpts++] = xstrdup(rcpt);
}

static void
msg_headers_free(struct pol_conn *c)
{
	int i;

	for (i = 0; i < c->p->nheaders; i++) {
		free(c->hdrs[i]);
		c->hdrs[i] = NULL;
	}
}

/* Keep the first value of each header a counter is kept per. */
static void
msg_header_add(struct pol_conn *c, const struct pol_env *env)
{
	const char *v = env->hdr_value;
	size_t n;
	int i;

	if (env->hdr_name == NULL || v == NULL)
		return;
	for (i = 0; i < c->p->nheaders; i++) {
		if (c->hdrs[i] != NULL ||
		    strcasecmp(c->p->headers[i], env->hdr_name) != 0)
			continue;
		while (*v == ' ' || *v == '\t')
			v++;
		n = strlen(v);
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		c->hdrs[i] = xstrndup(v, n < HDR_VALUE_MAX ? n : HDR_VALUE_MAX);
	}
}

void
pol_conn_door(struct pol_conn *c, enum pol_door door)
{
	c->door = door;
}

/* Does this connection's front door evaluate rule i? */
static int
door_serves(const struct pol_conn *c, int i)
{
	const struct rule *r = &c->p->rules[i];

	switch (c->door) {
	case POL_DOOR_ENVELOPE:
		return !r->content;
	case POL_DOOR_CONTENT:
		return (r->limit == NULL && r->grey == NULL) || r->content;
	case POL_DOOR_ALL:
		break;
	}
	return 1;
}

void
pol_conn_notes(struct pol_conn *c, pol_note_fn *fn, void *arg)
{
	c->note = fn;
	c->note_arg = arg;
}

struct policy *
pol_conn_policy(const struct pol_conn *c)
{
	return c->p;
}

void
pol_conn_free(struct pol_conn *c)
{
	if (c == NULL)
		return;
	msg_headers_free(c);
	msg_rcpts_free(c);
	free(c->hdrs);
	free(c->body);
	free(c->batch);
	free(c->conn_charges.c);
	free(c->msg_charges.c);
	pol_unref(c->p);
	free(c);
}

void
pol_msg_end(struct pol_conn *c, int accepted, uint64_t now_ms)
{
	if (!accepted)
		rl_give_back(c->st, &c->msg_charges, 0, now_ms);
	c->msg_charges.n = 0;
	msg_headers_free(c);
	msg_rcpts_free(c);
	if (c->body != NULL)
		dup_body_init(c->body);
	c->done_msg = 0;
}

/* ---- conditions ---- */

static int
is_authenticated(const struct pol_env *env)
{
	return env->auth_user != NULL && env->auth_user[0] != '\0';
}

static enum match_result
match_size(const struct cond *c, unsigned long size)
{
	if (size == 0)
		return MATCH_NO;	/* unknown: never matches */
	switch (c->size_op) {
	case SIZE_GT:
		return size > c->size ? MATCH_YES : MATCH_NO;
	case SIZE_LT:
		return size < c->size ? MATCH_YES : MATCH_NO;
	case SIZE_EQ:
		break;
	}
	return size == c->size ? MATCH_YES : MATCH_NO;
}

static enum match_result
match_header(const struct cond *c, const struct pol_env *env)
{
	if (env->hdr_name == NULL || strcasecmp(env->hdr_name, c->hdr_name) != 0)
		return MATCH_NO;
	return match_find(c->list, env->hdr_value);
}

/* A DNS list condition; an unknown answer matches nothing, or is the
 * rule's error when dns.on_error = "tempfail" (hit->unknown says so). */
static enum match_result
match_dns(const struct cond *c, const struct pol_env *env, int tempfail,
    struct dnsl_hit *hit)
{
	struct dnsl_hit h;

	memset(&h, 0, sizeof h);
	switch (dnsl_find(c->dns, env, &h)) {
	case DNSL_LISTED:
		if (!c->dns->allow && hit != NULL)
			*hit = h;
		return MATCH_YES;
	case DNSL_NOT_LISTED:
		return MATCH_NO;
	case DNSL_UNKNOWN:
		break;
	}
	if (!tempfail)
		return MATCH_NO;
	if (hit != NULL) {
		*hit = h;
		hit->unknown = 1;
	}
	return MATCH_ERROR;
}

static enum match_result
cond_find(const struct cond *c, const struct pol_env *env, int tempfail,
    struct dnsl_hit *hit)
{
	switch (c->kind) {
	case COND_DNSBL:
	case COND_DNSWL:
	case COND_RHSBL:
	case COND_RHSBL_HELO:
	case COND_RHSBL_CLIENT:
		return match_dns(c, env, tempfail, hit);
	case COND_CLIENT:
		return match_find(c->list, env->client_addr);
	case COND_CLIENT_NAME:
		return match_find(c->list, env->client_name);
	case COND_HELO:
		return match_find(c->list, env->helo);
	case COND_SENDER:
		return match_find(c->list, env->sender);
	case COND_SENDER_DOMAIN:
		return match_find(c->list, env->sender ?
		    addr_domain(env->sender) : NULL);
	case COND_RCPT:
		return match_find(c->list, env->rcpt);
	case COND_RCPT_DOMAIN:
		return match_find(c->list, env->rcpt ? addr_domain(env->rcpt) : NULL);
	case COND_AUTHENTICATED:
		return is_authenticated(env) == c->want ? MATCH_YES : MATCH_NO;
	case COND_AUTH_USER:
		return match_find(c->list, env->auth_user);
	case COND_DAEMON:
		return match_find(c->list, env->daemon);
	case COND_HEADER:
		return match_header(c, env);
	case COND_SIZE:
		return match_size(c, env->size);
	}
	return MATCH_ERROR;
}

/* Does the rule apply: every "when" condition matches, no "unless" does. */
static enum match_result
rule_find(const struct rule *r, const struct pol_env *env, int tempfail,
    struct dnsl_hit *hit)
{
	enum match_result m;
	int i;

	for (i = 0; i < r->when.n; i++)
		if ((m = cond_find(&r->when.c[i], env, tempfail, hit)) != MATCH_YES)
			return m;
	for (i = 0; i < r->unless.n; i++)
		if ((m = cond_find(&r->unless.c[i], env, tempfail, hit)) !=
		    MATCH_NO)
			return m == MATCH_YES ? MATCH_NO : m;
	return MATCH_YES;
}

/* Start the DNS lookups of every condition whose subject this stage
 * makes known, so the answers are ready by the stage that uses them. */
static void
dns_start(const struct policy *p, enum pol_stage stage,
    const struct pol_env *env)
{
	const struct condset *sets[2];
	int i, k, j;

	if (!p->uses_dns || env->dns == NULL ||
	    (stage != POL_CONNECT && stage != POL_HELO && stage != POL_MAIL))
		return;
	for (i = 0; i < p->nrules; i++) {
		sets[0] = &p->rules[i].when;
		sets[1] = &p->rules[i].unless;
		for (k = 0; k < 2; k++)
			for (j = 0; j < sets[k]->n; j++)
				if (sets[k]->c[j].dns != NULL &&
				    cond_stage(sets[k]->c[j].kind) == stage)
					dnsl_start(sets[k]->c[j].dns, env);
	}
}

/* A DNS list that listed the client, for %{dnsbl} and the log. */
static void
verdict_dns(const struct dnsl_hit *hit, struct pol_verdict *v)
{
	snprintf(v->dnsbl, sizeof v->dnsbl, "%s", hit->zone);
	snprintf(v->dnsbl_text, sizeof v->dnsbl_text, "%s", hit->text);
}

/* ---- verdicts ---- */

/* A rule is dry-run by its own mode or the whole policy's. */
static enum pol_mode
rule_mode(const struct pol_conn *c, const struct rule *r)
{
	return r->mode == POL_DRY_RUN || c->p->settings.mode == POL_DRY_RUN ?
	    POL_DRY_RUN : POL_ENFORCE;
}

static void
verdict_from_rule(const struct pol_conn *c, const struct rule *r,
    struct pol_verdict *v)
{
	v->action = r->action;
	v->scope = r->scope;
	v->reply = r->reply;
	v->rule = r->name;
	v->mode = rule_mode(c, r);
	v->close = r->reply != NULL && r->reply->code == 421;
}

/* The engine could not decide (a failed match): on_error says what to do. */
static void
verdict_error(const char *rule, const struct reply *reply,
    struct pol_verdict *v)
{
	v->action = POL_ERROR;
	v->reply = reply;
	v->rule = rule;
	v->mode = POL_ENFORCE;
}

/* Can the relay check still refuse a recipient on this connection? */
static int
relay_may_refuse(const struct policy *p, const struct pol_env *env)
{
	const struct relay *r = &p->relay;

	if (!r->enabled)
		return 0;
	if (r->permit_authenticated && is_authenticated(env))
		return 0;
	return r->permit_client == NULL ||
	    match_find(r->permit_client, env->client_addr) != MATCH_YES;
}

/* The relay check for one recipient; POL_CONTINUE when it may pass. */
static void
relay_eval(const struct pol_conn *c, const struct pol_env *env,
    struct pol_verdict *v)
{
	const struct relay *r = &c->p->relay;
	const char *dom;
	enum match_result m;

	if (!relay_may_refuse(c->p, env))
		return;
	dom = env->rcpt ? addr_domain(env->rcpt) : NULL;
	if (dom != NULL && !addr_is_routed(env->rcpt)) {
		m = match_find(r->local_domains, dom);
		if (m == MATCH_YES)
			return;
		if (m == MATCH_ERROR) {
			verdict_error("relay", c->p->internal_error, v);
			v->mode = c->p->settings.mode;
			return;
		}
	} else if (dom == NULL && env->rcpt != NULL && env->rcpt[0] != '\0' &&
	    !addr_is_routed(env->rcpt))
		return;		/* a bare local name, "postmaster": local */
	v->action = POL_REJECT;
	v->reply = r->reply;
	v->rule = "relay";
	v->mode = c->p->settings.mode;
	v->close = r->reply->code == 421;
	if (r->reply->code / 100 == 4)
		v->action = POL_TEMPFAIL;
}

/* An accept ends checking; hand it to the MTA only when nothing after it
 * (the relay check on later recipients) could still refuse. */
static void
accept_scope(struct pol_conn *c, enum pol_stage stage,
    const struct pol_env *env, struct pol_verdict *v)
{
	if (v->scope == POL_SCOPE_CONNECTION)
		c->done_conn = 1;
	else
		c->done_msg = 1;
	if (stage <= POL_RCPT && relay_may_refuse(c->p, env))
		v->action = POL_CONTINUE;
}

/* The verdict of a counting rule (limit, duplicates) once the store
 * answered: 1 when it decides (over the limit, or the store failed), 0
 * when the next rule should run. */
static int
count_verdict(const struct pol_conn *c, const struct rule *r,
    enum count_result res, const struct count_ctx *cx, unsigned long limit,
    unsigned long window_ms, struct pol_verdict *v)
{
	if (res == COUNT_ERROR) {
		verdict_error(r->name, c->p->store_unavailable, v);
		return 1;
	}
	v->evicting |= cx->res.evicting;
	if (res != COUNT_OVER || r->action == POL_CONTINUE)
		return 0;	/* under, skipped, or a rule that only counts */
	verdict_from_rule(c, r, v);
	v->vars.limit = limit;
	v->vars.window_s = window_ms / 1000;
	v->vars.count = cx->res.count;
	v->vars.retry_after_s = (cx->res.retry_after_ms + 999) / 1000;
	v->over_first = cx->res.first_over;
	snprintf(v->key, sizeof v->key, "%s", cx->key);
	if (r->limit != NULL)
		keys_counted(&r->limit->keys, cx, v->vars.counted,
		    sizeof v->vars.counted);
	v->notify = r->notify;
	return 1;
}

/* Check and charge a limit rule. */
static int
limit_eval(struct pol_conn *c, const struct rule *r, struct count_ctx *cx,
    struct pol_verdict *v)
{
	const struct limit *lim = r->limit;
	struct rl_ledger *l = lim->unit == RL_CONNECTIONS ?
	    &c->conn_charges : &c->msg_charges;
	enum count_result rc = rl_check(lim, r->name, l, cx);

	/* the limit in force: the rule's, or its key's overrides entry */
	if (!count_verdict(c, r, rc, cx, cx->limit, cx->window_ms, v))
		return 0;
	if (cx->period != NULL && rc == COUNT_OVER) {	/* a calendar quota */
		v->vars.period = cx->period;
		snprintf(v->vars.resets, sizeof v->vars.resets, "%s",
		    cx->resets);
	}
	return 1;
}

static int
dup_has_key(const struct dupspec *d, enum key_kind kind)
{
	int i;

	for (i = 0; i < d->keys.n; i++)
		if (d->keys.k[i].kind == kind)
			return 1;
	return 0;
}

/* Is recipient i's domain one an earlier recipient already had? */
static int
rcpt_domain_repeats(const struct pol_conn *c, int i)
{
	const char *d = addr_domain(c->rcpts[i]);
	int j;

	for (j = 0; j < i; j++) {
		const char *e = addr_domain(c->rcpts[j]);

		if (d == e || (d && e && strcasecmp(d, e) == 0))
			return 1;
	}
	return 0;
}

/* Count this copy once, or once per recipient (domain) when the rule's
 * keys name them; the worst outcome wins. */
static enum count_result
dup_count(struct pol_conn *c, const struct rule *r, struct count_ctx *cx)
{
	enum count_result worst = COUNT_SKIP, one;
	const struct pol_env *env = cx->env;
	struct pol_env e = *env;
	int i, per_rcpt = dup_has_key(r->dup, KEY_RCPT), evicting = 0;

	if (!per_rcpt && !dup_has_key(r->dup, KEY_RCPT_DOMAIN))
		return dup_check(r->dup, r->name, cx);
	memset(&cx->res, 0, sizeof cx->res);
	cx->env = &e;
	for (i = 0; i < c->nrcpts; i++) {
		if (!per_rcpt && rcpt_domain_repeats(c, i))
			continue;
		e.rcpt = c->rcpts[i];
		one = dup_check(r->dup, r->name, cx);
		evicting |= cx->res.evicting;
		if (one == COUNT_ERROR || one == COUNT_OVER) {
			worst = one;
			break;
		}
		if (one == COUNT_OK)
			worst = COUNT_OK;
	}
	cx->env = env;
	cx->res.evicting = evicting;
	return worst;
}

/* A duplicates rule, on the body's or a header's fingerprint. */
static int
dup_eval(struct pol_conn *c, const struct rule *r, struct count_ctx *cx,
    struct pol_verdict *v)
{
	const struct dupspec *d = r->dup;
	unsigned char hfp[DUP_FP_LEN];

	cx->fp = c->fp;
	cx->fplen = DUP_FP_LEN;
	if (d->of == DUP_HEADER) {
		if (dup_header_fp(c->hdrs[d->hdr], d->message_id, hfp) < 0)
			return 0;	/* no such header: never a duplicate */
		cx->fp = hfp;
	}
	return count_verdict(c, r, dup_count(c, r, cx), cx, d->max,
	    d->window_ms, v);
}

/* A greylisting rule: a deferred triplet is its verdict, with when to
 * retry; a passing one lets the next rule run. */
static int
grey_eval(struct pol_conn *c, const struct rule *r, struct count_ctx *cx,
    struct pol_verdict *v)
{
	const char *why = NULL;
	enum count_result res = grey_check(r->grey, r->name, cx, &why);
	int decided = count_verdict(c, r, res, cx, 0, r->grey->delay_ms, v);

	if (decided && res == COUNT_OVER)
		v->greylist = why;
	return decided;
}

/* One rule; 1 when it yields a verdict, 0 when the next rule should run. */
static int
rule_eval(struct pol_conn *c, const struct rule *r,
    const struct count_ctx *stage_cx, struct pol_verdict *v)
{
	struct count_ctx cx = *stage_cx;
	struct dnsl_hit hit;
	enum match_result m;

	memset(&hit, 0, sizeof hit);
	m = rule_find(r, cx.env, c->p->settings.dns.tempfail, &hit);
	if (m == MATCH_NO)
		return 0;
	if (m == MATCH_ERROR && hit.unknown) {
		verdict_from_rule(c, r, v);	/* dns.on_error = "tempfail" */
		v->action = POL_TEMPFAIL;
		v->reply = c->p->dns_unavailable;
		v->close = 0;
		verdict_dns(&hit, v);
		return 1;
	}
	if (m == MATCH_ERROR)
		verdict_error(r->name, c->p->internal_error, v);
	else if (r->limit != NULL) {
		if (!limit_eval(c, r, &cx, v))
			return 0;
	} else if (r->dup != NULL) {
		if (!dup_eval(c, r, &cx, v))
			return 0;
	} else if (r->grey != NULL) {
		if (!grey_eval(c, r, &cx, v))
			return 0;
	} else
		verdict_from_rule(c, r, v);
	if (hit.zone[0] != '\0' && v->action != POL_ERROR)
		verdict_dns(&hit, v);
	/* A dry-run rule only logs: its errors let mail through too. */
	if (v->action == POL_ERROR)
		v->mode = rule_mode(c, r);
	return 1;
}

static void
verdict_init(struct pol_verdict *v, enum pol_stage stage)
{
	memset(v, 0, sizeof *v);
	v->action = POL_CONTINUE;
	v->stage = stage;
}

/* Hand a verdict the stage does not apply to the caller, if it listens. */
static void
note(const struct pol_conn *c, const struct pol_verdict *v)
{
	if (c->note != NULL)
		c->note(c->note_arg, v);
}

/* Make `from` the stage's verdict, keeping the notices already gathered. */
static void
verdict_take(struct pol_verdict *v, const struct pol_verdict *from)
{
	int evicting = v->evicting | from->evicting;

	*v = *from;
	v->evicting = evicting;
}

/* A rule's error and the verdict of a rule after it (POL_CONTINUE: none):
 * a refusal overrules the error, and so does any verdict when on_error
 * lets mail through; otherwise the error stands. */
static void
error_or_later(const struct pol_conn *c, const struct pol_verdict *err,
    const struct pol_verdict *later, struct pol_verdict *v)
{
	int refuses = later->action == POL_TEMPFAIL ||
	    later->action == POL_REJECT;

	if (later->action != POL_CONTINUE &&
	    (refuses || c->p->settings.on_error == POL_ACCEPT)) {
		note(c, err);
		verdict_take(v, later);
	} else {
		verdict_take(v, err);
		v->evicting |= later->evicting;
	}
}

/* Does rules_eval run rule i at this stage? */
static int
rule_runs(const struct pol_conn *c, int i, enum pol_stage stage)
{
	const struct rule *r = &c->p->rules[i];

	return r->stage == stage && !(r->action == POL_CONTINUE &&
	    r->limit == NULL && r->dup == NULL) && door_serves(c, i);
}

/* Would this limit rule's refusal decide the stage? */
static int
limit_stops(const struct pol_conn *c, const struct rule *r)
{
	return r->action != POL_CONTINUE && rule_mode(c, r) == POL_ENFORCE;
}

/* The stage's limit rules up to the first rule that could decide without
 * the store, asked of it at once (batch.h).  A single take is left to
 * its rule: batching it gains nothing. */
static void
batch_prefetch(struct pol_conn *c, const struct count_ctx *stage_cx)
{
	struct count_ctx cx;
	struct dnsl_hit hit;
	struct rl_ask a;
	enum count_result rc;
	int i, n = 0;

	batch_clear(c->batch);
	for (i = 0; i < c->p->nrules && n < 2; i++)
		n += rule_runs(c, i, stage_cx->stage) &&
		    c->p->rules[i].limit != NULL;
	if (n < 2)
		return;
	for (i = 0; i < c->p->nrules; i++) {
		const struct rule *r = &c->p->rules[i];

		if (!rule_runs(c, i, stage_cx->stage))
			continue;
		memset(&hit, 0, sizeof hit);
		switch (rule_find(r, stage_cx->env, c->p->settings.dns.tempfail,
		    &hit)) {
		case MATCH_NO:
			continue;
		case MATCH_YES:
			if (r->limit != NULL)
				break;
			/* FALLTHROUGH: a rule of another kind may decide */
		case MATCH_ERROR:
			goto ask;
		}
		cx = *stage_cx;
		if (rl_prepare(r->limit, r->name, r->limit->unit ==
		    RL_CONNECTIONS ? &c->conn_charges : &c->msg_charges, &cx,
		    &a, &rc)) {
			a.req.stop = limit_stops(c, r);
			if (!batch_add(c->batch, r->limit, &a.req))
				break;
		} else if (rc == COUNT_OVER && limit_stops(c, r))
			break;
	}
ask:
	if (c->batch->n > 1)
		batch_ask(c->batch, c->st, stage_cx->now_ms);
	else
		batch_clear(c->batch);
}

/* Run the rules of a stage; *v says who decided. */
static void
rules_eval(struct pol_conn *c, const struct count_ctx *cx,
    struct pol_verdict *v)
{
	const struct policy *p = c->p;
	struct pol_verdict err, one;
	int i;

	verdict_init(&err, cx->stage);
	verdict_init(&one, cx->stage);
	if (cx->batch != NULL)
		batch_prefetch(c, cx);
	for (i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];

		if (!rule_runs(c, i, cx->stage))
			continue;
		if (!rule_eval(c, r, cx, &one))
			v->evicting |= one.evicting;
		else if (one.mode == POL_DRY_RUN)
			note(c, &one);
		else if (one.action != POL_ERROR)
			break;
		else if (err.action == POL_ERROR)
			note(c, &one);	/* the first error answers */
		else
			err = one;
		verdict_init(&one, cx->stage);
	}
	if (err.action == POL_ERROR)
		error_or_later(c, &err, &one, v);
	else if (one.action != POL_CONTINUE)
		verdict_take(v, &one);
	if (v->action == POL_ACCEPT)
		accept_scope(c, cx->stage, cx->env, v);
}

/* Does the MTA refuse what this verdict applies to? */
static int
verdict_refuses(const struct pol_conn *c, const struct pol_verdict *v)
{
	if (v->mode == POL_DRY_RUN)
		return 0;
	return v->action == POL_TEMPFAIL || v->action == POL_REJECT ||
	    (v->action == POL_ERROR && c->p->settings.on_error != POL_ACCEPT);
}

/* Units charged for what was refused go back; accepted ones stay. */
static void
charges_settle(struct pol_conn *c, enum pol_stage stage,
    const struct pol_verdict *v, uint64_t now_ms)
{
	if (v->action == POL_ACCEPT && v->mode == POL_ENFORCE)
		c->msg_charges.n = 0;	/* the MTA takes the message */
	else if (!verdict_refuses(c, v) || stage < POL_MAIL)
		return;
	else if (stage == POL_RCPT)
		rl_give_back(c->st, &c->msg_charges, c->stage_mark, now_ms);
	else
		rl_give_back(c->st, &c->msg_charges, 0, now_ms);
}

/* What a stage does before its rules: a new message forgets the last. */
static void
stage_begin(struct pol_conn *c, enum pol_stage stage,
    const struct pol_env *env, uint64_t now_ms)
{
	if (stage == POL_MAIL && (c->msg_charges.n > 0 || c->done_msg))
		pol_msg_end(c, 0, now_ms);	/* the last one never ended */
	if (stage == POL_HEADER)
		msg_header_add(c, env);
	if (stage == POL_BODY && c->body != NULL && env->body != NULL)
		dup_body_add(c->body, env->body, env->body_len);
	if (stage == POL_EOM && c->body != NULL)
		dup_body_final(c->body, c->fp);
	c->stage_mark = c->msg_charges.n;
}

void
pol_eval(struct pol_conn *c, enum pol_stage stage, const struct pol_env *env,
    uint64_t now_ms, struct pol_verdict *v)
{
	struct count_ctx cx = { .st = c->st, .env = env, .hdrs = c->hdrs,
	    .now_ms = now_ms, .stage = stage, .batch = c->batch };

	verdict_init(v, stage);
	stage_begin(c, stage, env, now_ms);
	dns_start(c->p, stage, env);
	if (stage == POL_RCPT) {
		relay_eval(c, env, v);
		if (v->mode == POL_DRY_RUN) {
			note(c, v);
			verdict_init(v, stage);
		} else if (v->action != POL_CONTINUE)
			return;
	}
	if (c->done_conn || c->done_msg)
		return;
	rules_eval(c, &cx, v);
	charges_settle(c, stage, v, now_ms);
	if (stage == POL_RCPT && c->p->msg_rcpts && !verdict_refuses(c, v))
		msg_rcpt_add(c, env->rcpt);
}
