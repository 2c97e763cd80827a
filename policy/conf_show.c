/*
 * conf_show.c: the policy as the milter understood it, for `milter-policy
 * -t` (each list and its number of entries) and `-t -v` (every setting as
 * libconfig parsed it, then each rule as compiled), the way `postconf -n`
 * shows Postfix's.  A string libconfig joined from two ("example.com"
 * "example.net" without a comma) shows as the one entry it became.
 *
 * The file is read again; the policy it was loaded from must be valid.
 * Nothing is kept: see policy.h.
 */
#include <libconfig.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "match.h"
#include "replies.h"

static void
show_silent(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* A string as the policy file would write it. */
static void
show_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fprintf(out, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void
show_scalar(FILE *out, const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		show_string(out, config_setting_get_string(s));
		break;
	case CONFIG_TYPE_BOOL:
		fputs(config_setting_get_bool(s) ? "true" : "false", out);
		break;
	case CONFIG_TYPE_INT:
		fprintf(out, "%d", config_setting_get_int(s));
		break;
	case CONFIG_TYPE_INT64:
		fprintf(out, "%lld", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		fprintf(out, "%g", config_setting_get_float(s));
		break;
	default:
		fputs("?", out);
	}
}

static const char *
entries(long n)
{
	return n == 1 ? "entry" : "entries";
}

/* Every scalar under s, one per line, named by its path. */
static void
show_tree(FILE *out, const config_setting_t *s, const char *path)
{
	char sub[512];
	int i, n = config_setting_length(s);

	if (config_setting_is_scalar(s)) {
		fprintf(out, "  %s = ", path);
		show_scalar(out, s);
		fputc('\n', out);
		return;
	}
	if (n == 0)
		fprintf(out, "  %s = %s\n", path,
		    config_setting_is_group(s) ? "{ }" : "[ ]");
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);

		if (config_setting_is_group(s))
			snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." :
			    "", config_setting_name(e));
		else
			snprintf(sub, sizeof sub, "%s[%d]", path, i);
		show_tree(out, e, sub);
	}
}

/* A list setting's entries as the loader compiles them (@lists and
 * file: lists included). */
static void
show_count(FILE *out, struct conf *cf, const config_setting_t *s,
    const char *label)
{
	struct match_list *l;
	size_t n;

	if (s == NULL)
		return;
	l = conf_matcher(cf, s, MATCH_STRING);
	n = match_list_size(l);
	fprintf(out, "%s: %zu %s\n", label, n, entries((long)n));
	match_list_free(l);
}

static void
show_lists(FILE *out, struct conf *cf)
{
	char label[256];
	int i, n = cf->lists ? config_setting_length(cf->lists) : 0;

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(cf->lists, i);

		snprintf(label, sizeof label, "list %s", config_setting_name(s));
		show_count(out, cf, s, label);
	}
	show_count(out, cf, config_lookup(&cf->cfg, "relay.local_domains"),
	    "relay.local_domains");
	show_count(out, cf, config_lookup(&cf->cfg, "relay.permit.client"),
	    "relay.permit.client");
}

/* ---- rules as compiled ---- */

static void
show_keys(FILE *out, const struct policy *p, const struct keyset *ks)
{
	const struct keyspec *k = ks->k;
	int i;

	if (ks->n == 0)
		fputs(" (all senders together)", out);
	for (i = 0; i < ks->n; i++)
		fprintf(out, "%s%s%s", i ? ", " : " per ",
		    k[i].kind == KEY_HEADER ? "header:" : keys_kind_names[k[i].kind],
		    k[i].kind == KEY_HEADER ? p->headers[k[i].hdr] : "");
}

static void
show_limit(FILE *out, const struct policy *p, const struct limit *l)
{
	char w[64];

	reply_duration(l->window_ms / 1000, w, sizeof w);
	fprintf(out, "    limit: %s", rl_unit_names[l->unit]);
	show_keys(out, p, &l->keys);
	fprintf(out, "; %lu per %s, burst %lu, charge %s", l->rate, w, l->burst,
	    rl_charge_names[l->charge]);
	if (l->counter != NULL)
		fprintf(out, ", counter of rule %s", l->counter);
	fputc('\n', out);
}

static void
show_dup(FILE *out, const struct policy *p, const struct dupspec *d)
{
	char w[64];

	reply_duration(d->window_ms / 1000, w, sizeof w);
	fprintf(out, "    duplicates: of %s", d->of == DUP_BODY ? "body" :
	    d->message_id ? "message_id" : p->headers[d->hdr]);
	show_keys(out, p, &d->keys);
	fprintf(out, "; at most %lu per %s%s\n", d->max, w,
	    d->count_refused ? "" : ", refused copies not counted");
}

static void
show_reply(FILE *out, const char *what, const struct reply *r)
{
	int i;

	for (i = 0; r != NULL && i < r->nlines; i++) {
		fprintf(out, "    %s %d%c%s ", i ? "     " : what, r->code,
		    i + 1 < r->nlines ? '-' : ' ', r->xcode);
		show_string(out, r->lines[i]);
		fputc('\n', out);
	}
}

static void
show_rules(FILE *out, const struct policy *p)
{
	int i;

	fprintf(out, "relay: %s\n", p->relay.enabled ? "on" : "off");
	if (p->relay.enabled)
		show_reply(out, "reply", p->relay.reply);
	for (i = 0; i < p->nrules; i++) {
		const struct rule *r = &p->rules[i];

		fprintf(out, "rule %s (line %d): at %s, %s%s%s; %d when, %d "
		    "unless\n", r->name, r->line, pol_stage_name(r->stage),
		    pol_action_name(r->action), r->mode == POL_DRY_RUN ?
		    ", dry-run" : "", r->action == POL_ACCEPT &&
		    r->scope == POL_SCOPE_CONNECTION ? " (connection)" : "",
		    r->when.n, r->unless.n);
		if (r->limit != NULL)
			show_limit(out, p, r->limit);
		if (r->dup != NULL)
			show_dup(out, p, r->dup);
		show_reply(out, "reply", r->reply);
	}
}

int
pol_show(const struct policy *p, int verbose, FILE *out)
{
	struct conf cf = { .path = p->path, .errfn = show_silent };

	config_init(&cf.cfg);
	if (config_read_file(&cf.cfg, p->path) != CONFIG_TRUE) {
		config_destroy(&cf.cfg);
		return -1;
	}
	cf.lists = config_lookup(&cf.cfg, "lists");
	show_lists(out, &cf);
	if (verbose) {
		fprintf(out, "as parsed:\n");
		show_tree(out, config_root_setting(&cf.cfg), "");
		fprintf(out, "as compiled:\n");
		show_rules(out, p);
	}
	config_destroy(&cf.cfg);
	return 0;
}
