/* log_once.c: one log line per rule and client in a window; see log_once.h. */
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "log_once.h"

struct slot {
	uint64_t pair;			/* keyed hash of rule and client; 0: empty */
	uint64_t at_ms;			/* when it was last logged */
};

static struct slot slots[LOG_ONCE_SLOTS];
static unsigned char key[crypto_shorthash_KEYBYTES];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t keyed = PTHREAD_ONCE_INIT;

static void
key_make(void)
{
	randombytes_buf(key, sizeof key);
}

/* The pair's hash; a NUL between the two keeps "ab"+"c" from "a"+"bc".
 * Long values are cut: this is a slot, not an identity. */
static uint64_t
pair_hash(const char *rule, const char *client)
{
	unsigned char buf[512], h[crypto_shorthash_BYTES];
	size_t lr = strnlen(rule, 255), lc = strnlen(client, sizeof buf - 256);
	uint64_t v;

	memcpy(buf, rule, lr);
	buf[lr] = '\0';
	memcpy(buf + lr + 1, client, lc);
	crypto_shorthash(h, buf, lr + 1 + lc, key);
	memcpy(&v, h, sizeof v);
	return v | 1;			/* never 0: 0 marks an empty slot */
}

int
log_once_first(const char *rule, const char *client, uint64_t now_ms)
{
	uint64_t pair;
	struct slot *s;
	int first;

	pthread_once(&keyed, key_make);
	pair = pair_hash(rule ? rule : "", client ? client : "");
	s = &slots[pair % LOG_ONCE_SLOTS];
	pthread_mutex_lock(&lock);
	first = s->pair != pair || now_ms - s->at_ms >= LOG_ONCE_WINDOW_MS ||
	    now_ms < s->at_ms;
	if (first) {
		s->pair = pair;
		s->at_ms = now_ms;
	}
	pthread_mutex_unlock(&lock);
	return first;
}
