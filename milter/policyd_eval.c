/* policyd_eval.c: a policy-protocol request through the engine; see
 * policyd_eval.h and policyd.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "addr.h"
#include "dns.h"
#include "current.h"
#include "log.h"
#include "policyd_eval.h"
#include "replies.h"
#include "answer.h"
#include "session.h"
#include "state.h"
#include "stats.h"
#include "xmalloc.h"

#define PD_ID_MAX	160	/* client_address/client_port/server_port */
#define PD_INST_MAX	64	/* Postfix's instance: "%x.%lx.%lx.%x" */
#define PD_TEXT_MAX	510	/* "CODE X.Y.Z text": one SMTP reply line */
#define PD_STAGE_NONE	((enum pol_stage)-1)

struct pd_sess {
	struct pol_conn *pc;		/* NULL until the first request */
	char id[PD_ID_MAX];		/* the SMTP session it serves */
	char *helo;			/* the HELO name its stage ran for */
	char instance[PD_INST_MAX];	/* the open message's; "" not yet known */
	int msg_open;			/* the mail stage ran for this message */
	int has_held;			/* a refusal for the rest of the session */
	struct pol_verdict held;
	int has_msg_held;		/* ... for the rest of the message */
	struct pol_verdict msg_held;
	const struct pol_env *env;	/* the request under evaluation, for notes */
};

struct pd_sess *
pd_sess_new(void)
{
	return xcalloc(1, sizeof(struct pd_sess));
}

static void
sess_end(struct pd_sess *s)
{
	pol_conn_free(s->pc);	/* charges of an open message stay charged */
	free(s->helo);
	memset(s, 0, sizeof *s);
}

void
pd_sess_free(struct pd_sess *s)
{
	if (s == NULL)
		return;
	sess_end(s);
	free(s);
}

static enum pol_stage
stage_of(const char *state)
{
	static const struct { const char *name; enum pol_stage stage; } tab[] = {
		{ "CONNECT", POL_CONNECT }, { "EHLO", POL_HELO },
		{ "HELO", POL_HELO }, { "MAIL", POL_MAIL }, { "RCPT", POL_RCPT },
		{ "DATA", POL_DATA }, { "END-OF-MESSAGE", POL_EOM },
	};
	size_t i;

	for (i = 0; state != NULL && i < sizeof tab / sizeof tab[0]; i++)
		if (strcasecmp(state, tab[i].name) == 0)
			return tab[i].stage;
	return PD_STAGE_NONE;	/* VRFY, ETRN: not the engine's */
}

static const char *
nonempty(const char *v)
{
	return v != NULL && v[0] != '\0' ? v : NULL;
}

/* The request as the engine's pol_env; addr is the normalised address's
 * buffer.  What a stage cannot know yet is NULL, as through the milter. */
static void
env_of(const struct pd_req *r, enum pol_stage stage, char *addr, size_t addrsz,
    struct pol_env *env)
{
	memset(env, 0, sizeof *env);
	if (nonempty(r->client_address) &&
	    addr_ip_normalise(r->client_address, addr, addrsz) == 0)
		env->client_addr = addr;
	env->client_name = nonempty(r->client_name);
	if (env->client_name != NULL && strcasecmp(env->client_name, "unknown") == 0)
		env->client_name = NULL;
	env->helo = nonempty(r->helo_name);
	env->daemon = nonempty(r->policy_context);
	env->auth_user = nonempty(r->sasl_username);
	env->queue_id = nonempty(r->queue_id);
	if (stage >= POL_MAIL) {
		env->sender = r->sender != NULL ? r->sender : "";
		env->size = r->size != NULL ? strtoul(r->size, NULL, 10) : 0;
	}
	if (stage == POL_RCPT)
		env->rcpt = r->recipient != NULL ? r->recipient : "";
}

/* The request as the session answer.c logs; it borrows env's values. */
static struct session
session_of(const struct pol_env *env)
{
	struct session s = {
		.client_addr = (char *)env->client_addr,
		.client_name = (char *)env->client_name,
		.helo = (char *)env->helo, .sender = (char *)env->sender,
		.rcpt = (char *)env->rcpt, .queue_id = (char *)env->queue_id,
	};

	return s;
}

/* Log a verdict with the milter's decision line (answer.c). */
static void
verdict_log(const struct pol_env *env, const struct pol_verdict *v)
{
	struct session s = session_of(env);

	answer_log_note(&s, v);
}

/* Log an error verdict as the milter logs its own (once per rule and
 * client for a rule's error); accepted: on_error = "accept". */
static void
error_log(const struct pol_env *env, const struct pol_verdict *v, int accepted)
{
	struct session s = session_of(env);

	answer_log_error(&s, v, accepted);
}

