/*
 * util.h: the few macros every module shares.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>

/* The number of elements of an array (not a pointer). */
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#endif
