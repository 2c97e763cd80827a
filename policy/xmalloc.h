/*
 * xmalloc.h: allocation that never returns NULL.
 *
 * Out of memory is not a state the milter can decide anything in: these
 * print the reason on stderr and abort(), so the MTA's milter_default_action
 * (tempfail, in every snippet we ship) defers the mail and loses none.
 */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);			/* malloc or die */
void *xcalloc(size_t nmemb, size_t size);	/* calloc or die */
void *xrealloc(void *p, size_t n);		/* realloc or die */
char *xstrdup(const char *s);			/* strdup or die */
char *xstrndup(const char *s, size_t n);	/* strndup or die */

#endif