/* A dry-run verdict or an overruled error, logged as the milter does. */
static void
pd_note(void *arg, const struct pol_verdict *v)
{
	const struct pd_sess *s = arg;

	verdict_log(s->env, v);
}

/*
 * The engine's verdict for one stage, its notes logged on the way: the
 * only place this door calls pol_eval.
 */
static void
pd_verdict(struct pd_sess *s, enum pol_stage stage, const struct pol_env *env,
    struct pol_verdict *v)
{
	s->env = env;
	pol_eval(s->pc, stage, env, sess_now_ms(), v);
	s->env = NULL;
}

/* Does this verdict refuse (or hold, discard) what it applies to? */
static int
verdict_acts(const struct pd_sess *s, const struct pol_verdict *v)
{
	const struct pol_settings *ps = pol_settings(pol_conn_policy(s->pc));

	if (v->action == POL_ERROR)
		return ps->on_error != POL_ACCEPT;
	return v->action == POL_TEMPFAIL || v->action == POL_REJECT ||
	    v->action == POL_DISCARD || v->action == POL_QUARANTINE;
}

/* "CODE X.Y.Z text", the reply's lines joined by one space. */
static void
text_of(const struct pol_verdict *v, const struct pol_env *env, char *out)
{
	static struct reply_text text;	/* 31 kB: off the stack; one thread */
	struct reply_ctx rc = {
		.client_addr = env->client_addr, .client_name = env->client_name,
		.helo = env->helo, .sender = env->sender, .rcpt = env->rcpt,
		.auth_user = env->auth_user, .rule = v->rule,
		.queue_id = env->queue_id, .vars = &v->vars,
		.dnsbl = v->dnsbl, .dnsbl_text = v->dnsbl_text,
	};
	size_t len;
	int i;

	reply_render(v->reply, &rc, &text);
	len = (size_t)snprintf(out, PD_TEXT_MAX + 1, "%d %s", v->reply->code,
	    v->reply->xcode);
	for (i = 0; i < text.nlines && len < PD_TEXT_MAX; i++)
		len += (size_t)snprintf(out + len, PD_TEXT_MAX + 1 - len, " %s",
		    text.line[i]);
}

/* The answer for a verdict, logged as the milter logs it. */
static void
answer_of(const struct pd_sess *s, const struct pol_env *env,
    const struct pol_verdict *v, char *out)
{
	char text[PD_TEXT_MAX + 1];

	if (!verdict_acts(s, v)) {
		if (v->action == POL_ERROR)
			error_log(env, v, 1);
		snprintf(out, PD_ANSWER_MAX, "action=DUNNO\n\n");
		return;
	}
	if (v->action == POL_ERROR)
		error_log(env, v, 0);
	else
		verdict_log(env, v);
	if (v->action == POL_DISCARD || v->action == POL_QUARANTINE)
		snprintf(out, PD_ANSWER_MAX, "action=%s milter-policy rule %s\n\n",
		    v->action == POL_DISCARD ? "DISCARD" : "HOLD", v->rule);
	else {
		text_of(v, env, text);
		snprintf(out, PD_ANSWER_MAX, "action=%s\n\n", text);
	}
}

/* The session this request belongs to: a new one at CONNECT or when the
 * client differs; -1 when there is no policy (the daemon is stopping).
 * XXX Postfix reopens its policy connection after
 * smtpd_policy_service_max_ttl, even within a session: the session goes
 * on here as a new one (its connection counted again). */
static int
sess_find(struct pd_sess *s, const struct pd_req *r, enum pol_stage stage)
{
	char id[PD_ID_MAX];
	struct policy *p;

	snprintf(id, sizeof id, "%s/%s/%s", r->client_address ? r->client_address :
	    "", r->client_port ? r->client_port : "", r->server_port ?
	    r->server_port : "");
	if (s->pc != NULL && stage != POL_CONNECT && strcmp(id, s->id) == 0)
		return 0;
	sess_end(s);
	if ((p = current_get()) == NULL)
		return -1;
	s->pc = pol_conn_new(p, state_store());
	pol_conn_door(s->pc, POL_DOOR_ENVELOPE);
	pol_conn_notes(s->pc, pd_note, s);
	pol_unref(p);
	snprintf(s->id, sizeof s->id, "%s", id);
	stats_connection();
	return 1;
}

/* Run a stage Postfix did not ask about; a refusal is kept in *held. */
static void
run_before(struct pd_sess *s, enum pol_stage stage, const struct pol_env *env,
    int *has, struct pol_verdict *held)
{
	struct pol_verdict v;

	pd_verdict(s, stage, env, &v);
	if (!*has && verdict_acts(s, &v)) {
		*held = v;
		*has = 1;
	}
}

