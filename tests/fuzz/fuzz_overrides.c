/* fuzz_overrides: the parser of a limit rule's overrides file on any
 * bytes, then lookups in what it built: each line's first word as a name
 * and as a client address.  Every error line must be non-empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "overrides.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_error(void *arg, int line, const char *msg)
{
	(void)arg;
	if (line < 1 || msg[0] == '\0')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int nerr = 0;
	struct ov_table *t = ov_parse((const char *)data, size, on_error, NULL,
	    &nerr);
	char word[300];
	size_t i = 0, n;

	while (i < size) {
		for (n = 0; i < size && n < sizeof word - 1 && data[i] != '\n' &&
		    data[i] != ' ' && data[i] != '\0'; i++)
			word[n++] = (char)data[i];
		word[n] = '\0';
		ov_find_name(t, word);
		ov_find_ip(t, word);
		while (i < size && data[i] != '\n')
			i++;
		i++;
	}
	ov_free(t);
	return 0;
}
