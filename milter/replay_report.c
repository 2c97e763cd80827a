/*
 * replay_report.c: the replay summary, as tables or JSON.  See
 * replay_report.h.  Times are printed in the log's own frame (a syslog
 * head has no zone: what the log says is what is shown).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "replay_report.h"

#define BAR_WIDTH	50

static const char *
fmt_time(int64_t ms, char *buf, size_t sz)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sz, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static const char *
fmt_span(int64_t ms, char *buf, size_t sz)
{
	int64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, sz, "%lld s", (long long)s);
	else if (s < 3600)
		snprintf(buf, sz, "%lld min", (long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, sz, "%lld h %lld min", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else
		snprintf(buf, sz, "%lld d %lld h", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
	return buf;
}

static void
text_head(FILE *out, const struct rrep *r)
{
	const struct rres *res = r->res;
	char a[32], b[32];
	int k;

	fprintf(out, "milter-policy replay of %d log file%s through %s\n",
	    r->nfiles, r->nfiles == 1 ? "" : "s", r->policy);
	if (res->first_ms >= 0)
		fprintf(out, "period: %s .. %s (the log's time)\n",
		    fmt_time(res->first_ms, a, sizeof a),
		    fmt_time(res->last_ms, b, sizeof b));
	fprintf(out, "lines: %lu read, %lu skipped\n", r->lines,
	    r->skipped[0] + r->skipped[1] + r->skipped[2] + r->skipped[3]);
	for (k = 0; k < RLOG_NSKIP; k++)
		if (r->skipped[k] != 0)
			fprintf(out, "  %8lu %s, e.g.: %s\n", r->skipped[k],
			    rlog_skip_name((enum rlog_skip)k), r->example[k]);
	fprintf(out, "transactions: %lu in %lu connections\n",
	    res->total.transactions, r->txn.connections);
	if (r->txn.evicted || r->txn.orphans || r->txn.outside)
		fprintf(out, "  %lu judged incomplete (too many open at once), "
		    "%lu lines of messages begun before the log, %lu events "
		    "outside --from/--to\n", r->txn.evicted, r->txn.orphans,
		    r->txn.outside);
	fprintf(out, "this policy: %lu accepted, %lu refused, %lu recipient%s "
	    "refused, %lu refused by Postfix itself or never sent, %lu "
	    "undecided (errors)\n", res->total.accepted, res->total.refused,
	    res->total.rcpts_refused, res->total.rcpts_refused == 1 ? "" : "s",
	    res->total.mta_refused, res->total.errors);
}

static void
text_rules(FILE *out, const struct rres *res)
{
	int i, j, any = 0;

	fprintf(out, "\nRefusals by rule\n");
	for (i = 0; i < res->nrules; i++) {
		const struct rres_rule *rr = &res->rules[i];

		if (rr->refused == 0)
			continue;
		any = 1;
		fprintf(out, "  %-24s %8lu%s  ", rr->name, rr->refused,
		    rr->dry_run ? " (dry-run: would-refuse)" : "");
		for (j = 0; j < rr->ncodes; j++)
			fprintf(out, "%s%d %s: %lu", j ? ", " : "",
			    rr->codes[j].code, rr->codes[j].xcode, rr->codes[j].n);
		fprintf(out, "\n");
	}
	if (!any)
		fprintf(out, "  none\n");
	for (i = 0; i < res->nrules; i++)
		if (res->rules[i].cannot != NULL)
			fprintf(out, "  %-24s cannot be judged from a log: it needs "
			    "%s (%lu transactions not judged; counted as not "
			    "matching)\n", res->rules[i].name,
			    res->rules[i].cannot, res->rules[i].not_judged);
}

static void
text_keys(FILE *out, const struct rrep *r)
{
	unsigned long n, i;
	struct rres_key **k = rres_keys_sorted(r->res, &n);
	char a[32], b[32];

	fprintf(out, "\nKeys refused, most first (accepted: messages this "
	    "policy still accepted from the same client, sender or user)\n");
	if (n == 0)
		fprintf(out, "  none\n");
	else
		fprintf(out, "  %-20s %-32s %8s %8s  %-19s  %s\n", "rule", "key",
		    "refused", "accepted", "first refused", "refused for");
	for (i = 0; i < n && i < (unsigned long)r->top; i++)
		fprintf(out, "  %-20s %-32s %8lu %8lu  %s  %s\n", k[i]->rule,
		    k[i]->key, k[i]->refused, rres_accepted_of(r->res, k[i]->key),
		    fmt_time(k[i]->first_ms, a, sizeof a),
		    fmt_span(k[i]->last_ms - k[i]->first_ms, b, sizeof b));
	if (n > (unsigned long)r->top)
		fprintf(out, "  ... and %lu more (--top N)\n", n - (unsigned long)r->top);
	if (r->res->keys_dropped)
		fprintf(out, "  (%lu refusals of keys past the first %d not listed)\n",
		    r->res->keys_dropped, RRES_KEYS_MAX);
	free(k);
}

/* Refusals per hour (per day past three days) as bars. */
static void
text_chart(FILE *out, const struct rres *res)
{
	int per = res->nhours > 72 ? 24 : 1, i, j, nb = (res->nhours + per - 1) / per;
	unsigned long max = 0, *v = calloc((size_t)nb + 1, sizeof *v);
	char a[32];

	if (v == NULL || nb == 0) {
		free(v);
		return;
	}
	for (i = 0; i < res->nhours; i++)
		v[i / per] += res->hours[i];
	for (i = 0; i < nb; i++)
		if (v[i] > max)
			max = v[i];
	fprintf(out, "\nRefusals per %s\n", per == 1 ? "hour" : "day");
	for (i = 0; i < nb; i++) {
		fmt_time((res->hour0 + (int64_t)i * per) * 3600000, a, sizeof a);
		a[per == 1 ? 16 : 10] = '\0';
		fprintf(out, "  %-16s %7lu ", a, v[i]);
		for (j = 0; max && j < (int)(v[i] * BAR_WIDTH / max); j++)
			fputc('#', out);
		if (v[i] && max && v[i] * BAR_WIDTH / max == 0)
			fputc('.', out);
		fputc('\n', out);
	}
	free(v);
}

