/*
 * policy.c: rule evaluation, stage by stage, and the life of a compiled
 * policy and of a connection's engine state.  See policy.h.
 *
 * At each stage the relay check (at rcpt) runs first, then the rules of
 * that stage in file order; the first verdict that is not "continue"
 * decides.  An accept ends rule checking for the message or the connection
 * but never the relay check: an accept rule must not open a relay.
 * Dry-run verdicts are handed to the caller one at a time (to be logged)
 * and evaluation resumes after them on the next call.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "rules.h"
#include "xmalloc.h"

struct pol_conn {
	struct policy *p;
	int done_conn;		/* an accept with scope connection was given */
	int done_msg;		/* an accept with scope message was given */
	enum pol_stage resume_stage;	/* after a dry-run verdict: */
	int resume_rule;	/* the next rule to try, or -1 for a fresh stage */
};

static const char *const stage_names[POL_NSTAGES] = {
	"connect", "helo", "mail", "rcpt", "data", "header", "eoh", "body", "eom"
};

static const char *const action_names[] = {
	"continue", "accept", "tempfail", "reject", "discard", "quarantine", "error"
};

const char *
pol_stage_name(enum pol_stage stage)
{
	return stage < POL_NSTAGES ? stage_names[stage] : "?";
}

const char *
pol_action_name(enum pol_action action)
{
	return action <= POL_ERROR ? action_names[action] : "?";
}

static void
condset_free(struct condset *cs)
{
	int i;

	for (i = 0; i < cs->n; i++) {
		match_list_free(cs->c[i].list);
		free(cs->c[i].hdr_name);
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
		condset_free(&p->rules[i].when);
		condset_free(&p->rules[i].unless);
		reply_free(p->rules[i].reply);
	}
	free(p->rules);
	match_list_free(p->relay.local_domains);
	match_list_free(p->relay.permit_client);
	reply_free(p->relay.reply);
	reply_free(p->internal_error);
	free((char *)p->settings.socket);
	free((char *)p->settings.user);
	free((char *)p->settings.syslog_facility);
	free(p->path);
	free(p);
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
pol_needs_stage(const struct policy *p, enum pol_stage stage)
{
	return (p->stages >> stage) & 1;
}

struct pol_conn *
pol_conn_new(struct policy *p)
{
	struct pol_conn *c = xcalloc(1, sizeof *c);

	c->p = pol_ref(p);
	c->resume_rule = -1;
	return c;
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
	pol_unref(c->p);
	free(c);
}

void
pol_msg_end(struct pol_conn *c, int accepted, uint64_t now_ms)
{
	(void)accepted;
	(void)now_ms;
	c->done_msg = 0;
	c->resume_rule = -1;
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

static enum match_result
cond_find(const struct cond *c, const struct pol_env *env)
{
	switch (c->kind) {
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
rule_find(const struct rule *r, const struct pol_env *env)
{
	enum match_result m;
	int i;

	for (i = 0; i < r->when.n; i++)
		if ((m = cond_find(&r->when.c[i], env)) != MATCH_YES)
			return m;
	for (i = 0; i < r->unless.n; i++)
		if ((m = cond_find(&r->unless.c[i], env)) != MATCH_NO)
			return m == MATCH_YES ? MATCH_NO : m;
	return MATCH_YES;
}

/* ---- verdicts ---- */

static void
verdict_from_rule(const struct pol_conn *c, const struct rule *r,
    struct pol_verdict *v)
{
	v->action = r->action;
	v->scope = r->scope;
	v->reply = r->reply;
	v->rule = r->name;
	v->mode = r->mode == POL_DRY_RUN ||
	    c->p->settings.mode == POL_DRY_RUN ? POL_DRY_RUN : POL_ENFORCE;
	v->close = r->reply != NULL && r->reply->code == 421;
}

/* The engine could not decide (a failed match): on_error says what to do. */
static void
verdict_error(const struct pol_conn *c, const char *rule, struct pol_verdict *v)
{
	v->action = POL_ERROR;
	v->reply = c->p->internal_error;
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
			verdict_error(c, "relay", v);
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

/* Run the rules of a stage from index `from`; the verdict says who decided. */
static void
rules_eval(struct pol_conn *c, enum pol_stage stage, const struct pol_env *env,
    int from, struct pol_verdict *v)
{
	const struct policy *p = c->p;
	enum match_result m;
	int i;

	for (i = from; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];

		if (r->stage != stage || r->action == POL_CONTINUE)
			continue;
		if ((m = rule_find(r, env)) == MATCH_NO)
			continue;
		if (m == MATCH_ERROR)
			verdict_error(c, r->name, v);
		else
			verdict_from_rule(c, r, v);
		if (v->mode == POL_DRY_RUN) {
			c->resume_stage = stage;
			c->resume_rule = i + 1;
		} else if (v->action == POL_ACCEPT)
			accept_scope(c, stage, env, v);
		return;
	}
}

void
pol_eval(struct pol_conn *c, enum pol_stage stage, const struct pol_env *env,
    uint64_t now_ms, struct pol_verdict *v)
{
	int resumed = c->resume_rule >= 0 && c->resume_stage == stage;
	int from = resumed ? c->resume_rule : 0;

	(void)now_ms;
	memset(v, 0, sizeof *v);
	v->action = POL_CONTINUE;
	v->stage = stage;
	c->resume_rule = -1;
	if (stage == POL_RCPT && !resumed) {
		relay_eval(c, env, v);
		if (v->action != POL_CONTINUE) {
			if (v->mode == POL_DRY_RUN) {
				c->resume_stage = stage;
				c->resume_rule = 0;
			}
			return;
		}
	}
	if (c->done_conn || c->done_msg)
		return;
	rules_eval(c, stage, env, from, v);
}