/* A new message: the last one, if any, counts as delivered (Postfix does
 * not tell; a refusal of ours was settled when it was given). */
static void
msg_begin(struct pd_sess *s, const struct pd_req *r)
{
	if (s->msg_open)
		pol_msg_end(s->pc, 1, sess_now_ms());
	s->msg_open = 1;
	s->has_msg_held = 0;
	snprintf(s->instance, sizeof s->instance, "%s", r->instance ? r->instance : "");
	stats_message();
}

/* Is this request about another message than the open one? */
static int
msg_is_new(const struct pd_sess *s, const struct pd_req *r)
{
	if (!s->msg_open)
		return 1;
	return r->instance != NULL && r->instance[0] != '\0' &&
	    s->instance[0] != '\0' && strcmp(r->instance, s->instance) != 0;
}

/* Run what comes before this request's stage and has not run yet. */
static void
run_earlier(struct pd_sess *s, const struct pd_req *r, enum pol_stage stage,
    const struct pol_env *env, int fresh)
{
	if (fresh && stage != POL_CONNECT)
		run_before(s, POL_CONNECT, env, &s->has_held, &s->held);
	if (s->has_held)
		return;		/* refused for the session: nothing more counts */
	if (stage > POL_HELO && env->helo != NULL &&
	    (s->helo == NULL || strcmp(s->helo, env->helo) != 0)) {
		sess_set(&s->helo, env->helo);
		run_before(s, POL_HELO, env, &s->has_held, &s->held);
	}
	if (stage > POL_MAIL && msg_is_new(s, r)) {
		msg_begin(s, r);
		run_before(s, POL_MAIL, env, &s->has_msg_held, &s->msg_held);
	} else if (stage > POL_MAIL && s->instance[0] == '\0' && r->instance)
		snprintf(s->instance, sizeof s->instance, "%s", r->instance);
}

/* Run the request's own stage; a verdict held from earlier comes first. */
static void
run_stage(struct pd_sess *s, const struct pd_req *r, enum pol_stage stage,
    const struct pol_env *env, char *out)
{
	struct pol_verdict v;

	if (stage == POL_HELO)
		sess_set(&s->helo, env->helo);
	if (stage == POL_MAIL)
		msg_begin(s, r);
	if (s->has_held && stage >= POL_HELO && (stage >= POL_MAIL ||
	    (s->held.action != POL_DISCARD && s->held.action != POL_QUARANTINE))) {
		answer_of(s, env, &s->held, out);
		s->held.over_first = s->held.evicting = 0;	/* noticed once */
		return;
	}
	if (s->has_msg_held) {
		answer_of(s, env, &s->msg_held, out);
		s->msg_held.over_first = s->msg_held.evicting = 0;
		return;
	}
	pd_verdict(s, stage, env, &v);
	if (stage == POL_CONNECT && verdict_acts(s, &v)) {
		s->held = v;	/* for the rest of the session, as the milter does */
		s->has_held = 1;
	}
	answer_of(s, env, &v, out);
	if (stage == POL_EOM) {
		pol_msg_end(s->pc, !verdict_acts(s, &v), sess_now_ms());
		s->msg_open = 0;
	}
}

void
pd_sess_answer(struct pd_sess *s, const struct pd_req *r, char *out)
{
	enum pol_stage stage = stage_of(r->protocol_state);
	char addr[64];
	struct pol_env env;
	int fresh;

	if (stage == PD_STAGE_NONE) {
		snprintf(out, PD_ANSWER_MAX, "action=DUNNO\n\n");
		return;
	}
	if ((fresh = sess_find(s, r, stage)) < 0) {
		pd_answer_bad("the milter is stopping", out);
		return;
	}
	env_of(r, stage, addr, sizeof addr, &env);
	if (pol_uses_dns(pol_conn_policy(s->pc)))
		env.dns = dns_resolver(pol_settings(pol_conn_policy(s->pc)));
	run_earlier(s, r, stage, &env, fresh);
	run_stage(s, r, stage, &env, out);
}

void
pd_answer_bad(const char *why, char *out)
{
	struct policy *p = current_get();
	int accept = p != NULL && pol_settings(p)->on_error == POL_ACCEPT;

	pol_unref(p);
	log_msg(LOG_WARNING, "policy service: malformed request: %s; answered %s",
	    why, accept ? "DUNNO (on_error=accept)" : "451 4.3.0 (on_error=tempfail)");
	stats_error();
	snprintf(out, PD_ANSWER_MAX, accept ? "action=DUNNO\n\n" :
	    "action=451 4.3.0 The policy service could not read Postfix's "
	    "request; this is a fault on the receiving side: try again later.\n\n");
}
