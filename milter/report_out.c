/*
 * report_out.c: struct report as tables for a terminal or as JSON; see
 * report.h.  A table's rows come from a struct rtab: the key's
 * '\t'-separated fields, then its counts.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "report.h"

#define MAXCOLS	6

/* A table: its title, the names of the key's fields and of the counts. */
struct table {
	const char *title, *json;
	const char *field[3];		/* NULL-terminated */
	const char *count[3];
	int by_key;			/* rows in key order, all of them */
	const char *zero_code;		/* a "code" field of 0 printed as this */
};

static const struct table tables[] = {
	{ "Refusals by rule and code", "refusals",
	  { "rule", "code", "verb" }, { "count" }, 0, "-" },
	{ "Clients refused most", "clients", { "client" }, { "count" }, 0, NULL },
	{ "Senders refused most", "senders", { "sender" }, { "count" }, 0, NULL },
	{ "Recipients refused most", "recipients", { "rcpt" }, { "count" }, 0, NULL },
	{ "Counters over their limit", "over_limit",
	  { "rule", "key", "limit" }, { "times" }, 0, NULL },
	{ "Dry run: would-be refusals", "would_refuse",
	  { "rule", "code", "verb" }, { "count" }, 0, "-" },
	{ "Per hour (the log's time)", "hours", { "hour" },
	  { "refused", "dry_run", "over_limit" }, 1, NULL },
};
#define NTABLES	(sizeof tables / sizeof tables[0])

static struct rtab *
table_data(struct report *r, size_t i)
{
	struct rtab *t[NTABLES] = { &r->refusals, &r->clients, &r->senders,
	    &r->rcpts, &r->over_limit, &r->dry, &r->hours };

	return t[i];
}

/* The fields of key into f[] (pointers into buf). */
static int
split(const char *key, char *buf, size_t bufsz, const char **f, int max)
{
	int n = 0;
	char *p;

	snprintf(buf, bufsz, "%s", key);
	for (p = buf; n < max; p++) {
		f[n++] = p;
		if ((p = strchr(p, '\t')) == NULL)
			break;
		*p = '\0';
	}
	return n;
}

static int
nfields(const char *const *names)
{
	int n = 0;

	while (n < 3 && names[n] != NULL)
		n++;
	return n;
}

static const char *
field_text(const struct table *t, int col, const char *v)
{
	if (t->zero_code != NULL && strcmp(t->field[col], "code") == 0 &&
	    strcmp(v, "0") == 0)
		return t->zero_code;
	return v;
}

static void
print_row(FILE *out, const char **cell, const int *width, int ncol, int nf)
{
	int c;

	fprintf(out, " ");
	for (c = 0; c < ncol; c++)
		fprintf(out, c < nf ? " %-*s" : " %*s", width[c], cell[c]);
	fprintf(out, "\n");
}

/* The shown rows' widths, then the header and the rows. */
static void
print_table(FILE *out, const struct table *t, struct rtab_entry **e,
    size_t n)
{
	char buf[4 * RPL_VALUE_MAX], num[MAXCOLS][24];
	const char *cell[MAXCOLS];
	int nf = nfields(t->field), nc = nfields(t->count), width[MAXCOLS], c;
	size_t i;

	for (c = 0; c < nf + nc; c++)
		width[c] = (int)strlen(c < nf ? t->field[c] : t->count[c - nf]);
	for (i = 0; i < n; i++) {
		split(e[i]->key, buf, sizeof buf, cell, nf);
		for (c = 0; c < nf + nc; c++) {
			if (c >= nf)
				snprintf(num[c], sizeof num[c], "%lu", e[i]->n[c - nf]);
			cell[c] = c < nf ? field_text(t, c, cell[c]) : num[c];
			if ((int)strlen(cell[c]) > width[c])
				width[c] = (int)strlen(cell[c]);
		}
	}
	fprintf(out, "\n%s\n", t->title);
	for (c = 0; c < nf + nc; c++)
		cell[c] = c < nf ? t->field[c] : t->count[c - nf];
	print_row(out, cell, width, nf + nc, nf);
	for (i = 0; i < n; i++) {
		split(e[i]->key, buf, sizeof buf, cell, nf);
		for (c = 0; c < nf + nc; c++) {
			if (c >= nf)
				snprintf(num[c], sizeof num[c], "%lu", e[i]->n[c - nf]);
			cell[c] = c < nf ? field_text(t, c, cell[c]) : num[c];
		}
		print_row(out, cell, width, nf + nc, nf);
	}
	if (n == 0)
		fprintf(out, "  (none)\n");
}

