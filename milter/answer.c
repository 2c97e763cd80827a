/* answer.c: a verdict → reply text, SMFIS_* value and the decision line. */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "answer.h"
#include "log.h"
#include "log_once.h"
#include "metrics.h"
#include "notify.h"
#include "replies.h"
#include "text.h"
#include "session.h"
#include "stats.h"

#define VALUE_BUF (TEXT_VALUE_MAX + 8)

/* A client value made safe for a key=value log line: clean, no spaces. */
static const char *
log_value(const char *v, char *buf)
{
	char *p;

	if (v == NULL)
		return "unknown";
	text_clean(v, buf, VALUE_BUF);
	for (p = buf; *p; p++)
		if (*p == ' ')
			*p = '_';
	return buf;
}

static const char *
verb_name(const struct pol_verdict *v)
{
	int class = v->reply ? v->reply->code / 100 : 0;

	switch (v->action) {
	case POL_DISCARD:
		return v->mode == POL_DRY_RUN ? "would-discard" : "discard";
	case POL_QUARANTINE:
		return v->mode == POL_DRY_RUN ? "would-quarantine" : "quarantine";
	case POL_ERROR:
		return "error";
	default:
		break;
	}
	if (v->mode == POL_DRY_RUN)
		return class == 4 ? "would-tempfail" : "would-reject";
	return class == 4 ? "tempfail" : "reject";
}

/* A rule's own error (a regex out of its budget) is logged once per rule
 * and client in a window: a client that sends it again and again must not
 * fill the log.  Store errors are logged once per outage by the store. */
static int
error_repeated(const struct session *s, const struct pol_verdict *v)
{
	return v->action == POL_ERROR && v->rule != NULL && v->reply != NULL &&
	    strcmp(v->reply->name, "store_unavailable") != 0 &&
	    !log_once_first(v->rule, s->client_addr, sess_now_ms());
}

/* " limit=5/1m used=5": the limit in force and the count, for a counting
 * rule's verdict; its length. */
static size_t
limit_part(const struct pol_verdict *v, char *out, size_t outsz)
{
	char w[32];
	int n;

	if (v->vars.period != NULL)
		snprintf(w, sizeof w, "%s", v->vars.period);
	else
		pol_window_text(v->vars.window_s, w, sizeof w);
	n = snprintf(out, outsz, " limit=%lu/%s used=%lu", v->vars.limit, w,
	    v->vars.count);
	return n < 0 ? 0 : (size_t)n;
}

/* The decision line: "QUEUEID: verb stage=... rule=... code=... ...". */
static void
decision_log(const struct session *s, const struct pol_verdict *v,
    const char *verb, const char *extra)
{
	char q[VALUE_BUF], n[VALUE_BUF], a[VALUE_BUF], h[VALUE_BUF];
	char f[VALUE_BUF], r[VALUE_BUF], codes[64] = "", msg[4 * VALUE_BUF];
	size_t len;

	if (v->reply != NULL)
		snprintf(codes, sizeof codes, " code=%d xcode=%s",
		    v->reply->code, v->reply->xcode);
	len = snprintf(msg, sizeof msg, "%s: %s stage=%s rule=%s%s client=%s[%s]",
	    s->queue_id ? log_value(s->queue_id, q) : "NOQUEUE", verb,
	    pol_stage_name(v->stage), v->rule ? v->rule : "none", codes,
	    log_value(s->client_name, n), log_value(s->client_addr, a));
	if (s->helo != NULL && len < sizeof msg)
		len += snprintf(msg + len, sizeof msg - len, " helo=%s",
		    log_value(s->helo, h));
	if (s->sender != NULL && len < sizeof msg)
		len += snprintf(msg + len, sizeof msg - len, " sender=<%s>",
		    log_value(s->sender, f));
	if (s->rcpt != NULL && v->stage == POL_RCPT && len < sizeof msg)
		len += snprintf(msg + len, sizeof msg - len, " rcpt=<%s>",
		    log_value(s->rcpt, r));
	if (v->vars.window_s != 0 && len < sizeof msg)
		len += limit_part(v, msg + len, sizeof msg - len);
	if (v->dnsbl[0] != '\0' && len < sizeof msg)
		len += snprintf(msg + len, sizeof msg - len, " dnsbl=%s",
		    log_value(v->dnsbl, r));
	if (v->greylist != NULL && len < sizeof msg)
		len += snprintf(msg + len, sizeof msg - len, " greylist=%s "
		    "retry_after=%lu", v->greylist, v->vars.retry_after_s);
	if (v->greylist != NULL && v->mode != POL_DRY_RUN)
		stats_greylist();
	if (!error_repeated(s, v))
		log_msg(v->action == POL_ERROR ? LOG_WARNING : LOG_INFO, "%s%s",
		    msg, extra ? extra : "");
	if (v->action == POL_ERROR)
		stats_error();
	stats_decision(v->rule, v->reply ? v->reply->code : 0,
	    v->mode == POL_DRY_RUN);
	metrics_decision(pol_stage_name(v->stage), v->rule,
	    v->reply ? v->reply->code : 0, verb);
}

/* The rule's notify address is told, once per counter and window. */
static void
tell(const struct session *s, const struct pol_verdict *v, const char *window)
{
	char limit[48];
	struct notify_event e = {
		.to = v->notify, .rule = v->rule, .key = v->key, .limit = limit,
		.verb = verb_name(v), .stage = pol_stage_name(v->stage),
		.code = v->reply ? v->reply->code : 0,
		.xcode = v->reply ? v->reply->xcode : NULL,
		.queue_id = s->queue_id ? s->queue_id : "NOQUEUE",
		.client_name = s->client_name, .client_addr = s->client_addr,
		.sender = s->sender,
	};

	snprintf(limit, sizeof limit, "%lu/%s", v->vars.limit, window);
	notify_over_limit(&e);
}

