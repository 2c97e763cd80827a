/* explain.c: `milter-policy explain CODE`, the catalogue in words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "replies.h"

#define EXPLAIN_WIDTH	76	/* columns of the output */
#define EXPLAIN_INDENT	16	/* where the text of a field starts */

/* Print "label text", the text wrapped to EXPLAIN_WIDTH columns. */
static void
print_field(FILE *out, const char *label, const char *text)
{
	size_t col, len;
	int first = 1;

	col = (size_t)fprintf(out, "  %-*s", EXPLAIN_INDENT - 2, label);
	for (text += strspn(text, " "); *text != '\0';
	    text += strspn(text, " ")) {
		len = strcspn(text, " ");
		if (!first && col + 1 + len > EXPLAIN_WIDTH) {
			fprintf(out, "\n%*s", EXPLAIN_INDENT, "");
			col = EXPLAIN_INDENT;
			first = 1;
		}
		col += (size_t)fprintf(out, "%s%.*s", first ? "" : " ",
		    (int)len, text);
		first = 0;
		text += len;
	}
	fputc('\n', out);
}

/* What the first digit of a reply code says. */
static const char *
class_meaning(int digit)
{
	static const char *const meaning[] = {
		[2] = "success: the command was accepted and nothing went "
		    "wrong.",
		[3] = "intermediate: the server accepted the command and "
		    "waits for more, such as the message after DATA.",
		[4] = "temporary failure: the server refuses for now. The "
		    "sending server keeps the message queued and tries again; "
		    "nothing needs changing unless it goes on for days.",
		[5] = "permanent failure: the server refuses for good. "
		    "Retrying unchanged fails again; the sender gets a bounce "
		    "that quotes the reply, whose text should say why.",
	};

	return meaning[digit];
}

/* What the second digit of a reply code says (RFC 5321 4.2.1). */
static const char *
category_meaning(int digit)
{
	static const char *const meaning[] = {
		"syntax: the command or its arguments.",
		"information: a reply to a request for information.",
		"connection: the transmission channel.",
		"unspecified by RFC 5321; in practice often authentication.",
		"unspecified by RFC 5321.",
		"mail system: the mailbox, the server or the message.",
	};

	return digit <= 5 ? meaning[digit] : "not a category RFC 5321 "
	    "defines.";
}

/* The name of a code's class, for an entry's first line. */
static const char *
class_name(int code)
{
	static const char *const names[] = {
		[2] = "success", [3] = "intermediate",
		[4] = "temporary failure", [5] = "permanent failure",
	};

	return names[code / 100];
}

static void
explain_entry(const struct reply_info *info, FILE *out)
{
	fprintf(out, "%d%s%s (%dxx: %s)\n", info->code,
	    info->xcode[0] != '\0' ? " " : "", info->xcode, info->code / 100,
	    class_name(info->code));
	print_field(out, "Meaning:", info->meaning);
	print_field(out, "Whose side:", info->side);
	print_field(out, "What to do:", info->advice);
}

static void
explain_class(int code, FILE *out)
{
	char label[16];

	fprintf(out, "%d is not in milter-policy's catalogue; what its "
	    "digits say:\n", code);
	snprintf(label, sizeof label, "%dxx:", code / 100);
	print_field(out, label, class_meaning(code / 100));
	snprintf(label, sizeof label, "x%dx:", code / 10 % 10);
	print_field(out, label, category_meaning(code / 10 % 10));
}

/* Three digits from 200 to 599 and nothing else. */
static int
is_code(const char *s)
{
	return strlen(s) == 3 && strspn(s, "0123456789") == 3 &&
	    s[0] >= '2' && s[0] <= '5';
}

int
explain_print(const char *code, FILE *out)
{
	const struct reply_info *info;
	int n;

	if (code == NULL)
		code = "";
	if (!is_code(code)) {
		fprintf(out, "\"%.40s\" is not an SMTP reply code: expected "
		    "three digits from 200 to 599, such as 550.\n", code);
		return 1;
	}
	n = atoi(code);
	if ((info = reply_info_find(n)) != NULL) {
		explain_entry(info, out);
		return 0;
	}
	explain_class(n, out);
	return 1;
}
