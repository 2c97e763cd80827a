/* current.c: the policy new connections get; see current.h. */
#include <pthread.h>
#include <stddef.h>

#include "current.h"

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct policy *current;

void
current_set(struct policy *p)
{
	struct policy *old;

	pthread_mutex_lock(&current_lock);
	old = current;
	current = p;
	pthread_mutex_unlock(&current_lock);
	pol_unref(old);
}

struct policy *
current_get(void)
{
	struct policy *p;

	pthread_mutex_lock(&current_lock);
	p = current ? pol_ref(current) : NULL;
	pthread_mutex_unlock(&current_lock);
	return p;
}
