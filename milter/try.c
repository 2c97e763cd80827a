/*
 * try.c: `milter-policy try`: run one transaction through a policy
 * offline and print, stage by stage, which rules matched and the exact
 * reply the client would get.  Counters are read from the state file (if
 * the policy names one and it exists) or the Redis server, and the
 * transaction is charged to a scratch copy of them (store_scratch_new), so
 * a limit reached inside it refuses as the MTA's session would; the real
 * counters are never changed or saved: the way an admin tests a change
 * before a reload.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "addr.h"
#include "dns.h"
#include "policy.h"
#include "replies.h"
#include "backend.h"
#include "session.h"
#include "store.h"
#include "try.h"
#include "xmalloc.h"

#define TRY_RCPTS_MAX 100

struct try_args {
	const char *policy, *client, *helo, *from, *auth, *message;
	const char *rcpt[TRY_RCPTS_MAX];
	int nrcpt;
	int no_dns;		/* --no-dns: DNS lists are unknown, not asked */
};

static void
try_usage(FILE *out)
{
	fprintf(out, "usage: milter-policy try [-c FILE] --client ADDR [--helo NAME]\n"
	    "           --from ADDR --rcpt ADDR [--rcpt ADDR ...] [--auth USER]\n"
	    "           [--message FILE] [--no-dns]\n"
	    "Runs one transaction through the policy and prints each stage's\n"
	    "verdict and the reply the client would get.  Counters are read;\n"
	    "the transaction is charged to a scratch copy, never saved.\n"
	    "DNS lists are asked and each answer printed; --no-dns skips the\n"
	    "lookups (offline): their conditions are unknown.\n");
}

static int
try_parse(int argc, char **argv, struct try_args *a)
{
	static const struct option opts[] = {
		{ "client", 1, NULL, 'C' }, { "helo", 1, NULL, 'H' },
		{ "from", 1, NULL, 'F' }, { "rcpt", 1, NULL, 'R' },
		{ "auth", 1, NULL, 'A' }, { "message", 1, NULL, 'M' },
		{ "no-dns", 0, NULL, 'N' },
		{ "help", 0, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': a->policy = optarg; break;
		case 'C': a->client = optarg; break;
		case 'H': a->helo = optarg; break;
		case 'F': a->from = optarg; break;
		case 'A': a->auth = optarg; break;
		case 'M': a->message = optarg; break;
		case 'N': a->no_dns = 1; break;
		case 'R':
			if (a->nrcpt == TRY_RCPTS_MAX)
				return -1;
			a->rcpt[a->nrcpt++] = optarg;
			break;
		case 'h': try_usage(stdout); exit(0);
		default: return -1;
		}
	}
	return optind == argc && a->client && a->from && a->nrcpt > 0 ? 0 : -1;
}

