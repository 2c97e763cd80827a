/*
 * replies.h: SMTP replies: the built-in catalogue, replies written in a
 * policy, and rendering their text with %{macro} values.
 *
 * A struct reply is created by reply_new/reply_parse (conf.c does, at
 * load) and is immutable afterwards; the policy owns it and frees it with
 * reply_free.  The built-in named replies (reply_builtin) are static and
 * must not be freed.
 *
 * Rendering produces clean plain text: every value that came from the
 * client has control characters, CR, LF and bytes outside printable ASCII
 * replaced by '?', and is cut to REPLY_VALUE_MAX bytes (marked "..."):
 * text_clean (text.h) does it.
 * '%' is NOT escaped in rendered text (it is what the log line shows);
 * reply_escape() doubles it for libmilter, keeping within REPLY_LINE_MAX.
 * All functions are thread safe.
 */
#ifndef REPLIES_H
#define REPLIES_H

#include "policy.h"
#include "text.h"

#define REPLY_MAX_LINES	32	/* lines in one multi-line reply */
#define REPLY_LINE_MAX	980	/* bytes of text in one line, after escaping */
#define REPLY_VALUE_MAX	TEXT_VALUE_MAX	/* bytes of one client value */
#define REPLY_XCODE_MAX	16

struct reply {
	char *name;			/* catalogue or policy name, or "inline" */
	int code;			/* 400-599 */
	char xcode[REPLY_XCODE_MAX];	/* "5.7.1": class digit equals code's */
	int nlines;			/* 1..REPLY_MAX_LINES */
	char **lines;			/* text templates with %{macro} */
};

/* One entry of the catalogue of codes (for defaults and `explain`,
 * which milter/explain.c prints). */
struct reply_info {
	int code;
	const char *xcode;	/* usual enhanced code */
	const char *meaning;	/* what the code says, in plain words */
	const char *side;	/* whose side the problem is on */
	const char *advice;	/* what the sender should do */
};

/* Values available to %{...}; strings borrowed, NULL renders as "unknown". */
struct reply_ctx {
	const char *client_addr, *client_name, *helo, *sender, *rcpt;
	const char *auth_user, *rule, *queue_id;
	const struct pol_vars *vars;	/* NULL: numbers render as "unknown" */
	const char *dnsbl, *dnsbl_text;	/* the DNS list that listed, its TXT */
};

/* A rendered reply: clean lines, '%' not yet escaped. */
struct reply_text {
	int nlines;
	char line[REPLY_MAX_LINES][REPLY_LINE_MAX + 1];
};

/* The catalogue entry for a code, or NULL when the catalogue has none. */
const struct reply_info *reply_info_find(int code);

/* A built-in named reply ("relay_denied", "too_many_messages", ...), or NULL. */
const struct reply *reply_builtin(const char *name);

/* Build a reply, validating code (4xx/5xx), enhanced code syntax and class,
 * line count and macro names; NULL with a message in err on error. */
struct reply *reply_new(const char *name, int code, const char *xcode,
    const char *const *lines, int nlines, char *err, size_t errsz);

/* Parse an inline reply "550 5.7.1 text" (enhanced code optional: the
 * catalogue's default is used); NULL with a message in err on error. */
struct reply *reply_parse(const char *s, char *err, size_t errsz);

/* A deep copy (to keep a built-in in a policy that frees what it holds). */
struct reply *reply_copy(const struct reply *r);

/* Free a reply from reply_new/reply_parse/reply_copy; NULL is fine. */
void reply_free(struct reply *r);

/* Render r's lines with ctx into out; returns out->nlines. */
int reply_render(const struct reply *r, const struct reply_ctx *ctx,
    struct reply_text *out);

/* Double every '%' of clean text into out, cutting (never inside a "%%")
 * so the result fits outsz-1 bytes; returns the length written. */
size_t reply_escape(const char *text, char *out, size_t outsz);

/* Write a human duration: 0 -> "0 s", 130 -> "2 min 10 s", 3600 -> "1 h". */
size_t reply_duration(unsigned long seconds, char *out, size_t outsz);

#endif