/* --diff: what changes between the old policy and the new one. */
static void
text_diff(FILE *out, const struct rrep *r)
{
	const struct rres *o = r->old, *n = r->res;
	unsigned long nk, i, shown = 0;
	struct rres_key **k = rres_keys_sorted(n, &nk);

	fprintf(out, "\nChanges from %s to %s\n", r->old_policy, r->policy);
	fprintf(out, "  accepted %lu -> %lu, refused %lu -> %lu, "
	    "recipients refused %lu -> %lu\n", o->total.accepted,
	    n->total.accepted, o->total.refused, n->total.refused,
	    o->total.rcpts_refused, n->total.rcpts_refused);
	for (i = 0; i < nk && shown < (unsigned long)r->top; i++) {
		if (rres_key_refused(o, k[i]->rule, k[i]->key) >= k[i]->refused)
			continue;
		if (shown++ == 0)
			fprintf(out, "  refused more under the new policy:\n");
		fprintf(out, "    %-20s %-32s %lu -> %lu\n", k[i]->rule, k[i]->key,
		    rres_key_refused(o, k[i]->rule, k[i]->key), k[i]->refused);
	}
	free(k);
	k = rres_keys_sorted(o, &nk);
	for (i = 0, shown = 0; i < nk && shown < (unsigned long)r->top; i++) {
		if (rres_key_refused(n, k[i]->rule, k[i]->key) >= k[i]->refused)
			continue;
		if (shown++ == 0)
			fprintf(out, "  refused less under the new policy:\n");
		fprintf(out, "    %-20s %-32s %lu -> %lu\n", k[i]->rule, k[i]->key,
		    k[i]->refused, rres_key_refused(n, k[i]->rule, k[i]->key));
	}
	free(k);
}

void
rrep_text(FILE *out, const struct rrep *r)
{
	text_head(out, r);
	if (r->old != NULL) {
		text_diff(out, r);
		return;
	}
	text_rules(out, r->res);
	text_keys(out, r);
	text_chart(out, r->res);
}

