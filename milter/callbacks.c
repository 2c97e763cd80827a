/*
 * callbacks.c: the mlfi_* table.  Each callback copies what libmilter
 * lends into the session, asks the engine about its stage, and turns the
 * verdict into a reply (answer.c).  No policy decision is made here.
 *
 * libmilter cannot send reply text from the connect callback (and
 * Sendmail drops it there), so a refusal reached at connect is held and
 * given at HELO, or at MAIL when the client skips HELO or the HELO step was
 * negotiated away; it stays in force for the rest of the connection.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <syslog.h>

#include "addr.h"
#include "answer.h"
#include "callbacks.h"
#include "current.h"
#include "log.h"
#include "session.h"
#include "state.h"
#include "stats.h"
#include "util.h"

/* A verdict the engine reached but does not apply: logged, not given. */
static void
cb_note(void *arg, const struct pol_verdict *v)
{
	answer_log_note(arg, v);
}

/* The session of a connection, created on its first callback. */
static struct session *
sess_get(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);
	struct policy *p;

	if (s == NULL && (p = current_get()) != NULL) {
		s = sess_new(p, state_store());
		pol_unref(p);
		pol_conn_notes(s->pc, cb_note, s);
		smfi_setpriv(ctx, s);
	}
	return s;
}

/* Refresh the queue id: Postfix knows it only from the first accepted RCPT. */
static void
sess_queue_id(SMFICTX *ctx, struct session *s)
{
	const char *q = smfi_getsymval(ctx, "i");

	if (q != NULL && (s->queue_id == NULL || strcmp(q, s->queue_id) != 0))
		sess_set(&s->queue_id, q);
}

static sfsistat
stage_eval(SMFICTX *ctx, struct session *s, enum pol_stage stage)
{
	struct pol_verdict v;
	struct pol_env env;

	sess_env(s, &env);
	pol_eval(s->pc, stage, &env, sess_now_ms(), &v);
	return answer_apply(ctx, s, &v);
}

/* Give a verdict held since connect, if any; SMFIS_CONTINUE when none. */
static sfsistat
held_apply(SMFICTX *ctx, struct session *s)
{
	sfsistat rc = answer_apply(ctx, s, &s->held);

	s->held.over_first = 0;		/* noticed once, refused each time */
	s->held.evicting = 0;
	return rc;
}

/* A held refusal is given at HELO; a held discard or quarantine acts on
 * each message, so it waits for MAIL FROM. */
static int
held_refuses(const struct pol_verdict *v)
{
	return v->action != POL_DISCARD && v->action != POL_QUARANTINE;
}

