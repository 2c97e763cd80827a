/*
 * replay_run.c: replayed transactions through one policy.  See
 * replay_run.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "replay_run.h"
#include "replies.h"
#include "xmalloc.h"

struct rrun_conn {			/* one connection, for one policy */
	struct pol_conn *pc;
	char client_addr[64];
	int helo_done;
	int closed;			/* refused for good (421, or at connect) */
};

void
rrun_init(struct rrun *r, struct policy *p, struct store *st, int slot)
{
	int i, n = pol_rule_count(p);

	memset(r, 0, sizeof *r);
	r->p = p;
	r->st = st;
	r->slot = slot;
	rres_init(&r->res, n + 1);
	for (i = 0; i < n; i++) {
		r->res.rules[i].name = pol_rule_name(p, i);
		r->res.rules[i].dry_run = pol_rule_dry_run(p, i);
		r->res.rules[i].cannot = pol_rule_needs_content(p, i);
	}
	r->res.rules[n].name = "relay";	/* the relay check is not a rule */
}

static int
rule_index(const struct rrun *r, const char *name)
{
	int i;

	for (i = 0; name != NULL && i < r->res.nrules - 1; i++)
		if (strcmp(r->res.rules[i].name, name) == 0)
			return i;
	return r->res.nrules - 1;
}

static int
is_refusal(enum pol_action a)
{
	return a == POL_REJECT || a == POL_TEMPFAIL;
}

static void
record(struct rrun *r, const struct pol_verdict *v, const struct pol_env *env,
    int64_t t)
{
	const char *key = v->key[0] != '\0' ? v->key :
	    env->client_addr != NULL ? env->client_addr : "?";

	if (v->action == POL_ERROR && v->mode != POL_DRY_RUN)
		r->res.total.errors++;
	if (!is_refusal(v->action) || v->reply == NULL)
		return;
	rres_refusal(&r->res, rule_index(r, v->rule), v->reply->code,
	    v->reply->xcode, key, t);
}

/* A dry-run rule's would-be refusal (an overruled error is no refusal). */
static void
note(void *arg, const struct pol_verdict *v)
{
	struct rrun *r = arg;

	if (v->mode == POL_DRY_RUN)
		record(r, v, r->env, r->t);
}

/* One stage; the verdict to apply (dry-run verdicts are recorded on the
 * way); rc->closed set when it ends the connection. */
static enum pol_action
run_stage(struct rrun *r, struct rrun_conn *rc, enum pol_stage stage,
    const struct pol_env *env, int64_t t)
{
	struct pol_verdict v;
	struct pol_env e = *env;

	e.wall_ms = t;		/* the log's clock, for calendar quotas */
	r->env = env;
	r->t = t;
	pol_eval(rc->pc, stage, &e, (uint64_t)t, &v);
	if (v.action != POL_CONTINUE)
		record(r, &v, env, t);
	if (v.close || (is_refusal(v.action) && stage <= POL_HELO))
		rc->closed = 1;
	return v.action;
}

static void
env_of_conn(struct pol_env *env, const struct rtxn_conn *c,
    const struct rrun_conn *rc)
{
	memset(env, 0, sizeof *env);
	env->client_addr = rc->client_addr;
	env->client_name = strcmp(c->client_name, "unknown") != 0 ?
	    c->client_name : NULL;
	env->helo = c->helo;
}

void
rrun_connect(struct rrun *r, struct rtxn_conn *c)
{
	struct rrun_conn *rc = xcalloc(1, sizeof *rc);
	struct pol_env env;

	c->run[r->slot] = rc;
	rc->pc = pol_conn_new(r->p, r->st);
	pol_conn_notes(rc->pc, note, r);
	if (addr_ip_normalise(c->client_addr, rc->client_addr,
	    sizeof rc->client_addr) != 0)
		snprintf(rc->client_addr, sizeof rc->client_addr, "%s",
		    c->client_addr);
	env_of_conn(&env, c, rc);
	run_stage(r, rc, POL_CONNECT, &env, c->start_ms);
}

void
rrun_disconnect(struct rrun *r, struct rtxn_conn *c)
{
	struct rrun_conn *rc = c->run[r->slot];

	pol_conn_free(rc->pc);
	free(rc);
	c->run[r->slot] = NULL;
}

/* The recipients: each logged one, then as many more as qmgr counted;
 * returns how many the policy took. */
static int
run_rcpts(struct rrun *r, struct rrun_conn *rc, struct pol_env *env,
    const struct rtxn_msg *m, int64_t t)
{
	unsigned long i, n = (unsigned long)m->nrcpts;
	int ok = 0;

	if (m->nrcpt > n)
		n = m->nrcpt;		/* addresses the log did not name */
	for (i = 0; i < n && !rc->closed; i++) {
		env->rcpt = i < (unsigned long)m->nrcpts ? m->rcpt[i] : NULL;
		if (is_refusal(run_stage(r, rc, POL_RCPT, env, t)))
			r->res.total.rcpts_refused++;
		else
			ok++;
	}
	env->rcpt = NULL;
	return ok;
}

