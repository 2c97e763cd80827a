/* report_tab.c: a bounded counting table; see report_tab.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report_tab.h"
#include "xmalloc.h"

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a: the keys are ours to count, not a server's */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct rtab_entry *
slot(struct rtab_entry *e, size_t cap, const char *key)
{
	size_t i = (size_t)hash(key) & (cap - 1);

	while (e[i].key != NULL && strcmp(e[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &e[i];
}

static void
grow(struct rtab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64, i;
	struct rtab_entry *e = xcalloc(cap, sizeof *e);

	for (i = 0; i < t->cap; i++)
		if (t->e[i].key != NULL)
			*slot(e, cap, t->e[i].key) = t->e[i];
	free(t->e);
	t->e = e;
	t->cap = cap;
}

void
rtab_add(struct rtab *t, const char *key, int i, unsigned long k)
{
	struct rtab_entry *s;

	if (t->used * 2 >= t->cap)
		grow(t);
	s = slot(t->e, t->cap, key);
	if (s->key == NULL) {
		if (t->used >= RTAB_MAX) {
			t->other[i] += k;
			return;
		}
		s->key = xstrdup(key);
		t->used++;
	}
	s->n[i] += k;
}

static int
by_count(const void *a, const void *b)
{
	const struct rtab_entry *x = *(struct rtab_entry *const *)a;
	const struct rtab_entry *y = *(struct rtab_entry *const *)b;

	if (x->n[0] != y->n[0])
		return x->n[0] < y->n[0] ? 1 : -1;
	return strcmp(x->key, y->key);
}

static int
by_key(const void *a, const void *b)
{
	return strcmp((*(struct rtab_entry *const *)a)->key,
	    (*(struct rtab_entry *const *)b)->key);
}

struct rtab_entry **
rtab_sorted(struct rtab *t, int key_order, size_t *n)
{
	size_t i, j = 0;

	free(t->sorted);
	t->sorted = xcalloc(t->used + 1, sizeof *t->sorted);
	for (i = 0; i < t->cap; i++)
		if (t->e[i].key != NULL)
			t->sorted[j++] = &t->e[i];
	qsort(t->sorted, j, sizeof *t->sorted, key_order ? by_key : by_count);
	*n = j;
	return t->sorted;
}

void
rtab_free(struct rtab *t)
{
	static const struct rtab empty;
	size_t i;

	for (i = 0; i < t->cap; i++)
		free(t->e[i].key);
	free(t->e);
	free(t->sorted);
	*t = empty;
}