/* The lines a log watcher alerts on: once per counter, once per store. */
static void
notices(const struct session *s, const struct pol_verdict *v)
{
	char q[VALUE_BUF], k[VALUE_BUF], w[32];

	if (v->evicting)
		log_msg(LOG_WARNING, "state: max_keys reached: evicting the "
		    "counters that expire soonest; raise state.max_keys");
	if (!v->over_first)
		return;
	if (v->vars.period != NULL)
		snprintf(w, sizeof w, "%s", v->vars.period);
	else
		pol_window_text(v->vars.window_s, w, sizeof w);
	log_msg(LOG_NOTICE, "%s: over-limit rule=%s key=%s limit=%lu/%s "
	    "used=%lu", s->queue_id ? log_value(s->queue_id, q) : "NOQUEUE",
	    v->rule ? v->rule : "none", log_value(v->key, k), v->vars.limit, w,
	    v->vars.count);
	metrics_over_limit(v->rule);
	if (v->notify != NULL)
		tell(s, v, w);
}

void
answer_log_note(const struct session *s, const struct pol_verdict *v)
{
	notices(s, v);
	decision_log(s, v, verb_name(v), v->action != POL_ERROR ? NULL :
	    v->mode == POL_DRY_RUN ? " mode=dry-run: let through" :
	    " on_error=overruled");
}

void
answer_log_error(const struct session *s, const struct pol_verdict *v,
    int accepted)
{
	decision_log(s, v, "error", accepted ? " on_error=accept" :
	    " on_error=tempfail");
}

/* Render, escape and hand the reply text to libmilter. */
static void
answer_set(SMFICTX *ctx, const struct session *s, const struct pol_verdict *v)
{
	static struct reply_text empty;
	char code[8], q[VALUE_BUF], esc[REPLY_MAX_LINES][REPLY_LINE_MAX + 1];
	char *l[REPLY_MAX_LINES + 1] = { NULL };
	struct reply_text text = empty;
	struct reply_ctx rc = {
		.client_addr = s->client_addr, .client_name = s->client_name,
		.helo = s->helo, .sender = s->sender, .rcpt = s->rcpt,
		.auth_user = s->auth_user, .rule = v->rule,
		.queue_id = s->queue_id, .vars = &v->vars,
		.dnsbl = v->dnsbl, .dnsbl_text = v->dnsbl_text,
	};
	int i, rv;

	reply_render(v->reply, &rc, &text);
	for (i = 0; i < text.nlines; i++) {
		reply_escape(text.line[i], esc[i], sizeof esc[i]);
		l[i] = esc[i];
	}
	snprintf(code, sizeof code, "%d", v->reply->code);
	if (text.nlines <= 1)
		rv = smfi_setreply(ctx, code, (char *)v->reply->xcode, l[0]);
	else
		rv = smfi_setmlreply(ctx, code, v->reply->xcode, l[0], l[1],
		    l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9], l[10],
		    l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18],
		    l[19], l[20], l[21], l[22], l[23], l[24], l[25], l[26],
		    l[27], l[28], l[29], l[30], l[31], (char *)NULL);
	if (rv != MI_SUCCESS)
		log_msg(LOG_WARNING, "%s: the MTA will use its own text: "
		    "libmilter refused reply %s %s of rule %s",
		    s->queue_id ? log_value(s->queue_id, q) : "NOQUEUE", code,
		    v->reply->xcode, v->rule ? v->rule : "none");
}

/* Refuse with the verdict's reply: the class decides the SMFIS_* value. */
static sfsistat
answer_refuse(SMFICTX *ctx, struct session *s, const struct pol_verdict *v,
    const char *extra)
{
	decision_log(s, v, verb_name(v), extra);
	answer_set(ctx, s, v);
	return v->reply->code / 100 == 4 ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

static sfsistat
answer_error(SMFICTX *ctx, struct session *s, const struct pol_verdict *v)
{
	const struct pol_settings *ps = pol_settings(pol_conn_policy(s->pc));

	if (ps->on_error == POL_ACCEPT) {
		decision_log(s, v, "error", " on_error=accept");
		return SMFIS_CONTINUE;
	}
	return answer_refuse(ctx, s, v, " on_error=tempfail");
}

sfsistat
answer_apply(SMFICTX *ctx, struct session *s, const struct pol_verdict *v)
{
	char reason[128];

	notices(s, v);
	switch (v->action) {
	case POL_CONTINUE:
		return SMFIS_CONTINUE;
	case POL_ACCEPT:
		return SMFIS_ACCEPT;
	case POL_DISCARD:
		decision_log(s, v, verb_name(v), NULL);
		return SMFIS_DISCARD;
	case POL_QUARANTINE:
		decision_log(s, v, verb_name(v), NULL);
		snprintf(reason, sizeof reason, "milter-policy rule %s", v->rule);
		sess_set(&s->quarantine, reason);
		return SMFIS_CONTINUE;
	case POL_ERROR:
		return answer_error(ctx, s, v);
	case POL_TEMPFAIL:
	case POL_REJECT:
		break;
	}
	return answer_refuse(ctx, s, v, NULL);
}
