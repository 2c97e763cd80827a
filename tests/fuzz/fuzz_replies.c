/* fuzz_replies: a reply template and macro values from the input; the
 * rendered, escaped lines never hold a control character and fit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replies.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *parts[4] = { NULL }, err[256];
	char esc[REPLY_LINE_MAX + 1];
	struct pol_vars vars = { .limit = 100, .window_s = 3600, .count = 7,
	    .retry_after_s = 36 };
	struct reply_text *t = malloc(sizeof *t);
	struct reply *r;
	int i, n = 0;
	size_t j;

	memcpy(s, data, size);
	s[size] = '\0';
	for (parts[n++] = s; n < 4 && (parts[n] = strchr(parts[n - 1], 0x1e)); n++)
		*parts[n]++ = '\0';
	r = reply_parse(parts[0], err, sizeof err);
	if (r != NULL) {
		struct reply_ctx ctx = { .client_addr = parts[1], .sender = parts[2],
		    .rcpt = parts[3], .helo = parts[1], .rule = "fuzz",
		    .vars = &vars };

		reply_render(r, &ctx, t);
		for (i = 0; i < t->nlines; i++) {
			reply_escape(t->line[i], esc, sizeof esc);
			for (j = 0; esc[j] != '\0'; j++)
				if ((unsigned char)esc[j] < 0x20 || esc[j] == 0x7f)
					abort();
			if (strlen(esc) > REPLY_LINE_MAX)
				abort();
		}
		reply_free(r);
	}
	free(t);
	free(s);
	return 0;
}
