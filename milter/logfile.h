/*
 * logfile.h: the lines of a mail log file, plain or gzip-compressed ("-"
 * is standard input), for the commands that read logs (`replay`,
 * `report`; logfile.c).  One line at a time, in a buffer of its own: a
 * file of any size costs LOGFILE_LINE_MAX bytes.
 */
#ifndef LOGFILE_H
#define LOGFILE_H

#define LOGFILE_LINE_MAX	65536	/* a longer line is handed over cut */

/* Call fn(arg, line, overlong) for each line of path, without its line
 * end; an overlong line is handed over once, cut, with overlong set, and
 * the rest of it skipped.  -1 (said on stderr) when it cannot be read. */
int logfile_lines(const char *path,
    void (*fn)(void *arg, char *line, int overlong), void *arg);

#endif
