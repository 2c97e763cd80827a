/* logfile.c: a log file's lines; see logfile.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "logfile.h"
#include "xmalloc.h"

int
logfile_lines(const char *path,
    void (*fn)(void *arg, char *line, int overlong), void *arg)
{
	gzFile f = strcmp(path, "-") == 0 ? gzdopen(0, "r") : gzopen(path, "r");
	char *line;
	size_t len;

	if (f == NULL) {
		fprintf(stderr, "milter-policy: cannot read %s\n", path);
		return -1;
	}
	line = xmalloc(LOGFILE_LINE_MAX);
	while (gzgets(f, line, LOGFILE_LINE_MAX) != NULL) {
		len = strlen(line);
		if (len == LOGFILE_LINE_MAX - 1 && line[len - 1] != '\n') {
			fn(arg, line, 1);
			while (gzgets(f, line, LOGFILE_LINE_MAX) != NULL &&
			    line[strlen(line) - 1] != '\n')
				;	/* the rest of an overlong line */
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		fn(arg, line, 0);
	}
	free(line);
	gzclose(f);
	return 0;
}
