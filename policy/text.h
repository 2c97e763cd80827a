/*
 * text.h: the small text helpers every module shares.
 *
 * text_clean makes a value that came from outside (the SMTP client, a
 * Redis server, a ctl command) fit for a reply or a log line: control
 * characters, CR, LF and bytes outside printable ASCII become '?', and it
 * is cut to TEXT_VALUE_MAX bytes, marked "...".  It is the only cleaner:
 * replies, the decision line, ctl answers and counter keys all use it.
 *
 * text_err writes a message into a caller's (err, errsz) buffer, the way
 * every loader and parser reports what went wrong.
 *
 * Both work on their arguments only: thread safe, no allocation.
 */
#ifndef TEXT_H
#define TEXT_H

#include <stddef.h>

#define TEXT_VALUE_MAX	256	/* bytes of one outside value in a text */

/* c when it is printable ASCII, else '?'. */
char text_byte(char c);

/* Copy value (NULL: "unknown") into out (outsz >= 4), cleaned as described
 * above; returns the length written. */
size_t text_clean(const char *value, char *out, size_t outsz);

/* printf a message into err (NULL or errsz 0: nothing); returns -1, so a
 * parser can write "return text_err(err, errsz, ...);". */
int text_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
