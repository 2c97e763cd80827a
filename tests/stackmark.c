/*
 * stackmark.c: a test-only LD_PRELOAD library that measures how much of
 * its stack each thread of milter-policy used.  It wraps pthread_create():
 * the new thread paints its unused stack with a pattern before it runs,
 * and when its start routine returns, the lowest byte that lost the
 * pattern gives the thread's high-water mark.
 *
 * Active only when STACKMARK_FILE names a file and the process is
 * milter-policy (a test exports it to everything it starts); each thread
 * appends one line "stackmark used=BYTES size=BYTES" there when it
 * returns, and those still running (libmilter's pool of workers keeps
 * some) when the process exits normally.  BYTES
 * counts from the top of the stack block, so the thread descriptor and
 * static TLS are in it, as they are in milter.thread_stack; only the top
 * MiB is watched (used=1048576 means "a MiB or more").  A thread that
 * is cancelled or outlives a killed process is not reported.
 */
#include <dlfcn.h>
#include <errno.h>		/* program_invocation_short_name */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAINT	0xa5
#define SPARE	1024	/* left unpainted below the painter's own frame */
#define DEPTH	(1024 * 1024)	/* painted at most: 8 MiB stacks by the
				 * thousand would not fit in memory */

typedef int create_fn(pthread_t *, const pthread_attr_t *,
    void *(*)(void *), void *);

struct start {
	void *(*fn)(void *);
	void *arg;
};

/* The painted stacks of the running threads, for the report at exit. */
#define SLOTS	4096
static struct { char *lo, *hi; } slots[SLOTS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *mark_file;

__attribute__((constructor)) static void
mark_init(void)
{
	const char *f = getenv("STACKMARK_FILE");

	if (f != NULL && *f != '\0' &&
	    strcmp(program_invocation_short_name, "milter-policy") == 0)
		mark_file = f;
}

/* The usable stack of this thread: [*lo, *hi). */
static int
mark_bounds(char **lo, char **hi)
{
	pthread_attr_t a;
	void *addr;
	size_t size;

	if (pthread_getattr_np(pthread_self(), &a) != 0)
		return -1;
	pthread_attr_getstack(&a, &addr, &size);
	pthread_attr_destroy(&a);
	*hi = (char *)addr + size;
	*lo = size > DEPTH ? *hi - DEPTH : (char *)addr;
	return 0;
}

__attribute__((noinline)) static void
mark_paint(char *lo)
{
	char *sp = __builtin_frame_address(0);

	memset(lo, PAINT, (size_t)(sp - SPARE - lo));
}

static void
mark_report(char *lo, char *hi)
{
	char line[128];
	char *p = lo;
	int fd, n;

	while (p < hi && *(unsigned char *)p == PAINT)
		p++;
	n = snprintf(line, sizeof line, "stackmark used=%zu size=%zu\n",
	    (size_t)(hi - p), (size_t)(hi - lo));
	if ((fd = open(mark_file, O_WRONLY | O_APPEND | O_CREAT, 0644)) < 0)
		return;
	if (write(fd, line, (size_t)n) != n)
		line[0] = '\0';	/* a lost line is a lost sample, no more */
	close(fd);
}

/* Claim (lo != NULL) or give back a slot; returns its index or -1. */
static int
mark_slot(int i, char *lo, char *hi)
{
	pthread_mutex_lock(&slots_lock);
	if (i >= 0)
		slots[i].lo = NULL;
	else
		for (i = 0; i < SLOTS && slots[i].lo != NULL; i++)
			;
	if (lo != NULL && i < SLOTS) {
		slots[i].lo = lo;
		slots[i].hi = hi;
	}
	pthread_mutex_unlock(&slots_lock);
	return i < SLOTS ? i : -1;
}

static void *
mark_start(void *v)
{
	struct start st = *(struct start *)v;
	char *lo, *hi;
	void *rv;
	int slot;

	free(v);
	if (mark_bounds(&lo, &hi) < 0)
		return st.fn(st.arg);
	mark_paint(lo);
	slot = mark_slot(-1, lo, hi);
	rv = st.fn(st.arg);
	mark_report(lo, hi);
	if (slot >= 0)
		mark_slot(slot, NULL, NULL);
	return rv;
}

/* At a normal exit the other threads' stacks are still mapped. */
__attribute__((destructor)) static void
mark_exit(void)
{
	int i;

	if (mark_file == NULL)
		return;
	pthread_mutex_lock(&slots_lock);
	for (i = 0; i < SLOTS; i++)
		if (slots[i].lo != NULL)
			mark_report(slots[i].lo, slots[i].hi);
	pthread_mutex_unlock(&slots_lock);
}

int
pthread_create(pthread_t *t, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg)
{
	static create_fn *real;
	struct start *st;

	if (real == NULL)
		real = (create_fn *)dlsym(RTLD_NEXT, "pthread_create");
	if (mark_file == NULL || (st = malloc(sizeof *st)) == NULL)
		return real(t, attr, fn, arg);
	st->fn = fn;
	st->arg = arg;
	return real(t, attr, mark_start, st);
}