/* The client's address as text, IPv4-mapped IPv6 as IPv4; NULL if none. */
static void
sess_client(struct session *s, const struct sockaddr *sa)
{
	char buf[INET6_ADDRSTRLEN], norm[INET6_ADDRSTRLEN];
	const void *a = NULL;

	if (sa != NULL && sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa != NULL && sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (a != NULL && inet_ntop(sa->sa_family, a, buf, sizeof buf) != NULL &&
	    addr_ip_normalise(buf, norm, sizeof norm) == 0)
		sess_set(&s->client_addr, norm);
}

/* The steps the MTA need not wait on: headers and body chunks gathered
 * for a later stage, where no rule answers (one round trip saved each). */
static unsigned long
cb_noreply_flags(const struct policy *p)
{
	unsigned long flags = 0;

	if (!pol_answers_at(p, POL_HEADER))
		flags |= SMFIP_NR_HDR;
	if (!pol_answers_at(p, POL_BODY))
		flags |= SMFIP_NR_BODY;
	return flags;
}

/* The protocol steps to ask the MTA to skip: every stage no rule needs. */
static unsigned long
cb_protocol_flags(const struct policy *p)
{
	static const struct { enum pol_stage stage; unsigned long flag; } skip[] = {
		{ POL_HELO, SMFIP_NOHELO }, { POL_RCPT, SMFIP_NORCPT },
		{ POL_DATA, SMFIP_NODATA }, { POL_HEADER, SMFIP_NOHDRS },
		{ POL_EOH, SMFIP_NOEOH }, { POL_BODY, SMFIP_NOBODY },
	};
	unsigned long flags = SMFIP_NOUNKNOWN;
	size_t i;

	for (i = 0; i < NELEM(skip); i++)
		if (!pol_needs_stage(p, skip[i].stage))
			flags |= skip[i].flag;
	return flags | cb_noreply_flags(p);
}

/* Ask for exactly the macros the policy reads, and the queue id the log
 * lines carry; none at all at HELO.  Postfix sends no macro of a stage
 * left out once a milter gives any list; Sendmail keeps its own
 * Milter.macros for it, so an empty list is given. */
static void
cb_request_macros(SMFICTX *ctx, const struct policy *p)
{
	unsigned need = pol_needs_values(p);

	smfi_setsymlist(ctx, SMFIM_CONNECT,
	    need & POL_NEED_DAEMON ? "{daemon_name}" : "");
	smfi_setsymlist(ctx, SMFIM_HELO, "");
	smfi_setsymlist(ctx, SMFIM_ENVFROM,
	    need & POL_NEED_AUTH_USER ? "i {auth_authen}" : "i");
	smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
	smfi_setsymlist(ctx, SMFIM_DATA, "i");
	smfi_setsymlist(ctx, SMFIM_EOH, "i");
	smfi_setsymlist(ctx, SMFIM_EOM, "i");
}

static sfsistat
mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct session *s = sess_get(ctx);

	(void)f2;
	(void)f3;
	if (s == NULL)
		return SMFIS_TEMPFAIL;
	*pf0 = f0 & (SMFIF_QUARANTINE | SMFIF_SETSYMLIST);
	*pf1 = f1 & cb_protocol_flags(pol_conn_policy(s->pc));
	*pf2 = *pf3 = 0;
	s->noreply = *pf1 & (SMFIP_NR_HDR | SMFIP_NR_BODY);
	if (f0 & SMFIF_SETSYMLIST)
		cb_request_macros(ctx, pol_conn_policy(s->pc));
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct session *s = sess_get(ctx);
	struct pol_verdict v;
	struct pol_env env;

	if (s == NULL)
		return SMFIS_TEMPFAIL;
	stats_connection();
	sess_client(s, (const struct sockaddr *)hostaddr);
	if (hostname != NULL && hostname[0] != '[' &&
	    strcasecmp(hostname, "unknown") != 0)
		sess_set(&s->client_name, hostname);
	sess_set(&s->daemon, smfi_getsymval(ctx, "{daemon_name}"));
	sess_env(s, &env);
	pol_eval(s->pc, POL_CONNECT, &env, sess_now_ms(), &v);
	if (v.action == POL_CONTINUE || v.action == POL_ACCEPT)
		return answer_apply(ctx, s, &v);
	s->held = v;		/* given, with its text, at HELO or MAIL */
	s->has_held = 1;
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_helo(SMFICTX *ctx, char *helo)
{
	struct session *s = smfi_getpriv(ctx);

	if (s == NULL)
		return SMFIS_TEMPFAIL;
	sess_set(&s->helo, helo);
	s->helo_seen = 1;
	if (s->has_held && held_refuses(&s->held))
		return held_apply(ctx, s);
	return stage_eval(ctx, s, POL_HELO);
}

static sfsistat
mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	struct session *s = smfi_getpriv(ctx);

	if (s == NULL)
		return SMFIS_TEMPFAIL;
	sess_msg_reset(s);
	stats_message();
	sess_sender(s, argv);
	sess_set(&s->auth_user, smfi_getsymval(ctx, "{auth_authen}"));
	sess_queue_id(ctx, s);
	if (s->has_held)
		return held_apply(ctx, s);
	return stage_eval(ctx, s, POL_MAIL);
}

static sfsistat
mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	struct session *s = smfi_getpriv(ctx);

	if (s == NULL)
		return SMFIS_TEMPFAIL;
	sess_path(&s->rcpt, argv[0]);
	sess_queue_id(ctx, s);
	return stage_eval(ctx, s, POL_RCPT);
}

