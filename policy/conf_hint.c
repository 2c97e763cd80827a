/*
 * conf_hint.c: what an admin most likely missed where libconfig says only
 * "syntax error".  The file is read again, the error line and the
 * significant line before it (not blank, not a comment) are looked at, and
 * the commonest slips are named: a ',' missing between two rules or list
 * items, a ',' after the last one, a value without double quotes.  A guess,
 * so it is worded as one; see conf.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"

#define HINT_LINE_MAX 1024

/* Trim white space and a trailing comment ("#", "//") in place. */
static char *
hint_trim(char *s)
{
	char *e, *c;
	int quoted = 0;

	for (c = s; *c != '\0'; c++) {
		if (*c == '"' && (c == s || c[-1] != '\\'))
			quoted = !quoted;
		else if (!quoted && (*c == '#' || (c[0] == '/' && c[1] == '/')))
			break;
	}
	*c = '\0';
	while (isspace((unsigned char)*s))
		s++;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); )
		*--e = '\0';
	return s;
}

/* Line `line` of the file into cur, the significant one before it into
 * prev (with its number); -1 when the file cannot be read that far. */
static int
hint_lines(const char *path, int line, char *prev, int *prevno, char *cur)
{
	char buf[HINT_LINE_MAX];
	FILE *fp = fopen(path, "r");
	int n = 0;

	prev[0] = cur[0] = '\0';
	*prevno = 0;
	if (fp == NULL)
		return -1;
	while (fgets(buf, sizeof buf, fp) != NULL && ++n <= line) {
		char *t = hint_trim(buf);

		if (n == line)
			snprintf(cur, HINT_LINE_MAX, "%s", t);
		else if (*t != '\0') {
			snprintf(prev, HINT_LINE_MAX, "%s", t);
			*prevno = n;
		}
	}
	fclose(fp);
	return n >= line ? 0 : -1;
}

/* Does s hold "}" then "{" with only white space between? */
static int
groups_touch(const char *s)
{
	const char *p;

	for (p = strchr(s, '}'); p != NULL; p = strchr(p + 1, '}')) {
		const char *q = p + 1;

		while (isspace((unsigned char)*q))
			q++;
		if (*q == '{')
			return 1;
	}
	return 0;
}

/* Does s hold "," then "]" or ")" with only white space between? */
static int
comma_closes(const char *s)
{
	const char *p;

	for (p = strchr(s, ','); p != NULL; p = strchr(p + 1, ',')) {
		const char *q = p + 1;

		while (isspace((unsigned char)*q))
			q++;
		if (*q == ']' || *q == ')')
			return 1;
	}
	return 0;
}

/* "name = ;" or a line that ends at '=': a value left out. */
static int
no_value(const char *s)
{
	const char *p, *q;

	for (p = strchr(s, '='); p != NULL; p = strchr(p + 1, '=')) {
		for (q = p + 1; isspace((unsigned char)*q); q++)
			;
		if (*q == ';' || *q == ',' || *q == '\0')
			return 1;
	}
	return 0;
}

/* A ';' inside [ ] or ( ): "[ "a"; "b" ]". */
static int
semicolon_in_list(const char *s)
{
	const char *open = strpbrk(s, "[("), *semi;

	if (open == NULL || (semi = strchr(open, ';')) == NULL)
		return 0;
	return strcspn(open, "])") > (size_t)(semi - open);
}

/* A bare word after '=' that is not true or false: "mode = enforce;". */
static int
bare_word(const char *s, char *word, size_t size)
{
	const char *p, *q;
	size_t n;

	for (p = strchr(s, '='); p != NULL; p = strchr(p + 1, '=')) {
		for (q = p + 1; isspace((unsigned char)*q); q++)
			;
		for (n = 0; isalpha((unsigned char)q[n]) || q[n] == '_' ||
		    q[n] == '-'; n++)
			;
		if (n == 0 || (n == 4 && strncasecmp(q, "true", 4) == 0) ||
		    (n == 5 && strncasecmp(q, "false", 5) == 0))
			continue;
		snprintf(word, size, "%.*s", (int)(n > 40 ? 40 : n), q);
		return 1;
	}
	return 0;
}

void
conf_hint(const char *path, int line, char *out, size_t size)
{
	char prev[HINT_LINE_MAX], cur[HINT_LINE_MAX], word[48];
	int prevno;

	if (hint_lines(path, line, prev, &prevno, cur) < 0)
		snprintf(out, size, "the file ends inside a group or a list: a "
		    "closing '}', ']' or ')' is probably missing");
	else if (groups_touch(cur) || (cur[0] == '{' && prevno > 0 &&
	    prev[strlen(prev) - 1] == '}'))
		snprintf(out, size, "a ',' is probably missing between two "
		    "rules (or two groups of a list): write \"},\" before the "
		    "next \"{\"");
	else if (comma_closes(cur) || ((cur[0] == ']' || cur[0] == ')') &&
	    prevno > 0 && prev[strlen(prev) - 1] == ','))
		snprintf(out, size, "a ',' after the last item of a list is "
		    "not allowed: remove it");
	else if (no_value(cur))
		snprintf(out, size, "a setting needs a value after '=', such "
		    "as \"text\", 10, true or [ \"a\", \"b\" ]");
	else if (strchr(cur, '\'') != NULL)
		snprintf(out, size, "strings take double quotes (\"...\"), "
		    "not single ones");
	else if (bare_word(cur, word, sizeof word))
		snprintf(out, size, "a string value needs double quotes: "
		    "write \"%s\"", word);
	else if (semicolon_in_list(cur) || (cur[0] == '"' && prevno > 0 &&
	    prev[strlen(prev) - 1] == ';'))
		snprintf(out, size, "a ';' ends a setting, not a list item: "
		    "separate list items with ','");
	else
		snprintf(out, size, "look for a ',' missing between two rules "
		    "or list items, a ';' missing after the setting before, or "
		    "a value without double quotes");
}