/* ------------------------------------------------------------------ JSON */

static void
json_rules(FILE *out, const struct rres *res)
{
	int i, j;

	fprintf(out, "\"rules\":[");
	for (i = 0; i < res->nrules; i++) {
		const struct rres_rule *rr = &res->rules[i];

		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_str(out, rr->name);
		fprintf(out, ",\"dry_run\":%s,\"refused\":%lu,\"codes\":[",
		    rr->dry_run ? "true" : "false", rr->refused);
		for (j = 0; j < rr->ncodes; j++) {
			fprintf(out, "%s{\"code\":%d,\"xcode\":", j ? "," : "",
			    rr->codes[j].code);
			json_str(out, rr->codes[j].xcode);
			fprintf(out, ",\"n\":%lu}", rr->codes[j].n);
		}
		fprintf(out, "],\"cannot_judge\":");
		if (rr->cannot != NULL)
			json_str(out, rr->cannot);
		else
			fprintf(out, "null");
		fprintf(out, ",\"not_judged\":%lu}", rr->not_judged);
	}
	fprintf(out, "]");
}

static void
json_keys(FILE *out, const struct rrep *r, const struct rres *res)
{
	unsigned long n, i;
	struct rres_key **k = rres_keys_sorted(res, &n);

	fprintf(out, "\"keys\":[");
	for (i = 0; i < n && i < (unsigned long)r->top; i++) {
		fprintf(out, "%s{\"rule\":", i ? "," : "");
		json_str(out, k[i]->rule);
		fprintf(out, ",\"key\":");
		json_str(out, k[i]->key);
		fprintf(out, ",\"refused\":%lu,\"accepted\":%lu,\"first_ms\":%lld,"
		    "\"last_ms\":%lld}", k[i]->refused,
		    rres_accepted_of(res, k[i]->key), (long long)k[i]->first_ms,
		    (long long)k[i]->last_ms);
	}
	fprintf(out, "]");
	free(k);
}

static void
json_result(FILE *out, const struct rrep *r, const struct rres *res)
{
	int i;

	fprintf(out, "{\"transactions\":%lu,\"accepted\":%lu,\"refused\":%lu,"
	    "\"rcpts_refused\":%lu,\"mta_refused\":%lu,\"errors\":%lu,",
	    res->total.transactions, res->total.accepted, res->total.refused,
	    res->total.rcpts_refused, res->total.mta_refused, res->total.errors);
	json_rules(out, res);
	fputc(',', out);
	json_keys(out, r, res);
	fprintf(out, ",\"hour0_ms\":%lld,\"per_hour\":[",
	    (long long)res->hour0 * 3600000);
	for (i = 0; i < res->nhours; i++)
		fprintf(out, "%s%lu", i ? "," : "", res->hours[i]);
	fprintf(out, "]}");
}

void
rrep_json(FILE *out, const struct rrep *r)
{
	int k;

	fprintf(out, "{\"policy\":");
	json_str(out, r->policy);
	fprintf(out, ",\"files\":%d,\"lines\":%lu,\"skipped\":{", r->nfiles,
	    r->lines);
	for (k = 0; k < RLOG_NSKIP; k++) {
		fprintf(out, "%s", k ? "," : "");
		json_str(out, rlog_skip_name((enum rlog_skip)k));
		fprintf(out, ":{\"n\":%lu,\"example\":", r->skipped[k]);
		json_str(out, r->example[k]);
		fprintf(out, "}");
	}
	fprintf(out, "},\"connections\":%lu,\"evicted\":%lu,\"orphans\":%lu,"
	    "\"outside\":%lu,\"result\":", r->txn.connections, r->txn.evicted,
	    r->txn.orphans, r->txn.outside);
	json_result(out, r, r->res);
	if (r->old != NULL) {
		fprintf(out, ",\"old_policy\":");
		json_str(out, r->old_policy);
		fprintf(out, ",\"old_result\":");
		json_result(out, r, r->old);
	}
	fprintf(out, "}\n");
}
