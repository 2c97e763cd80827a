/*
 * explain.h: `milter-policy explain CODE`, what a reply code means to the
 * person who received it, in plain words from the catalogue of replies.h.
 *
 * Prints to the stream it is given and keeps no state; thread safe.
 */
#ifndef EXPLAIN_H
#define EXPLAIN_H

#include <stdio.h>

/* Print what `milter-policy explain CODE` shows; 0, or 1 for an unknown code
 * (after printing what can honestly be said from its class). */
int explain_print(const char *code, FILE *out);

#endif
