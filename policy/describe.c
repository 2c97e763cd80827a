/*
 * describe.c: what a compiled policy's rules need, for the callers that
 * serve or report on a policy rather than evaluate it: the policy
 * service's `-t` and its share of the rules (pol_rule_content),
 * `milter-policy replay` (pol_rule_needs_content), and the macros the
 * milter asks the MTA for (pol_needs_values).  Read-only views of a
 * referenced policy; see policy.h.
 */
#include <string.h>
#include <strings.h>

#include "rules.h"

const char *
pol_rule_name(const struct policy *p, int i)
{
	return i >= 0 && i < p->nrules ? p->rules[i].name : NULL;
}

int
pol_rule_dry_run(const struct policy *p, int i)
{
	return i >= 0 && i < p->nrules && p->rules[i].mode == POL_DRY_RUN;
}

static int
is_message_id(const char *name)
{
	return name != NULL && strcasecmp(name, "Message-ID") == 0;
}

/* Does a key set count per a header (other than Message-ID, when
 * but_message_id)? */
static int
keys_header(const struct policy *p, const struct keyset *ks, int but_message_id)
{
	int i;

	for (i = 0; i < ks->n; i++)
		if (ks->k[i].kind == KEY_HEADER && !(but_message_id &&
		    is_message_id(p->headers[ks->k[i].hdr])))
			return 1;
	return 0;
}

/* Does a condition set test a header (other than Message-ID, when
 * but_message_id)? */
static int
conds_header(const struct condset *cs, int but_message_id)
{
	int i;

	for (i = 0; i < cs->n; i++)
		if (cs->c[i].kind == COND_HEADER && !(but_message_id &&
		    is_message_id(cs->c[i].hdr_name)))
			return 1;
	return 0;
}

const char *
pol_rule_content(const struct policy *p, int i, const char **name)
{
	const struct rule *r = &p->rules[i];

	*name = r->name;
	if (r->dup != NULL)
		return "it counts duplicate messages";
	if (conds_header(&r->when, 0) || conds_header(&r->unless, 0))
		return "it tests a header";
	if (r->limit != NULL && keys_header(p, &r->limit->keys, 0))
		return "it counts per header";
	if (r->stage == POL_HEADER || r->stage == POL_EOH || r->stage == POL_BODY)
		return "it is checked at a header or body stage";
	return NULL;
}

/* Does a condition set ask a DNS list? */
static int
conds_dns(const struct condset *cs)
{
	int i;

	for (i = 0; i < cs->n; i++)
		if (cs->c[i].dns != NULL)
			return 1;
	return 0;
}

const char *
pol_rule_needs_content(const struct policy *p, int i)
{
	const struct rule *r;

	if (i < 0 || i >= p->nrules)
		return NULL;
	r = &p->rules[i];
	if (r->dup != NULL && r->dup->of == DUP_BODY)
		return "the body";
	if ((r->dup != NULL && r->dup->of == DUP_HEADER && !r->dup->message_id &&
	    !is_message_id(p->headers[r->dup->hdr])) ||
	    (r->dup != NULL && keys_header(p, &r->dup->keys, 1)) ||
	    (r->limit != NULL && keys_header(p, &r->limit->keys, 1)) ||
	    conds_header(&r->when, 1) || conds_header(&r->unless, 1))
		return "headers other than Message-ID";
	if (conds_dns(&r->when) || conds_dns(&r->unless))
		return "DNS list answers as they were then";
	return NULL;
}


static unsigned
conds_need(const struct condset *cs)
{
	unsigned need = 0;
	int i;

	for (i = 0; i < cs->n; i++)
		if (cs->c[i].kind == COND_DAEMON)
			need |= POL_NEED_DAEMON;
		else if (cs->c[i].kind == COND_AUTHENTICATED ||
		    cs->c[i].kind == COND_AUTH_USER)
			need |= POL_NEED_AUTH_USER;
	return need;
}

static unsigned
keys_need(const struct keyset *ks)
{
	int i;

	for (i = 0; i < ks->n; i++)
		if (ks->k[i].kind == KEY_AUTH_USER)
			return POL_NEED_AUTH_USER;
	return 0;
}

static unsigned
reply_need(const struct reply *r)
{
	int i;

	for (i = 0; r != NULL && i < r->nlines; i++)
		if (strstr(r->lines[i], "%{auth_user}") != NULL)
			return POL_NEED_AUTH_USER;
	return 0;
}

unsigned
pol_needs_values(const struct policy *p)
{
	unsigned need = reply_need(p->relay.reply) |
	    reply_need(p->internal_error) | reply_need(p->store_unavailable);
	const struct rule *r;
	int i;

	if (p->relay.enabled && p->relay.permit_authenticated)
		need |= POL_NEED_AUTH_USER;
	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		need |= conds_need(&r->when) | conds_need(&r->unless) |
		    reply_need(r->reply);
		if (r->limit != NULL)
			need |= keys_need(&r->limit->keys);
		if (r->dup != NULL)
			need |= keys_need(&r->dup->keys);
	}
	return need;
}