static void
time_text(int64_t ms, char *buf, size_t bufsz)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms < 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, bufsz, "unknown");
	else
		strftime(buf, bufsz, "%Y-%m-%d %H:%M:%S", &tm);
}

static void
print_text(struct report *r, FILE *out, int top)
{
	char a[32], b[32];
	struct rtab_entry **e;
	size_t i, n;

	time_text(r->first_ms, a, sizeof a);
	time_text(r->last_ms, b, sizeof b);
	fprintf(out, "milter-policy report: %s to %s (the log's time)\n", a, b);
	fprintf(out, "  lines %lu, milter-policy's %lu: refused %lu, other "
	    "decisions %lu, dry-run %lu, over-limit notices %lu\n", r->lines,
	    r->ours, r->refused, r->other, r->dry_run, r->over);
	for (i = 0; i < NTABLES; i++) {
		e = rtab_sorted(table_data(r, i), tables[i].by_key, &n);
		if (top > 0 && !tables[i].by_key && n > (size_t)top)
			n = (size_t)top;
		print_table(out, &tables[i], e, n);
	}
}

/* s as a JSON string: control bytes and non-ASCII as \u00XX. */
static void
json_table(FILE *out, const struct table *t, struct rtab_entry **e, size_t n)
{
	char buf[4 * RPL_VALUE_MAX];
	const char *cell[3];
	int nf = nfields(t->field), nc = nfields(t->count), c;
	size_t i;

	fprintf(out, ",\n  \"%s\": [", t->json);
	for (i = 0; i < n; i++) {
		split(e[i]->key, buf, sizeof buf, cell, nf);
		fprintf(out, "%s\n    {", i ? "," : "");
		for (c = 0; c < nf; c++) {
			fprintf(out, "%s\"%s\": ", c ? ", " : "", t->field[c]);
			if (strcmp(t->field[c], "code") == 0)
				fprintf(out, "%s", cell[c]);
			else
				json_str(out, cell[c]);
		}
		for (c = 0; c < nc; c++)
			fprintf(out, ", \"%s\": %lu", t->count[c], e[i]->n[c]);
		fprintf(out, "}");
	}
	fprintf(out, "%s]", n ? "\n  " : "");
}

/* A time as a JSON string, or null. */
static void
json_time(int64_t ms, char *buf, size_t bufsz)
{
	char t[32];

	time_text(ms, t, sizeof t);
	snprintf(buf, bufsz, ms < 0 ? "null" : "\"%s\"", t);
}

static void
print_json(struct report *r, FILE *out, int top)
{
	char a[40], b[40];
	struct rtab_entry **e;
	size_t i, n;

	json_time(r->first_ms, a, sizeof a);
	json_time(r->last_ms, b, sizeof b);
	fprintf(out, "{\n  \"first\": %s, \"last\": %s,\n  \"lines\": %lu, "
	    "\"ours\": %lu, \"refused\": %lu, \"other_decisions\": %lu, "
	    "\"dry_run\": %lu, \"over_limit_notices\": %lu", a, b, r->lines,
	    r->ours, r->refused, r->other, r->dry_run, r->over);
	for (i = 0; i < NTABLES; i++) {
		e = rtab_sorted(table_data(r, i), tables[i].by_key, &n);
		if (top > 0 && !tables[i].by_key && n > (size_t)top)
			n = (size_t)top;
		json_table(out, &tables[i], e, n);
	}
	fprintf(out, "\n}\n");
}

void
report_print(struct report *r, FILE *out, int top, int json)
{
	if (json)
		print_json(r, out, top);
	else
		print_text(r, out, top);
}
