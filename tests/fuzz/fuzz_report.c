/* fuzz_report: any bytes as a mail log for `milter-policy report`: each
 * line parsed (milter/report_log.c) and counted (report.c), then the
 * tables and the JSON printed: never a crash, a leak or a read past a
 * line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report r;
	char *text = malloc(size + 1), *line, *next;
	FILE *out = fopen("/dev/null", "w");

	if (text == NULL || out == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	report_init(&r, 1796083200);
	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		report_line(&r, line);
	}
	report_print(&r, out, 3, 0);
	report_print(&r, out, 0, 1);
	report_free(&r);
	fclose(out);
	free(text);
	return 0;
}
