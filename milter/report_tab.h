/*
 * report_tab.h: a counting table for `milter-policy report`: string keys
 * (a few fields joined by '\t') to counts, bounded: past RTAB_MAX keys a
 * new one is counted under "other" (rtab_other), so a hostile or huge
 * log cannot take unbounded memory.  Not thread safe.  The table owns
 * copies of its keys; rtab_sorted's array is the table's, valid until
 * the next rtab_add or rtab_free.
 */
#ifndef REPORT_TAB_H
#define REPORT_TAB_H

#include <stddef.h>

#define RTAB_MAX	100000

struct rtab_entry {
	char *key;
	unsigned long n[3];		/* up to three counts per key */
};

struct rtab {
	struct rtab_entry *e;		/* open addressing, cap slots */
	size_t cap, used;
	unsigned long other[3];		/* counts of keys past RTAB_MAX */
	struct rtab_entry **sorted;
};

/* Add k to count i (0-2) of key; the key is copied. */
void rtab_add(struct rtab *t, const char *key, int i, unsigned long k);

/* The entries, most of count 0 first (ties by key), or by key when
 * by_key; *n their number. */
struct rtab_entry **rtab_sorted(struct rtab *t, int by_key, size_t *n);

/* Free what the table holds; it is empty again. */
void rtab_free(struct rtab *t);

#endif