static sfsistat
mlfi_data(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);

	if (s == NULL)
		return SMFIS_TEMPFAIL;
	sess_queue_id(ctx, s);
	sess_set(&s->rcpt, NULL);
	return stage_eval(ctx, s, POL_DATA);
}

/* A header or body chunk gathered: no answer when the MTA agreed to
 * wait for none.  No rule answers there then, so v is "continue"; an
 * answer the MTA does not read would be taken for the next one's. */
static sfsistat
gathered(SMFICTX *ctx, struct session *s, unsigned long nr_flag,
    struct pol_verdict *v)
{
	if (!(s->noreply & nr_flag))
		return answer_apply(ctx, s, v);
	if (v->action != POL_CONTINUE)
		log_msg(LOG_ERR, "internal error: rule %s answered at a stage "
		    "the MTA does not wait on; ignored", v->rule ? v->rule : "none");
	return SMFIS_NOREPLY;
}

static sfsistat
mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	struct session *s = smfi_getpriv(ctx);
	struct pol_verdict v;
	struct pol_env env;

	if (s == NULL)
		return SMFIS_TEMPFAIL;
	sess_count(s, strlen(name) + strlen(value) + 4);	/* ": ", CRLF */
	sess_env(s, &env);
	env.hdr_name = name;
	env.hdr_value = value;
	pol_eval(s->pc, POL_HEADER, &env, sess_now_ms(), &v);
	return gathered(ctx, s, SMFIP_NR_HDR, &v);
}

static sfsistat
mlfi_eoh(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);

	if (s == NULL)
		return SMFIS_TEMPFAIL;
	sess_queue_id(ctx, s);
	return stage_eval(ctx, s, POL_EOH);
}

static sfsistat
mlfi_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct session *s = smfi_getpriv(ctx);
	struct pol_verdict v;
	struct pol_env env;

	if (s == NULL)
		return SMFIS_TEMPFAIL;
	sess_count(s, len);
	s->size_counted = 1;
	sess_env(s, &env);
	env.body = chunk;
	env.body_len = len;
	pol_eval(s->pc, POL_BODY, &env, sess_now_ms(), &v);
	return gathered(ctx, s, SMFIP_NR_BODY, &v);
}

static sfsistat
mlfi_eom(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);
	sfsistat rc;

	if (s == NULL)
		return SMFIS_TEMPFAIL;
	sess_queue_id(ctx, s);
	s->size_counted = 1;		/* also for an empty body */
	rc = stage_eval(ctx, s, POL_EOM);
	if (rc == SMFIS_CONTINUE && s->quarantine != NULL)
		smfi_quarantine(ctx, s->quarantine);
	pol_msg_end(s->pc, rc == SMFIS_CONTINUE || rc == SMFIS_ACCEPT,
	    sess_now_ms());
	sess_msg_reset(s);
	return rc;
}

static sfsistat
mlfi_abort(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);

	if (s != NULL) {
		pol_msg_end(s->pc, 0, sess_now_ms());
		sess_msg_reset(s);
	}
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_close(SMFICTX *ctx)
{
	sess_free(smfi_getpriv(ctx));
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_unknown(SMFICTX *ctx, const char *cmd)
{
	(void)ctx;
	(void)cmd;
	return SMFIS_CONTINUE;
}

struct smfiDesc cb_desc = {
	.xxfi_name = "milter-policy",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
	.xxfi_connect = mlfi_connect,
	.xxfi_helo = mlfi_helo,
	.xxfi_envfrom = mlfi_envfrom,
	.xxfi_envrcpt = mlfi_envrcpt,
	.xxfi_header = mlfi_header,
	.xxfi_eoh = mlfi_eoh,
	.xxfi_body = mlfi_body,
	.xxfi_eom = mlfi_eom,
	.xxfi_abort = mlfi_abort,
	.xxfi_close = mlfi_close,
	.xxfi_unknown = mlfi_unknown,
	.xxfi_data = mlfi_data,
	.xxfi_negotiate = mlfi_negotiate,
};