/* DATA to end of message; returns the enforced verdict. */
static enum pol_action
run_content(struct rrun *r, struct rrun_conn *rc, struct pol_env *env,
    const struct rtxn_msg *m, int64_t t)
{
	char body[64], msgid[RLOG_ADDR_MAX + 2];
	enum pol_action a;

	if ((a = run_stage(r, rc, POL_DATA, env, t)) != POL_CONTINUE)
		return a;
	if (m->msgid != NULL) {
		snprintf(msgid, sizeof msgid, "<%s>", m->msgid);
		env->hdr_name = "Message-ID";
		env->hdr_value = msgid;
		a = run_stage(r, rc, POL_HEADER, env, t);
		env->hdr_name = env->hdr_value = NULL;
		if (a != POL_CONTINUE)
			return a;
	}
	if ((a = run_stage(r, rc, POL_EOH, env, t)) != POL_CONTINUE)
		return a;
	/* a body no other message has: fingerprints never match */
	env->body_len = (size_t)snprintf(body, sizeof body, "replay %lu\r\n",
	    ++r->seq);
	env->body = body;
	run_stage(r, rc, POL_BODY, env, t);
	env->body = NULL;
	env->body_len = 0;
	env->size = m->size;
	return run_stage(r, rc, POL_EOM, env, t);
}

enum outcome {
	OUT_ACCEPTED,			/* the policy would let it through */
	OUT_REFUSED,			/* the policy refused it */
	OUT_MTA				/* Postfix refused it, or it was never sent */
};

/* The policy's answer to a message. */
static enum outcome
run_message(struct rrun *r, struct rrun_conn *rc, struct pol_env *env,
    const struct rtxn_msg *m, int64_t t)
{
	enum pol_action a;

	if (!rc->helo_done && !rc->closed) {
		rc->helo_done = 1;
		if (env->helo != NULL)
			run_stage(r, rc, POL_HELO, env, t);
	}
	if (rc->closed)
		return OUT_REFUSED;
	if ((a = run_stage(r, rc, POL_MAIL, env, t)) == POL_ACCEPT)
		return m->reached_data && !m->mta_refused ? OUT_ACCEPTED : OUT_MTA;
	if (a != POL_CONTINUE || rc->closed)
		return OUT_REFUSED;
	if (run_rcpts(r, rc, env, m, t) == 0)
		return m->nrcpts > 0 || m->nrcpt > 0 ? OUT_REFUSED : OUT_MTA;
	if (!m->reached_data)
		return OUT_MTA;
	a = run_content(r, rc, env, m, t);
	if (a != POL_CONTINUE && a != POL_ACCEPT && a != POL_QUARANTINE)
		return OUT_REFUSED;
	return m->mta_refused ? OUT_MTA : OUT_ACCEPTED;
}

static void
count_accepted(struct rrun *r, const struct pol_env *env)
{
	const char *sender = env->sender;

	r->res.total.accepted++;
	rres_accepted_by(&r->res, env->client_addr);
	if (sender != NULL) {
		rres_accepted_by(&r->res, sender[0] != '\0' ? sender : "<>");
		if (addr_domain(sender) != NULL)
			rres_accepted_by(&r->res, addr_domain(sender));
	}
	if (env->auth_user != NULL && env->auth_user[0] != '\0')
		rres_accepted_by(&r->res, env->auth_user);
}

/* Rules that need what the log lacks could not judge a message that
 * got as far as its content. */
static void
count_not_judged(struct rrun *r, const struct rtxn_msg *m)
{
	int i;

	for (i = 0; m->reached_data && i < r->res.nrules; i++)
		if (r->res.rules[i].cannot != NULL)
			r->res.rules[i].not_judged++;
}

void
rrun_message(struct rrun *r, struct rtxn_msg *m)
{
	struct rrun_conn *rc = m->conn->run[r->slot];
	struct pol_env env;
	int64_t t = m->start_ms;
	enum outcome out;

	env_of_conn(&env, m->conn, rc);
	env.sender = m->sender;
	env.auth_user = m->user;
	if (r->res.first_ms < 0 || t < r->res.first_ms)
		r->res.first_ms = t;
	if (t > r->res.last_ms)
		r->res.last_ms = t;
	r->res.total.transactions++;
	out = run_message(r, rc, &env, m, t);
	pol_msg_end(rc->pc, out == OUT_ACCEPTED, (uint64_t)t);
	if (out == OUT_ACCEPTED)
		count_accepted(r, &env);
	else if (out == OUT_REFUSED)
		r->res.total.refused++;
	else
		r->res.total.mta_refused++;
	count_not_judged(r, m);
}

void
rrun_free(struct rrun *r)
{
	rres_free(&r->res);
}
