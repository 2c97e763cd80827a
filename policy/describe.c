/*
 * describe.c: what a compiled policy's rules are, for tools that report
 * on a policy rather than evaluate it (`milter-policy replay`).  Read-only
 * views of a referenced policy; see policy.h.
 */
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

static int
keys_need_header(const struct policy *p, const struct keyspec *k, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (k[i].kind == KEY_HEADER && !is_message_id(p->headers[k[i].hdr]))
			return 1;
	return 0;
}

static int
conds_need_header(const struct condset *cs)
{
	int i;

	for (i = 0; i < cs->n; i++)
		if (cs->c[i].kind == COND_HEADER && !is_message_id(cs->c[i].hdr_name))
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
	    (r->dup != NULL && keys_need_header(p, r->dup->keys, r->dup->nkeys)) ||
	    (r->limit != NULL && keys_need_header(p, r->limit->keys, r->limit->nkeys)) ||
	    conds_need_header(&r->when) || conds_need_header(&r->unless))
		return "headers other than Message-ID";
	return NULL;
}