static void
print_error(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

/* Print a verdict: "rcpt: reject by rule relay: 550 5.7.1 text". */
static void
print_verdict(const struct pol_verdict *v, const struct pol_env *env,
    const char *why)
{
	struct reply_text text;
	struct reply_ctx rc = {
		.client_addr = env->client_addr, .helo = env->helo,
		.sender = env->sender, .rcpt = env->rcpt,
		.auth_user = env->auth_user, .rule = v->rule, .vars = &v->vars,
		.dnsbl = v->dnsbl, .dnsbl_text = v->dnsbl_text,
	};
	int i;

	printf("%-7s %s%s", pol_stage_name(v->stage),
	    v->mode == POL_DRY_RUN ? "would-" : "", pol_action_name(v->action));
	if (v->rule != NULL)
		printf(" by rule %s", v->rule);
	if (v->key[0] != '\0' && v->vars.window_s != 0) {
		char w[32];

		if (v->vars.period != NULL)
			snprintf(w, sizeof w, "%s", v->vars.period);
		else
			pol_window_text(v->vars.window_s, w, sizeof w);
		printf(" (key %s: used %lu, limit %lu/%s)", v->key,
		    v->vars.count, v->vars.limit, w);
	} else if (v->key[0] != '\0')
		printf(" (key %s)", v->key);
	printf("%s\n", why);
	if (v->reply == NULL)
		return;
	reply_render(v->reply, &rc, &text);
	for (i = 0; i < text.nlines; i++)
		printf("        %d%c%s %s\n", v->reply->code,
		    i + 1 < text.nlines ? '-' : ' ', v->reply->xcode, text.line[i]);
}

/* The resolver try asks through: the daemon's, printing each answer, or
 * none with --no-dns. */
static const struct dnsl_resolver *try_real_dns;

static void
try_dns_find(void *arg, const char *zone, const char *qname, int txt,
    struct dnsl_answer *out)
{
	char text[TEXT_VALUE_MAX + 1];
	int i;

	(void)arg;
	if (try_real_dns == NULL) {
		out->status = DNSL_UNKNOWN;
		printf("        dns %s: not asked (--no-dns): unknown\n", qname);
		return;
	}
	try_real_dns->find(try_real_dns->arg, zone, qname, txt, out);
	printf("        dns %s: %s", qname, out->status == DNSL_LISTED ?
	    "listed" : out->status == DNSL_NOT_LISTED ? "not listed" :
	    "unknown (no answer)");
	for (i = 0; out->status == DNSL_LISTED && i < out->naddrs; i++)
		printf(" %u.%u.%u.%u", out->addrs[i] >> 24,
		    (out->addrs[i] >> 16) & 0xff, (out->addrs[i] >> 8) & 0xff,
		    out->addrs[i] & 0xff);
	if (out->text[0] != '\0') {
		text_clean(out->text, text, sizeof text);
		printf(" \"%s\"", text);
	}
	printf("\n");
}

static const struct dnsl_resolver try_dns = { NULL, try_dns_find, NULL };

/* A verdict the engine noted but does not apply: dry-run, overruled. */
static void
print_note(void *env, const struct pol_verdict *v)
{
	print_verdict(v, env, v->action == POL_ERROR && v->mode == POL_ENFORCE ?
	    ", overruled by a later rule" : "");
}

/* Does the MTA end the transaction on v? */
static int
try_ends(const struct pol_verdict *v)
{
	return v->action == POL_ACCEPT || v->action == POL_TEMPFAIL ||
	    v->action == POL_REJECT || v->action == POL_ERROR ||
	    v->action == POL_DISCARD;
}

/* One stage; returns 1 when the transaction ends here. */
static int
try_stage(struct pol_conn *c, enum pol_stage stage, const struct pol_env *env,
    uint64_t now)
{
	struct pol_verdict v;

	pol_conn_notes(c, print_note, (void *)env);
	pol_eval(c, stage, env, now, &v);
	if (v.action != POL_CONTINUE || stage == POL_RCPT)
		print_verdict(&v, env, "");
	else
		printf("%-7s continue\n", pol_stage_name(stage));
	return try_ends(&v);
}

/* One body chunk: printed only when a rule answers there, as the MTA
 * then hears it (the milter answers each chunk); 1 when it ends. */
static int
try_body(struct pol_conn *c, const struct pol_env *env, uint64_t now)
{
	struct pol_verdict v;

	pol_eval(c, POL_BODY, env, now, &v);
	if (v.action != POL_CONTINUE)
		print_verdict(&v, env, "");
	return try_ends(&v);
}

/* Headers, then the body, of an RFC 5322 message file. */
static int
try_message(struct pol_conn *c, struct pol_env *env, FILE *fp, uint64_t now)
{
	char *line = NULL, *colon, body[65536];
	size_t cap = 0, n, hdr_bytes = 0;
	ssize_t len;
	int done = 0;

	while ((len = getline(&line, &cap, fp)) > 0) {
		hdr_bytes += (size_t)len;	/* the size, as the milter counts */
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			break;
		if ((colon = strchr(line, ':')) == NULL || line[0] == ' ' ||
		    line[0] == '\t')
			continue;	/* XXX folded lines are not joined */
		*colon = '\0';
		env->hdr_name = line;
		env->hdr_value = colon + 1;
		if ((done = try_stage(c, POL_HEADER, env, now)) != 0)
			break;
	}
	free(line);
	env->hdr_name = env->hdr_value = NULL;
	if (done || try_stage(c, POL_EOH, env, now))
		return 1;
	env->size = hdr_bytes;
	while (!done && (n = fread(body, 1, sizeof body, fp)) > 0) {
		env->body = body;
		env->body_len = n;
		env->size += n;
		done = try_body(c, env, now);
	}
	env->body = NULL;
	return done;
}

static void
try_run(struct policy *p, struct store *st, const struct try_args *a)
{
	char client[64];
	struct pol_env env = { .helo = a->helo, .auth_user = a->auth };
	struct store *look = store_scratch_new(st);
	struct pol_conn *c = pol_conn_new(p, look);
	FILE *fp = NULL;
	int i, done;

	env.client_addr = addr_ip_normalise(a->client, client, sizeof client) == 0 ?
	    client : a->client;
	env.sender = a->from;
	if (pol_uses_dns(p)) {
		try_real_dns = a->no_dns ? NULL : dns_resolver(pol_settings(p));
		env.dns = &try_dns;
	}
	done = try_stage(c, POL_CONNECT, &env, 0) ||
	    (a->helo && try_stage(c, POL_HELO, &env, 0)) ||
	    try_stage(c, POL_MAIL, &env, 0);
	for (i = 0; !done && i < a->nrcpt; i++) {
		env.rcpt = a->rcpt[i];
		try_stage(c, POL_RCPT, &env, 0);
	}
	env.rcpt = NULL;
	if (!done && a->message && (fp = fopen(a->message, "r")) == NULL)
		fprintf(stderr, "milter-policy: cannot read %s\n", a->message);
	if (!done && !try_stage(c, POL_DATA, &env, 0) &&
	    (fp == NULL || !try_message(c, &env, fp, 0)))
		try_stage(c, POL_EOM, &env, 0);
	if (fp != NULL)
		fclose(fp);
	pol_conn_free(c);
	store_free(look);
}

int
try_main(int argc, char **argv, const char *default_policy)
{
	struct try_args a = { .policy = default_policy };
	const struct pol_settings *ps;
	struct policy *p;
	struct store *st;
	char err[256];

	if (try_parse(argc, argv, &a) < 0) {
		try_usage(stderr);
		return EX_USAGE;
	}
	if ((p = pol_load(a.policy, print_error, NULL)) == NULL)
		return EX_CONFIG;
	ps = pol_settings(p);
	if (ps->backend == POL_BACKEND_REDIS) {
		if ((st = backend_redis(ps)) == NULL) {
			pol_unref(p);
			return EX_CONFIG;
		}
		try_run(p, st, &a);	/* read through a scratch view */
		store_free(st);
		pol_unref(p);
		return 0;
	}
	st = store_memory_new(ps->max_keys);
	if (ps->state_file && ps->state_file[0] && store_memory_load(st,
	    ps->state_file, 0, sess_wall_ms(), err, sizeof err) >=
	    STORE_LOAD_CORRUPT)
		fprintf(stderr, "milter-policy: state file %s ignored: %s\n",
		    ps->state_file, err);
	try_run(p, st, &a);
	store_free(st);
	pol_unref(p);
	return 0;
}
