/* fuzz_redis: any bytes as what a Redis server sends, read by the store's
 * own code: hiredis's reader parses them and store_redis.c checks each
 * reply's shape (SCRIPT LOAD's SHA, NOSCRIPT, the script's four integers a
 * counter, DEL's integer, an error's text cleaned for the log).  A store call either
 * answers from a well-formed reply or says STORE_ERROR; never a crash, a
 * leak, or a verdict made of a wrong shape.
 *
 * The seam: store_redis.c is compiled into this harness (its checks are
 * static) and a connection is handed to the store's idle pool with the
 * fuzzed bytes already in its reader and /dev/null as its socket: commands
 * are written to /dev/null, and once the bytes are used up the next read
 * finds end of file, as from a server that hung up.  So take, a sequence
 * of takes, give and reset run unchanged (command, script_load, script_run, is_noscript,
 * seq_answer, reply_clean, health, conn_give) until the connection
 * is dropped.
 *
 * The connection reads through the store's own bounded reader
 * (answer_fns, as conn_open installs it), so the campaign fuzzes that
 * reader too: an aggregate longer or deeper than any answer the store
 * asks for is refused before hiredis allocates for it. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_redis.c"

#define FZ_OPS		64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reader the store installs on each connection it makes. */
static void
fz_reader(redisContext *c)
{
	c->reader->fn = &answer_fns;
}

static void
fz_notify(void *arg, int up, const char *why)
{
	(void)arg;
	(void)up;
	if (why != NULL && strlen(why) > 4096)
		abort();
}

static int
fz_res_bad(const struct store_res *res)
{
	return res->allowed < 0 || res->allowed > 1 || res->first_over < 0 ||
	    res->first_over > 1;
}

/* Three takes at once, the second stopping: k answers in range, and
 * fewer than three only where a refusal stops or a take failed. */
static void
fz_seq(struct store *s, const struct store_req *q)
{
	struct store_req qs[3] = { *q, *q, *q };
	struct store_res res[3];
	enum store_result rc;
	size_t k, j;

	qs[1].stop = 1;
	k = store_take_seq(s, qs, 3, 0, res, &rc);
	if (k > 3 || (k < 3 && rc == STORE_OK && (k == 0 ||
	    res[k - 1].allowed || !qs[k - 1].stop)))
		abort();
	for (j = 0; j < k; j++)
		if (fz_res_bad(&res[j]))
			abort();
}

/* One store call in turn; res must hold what a well-formed answer says. */
static void
fz_op(struct store *s, int i)
{
	static const unsigned char id[] = "rule\0\x01key";
	struct store_req q = { .id = id, .idlen = sizeof id - 1,
	    .kind = i % 2 ? STORE_WINDOW : STORE_GCRA, .window_ms = 60000,
	    .rate = 10, .burst = 10, .units = 1 };
	struct store_res res;

	switch (i % 5) {
	case 0:
	case 1:
		if (store_take(s, &q, 0, &res) == STORE_OK && fz_res_bad(&res))
			abort();
		break;
	case 2:
		store_give(s, &q, 0);
		break;
	case 3:
		fz_seq(s, &q);
		break;
	default:
		store_reset(s, id, sizeof id - 1);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_redis_opts o = { .host = "127.0.0.1", .port = 1,
	    .prefix = "fz:", .timeout_ms = 1000, .notify = fz_notify };
	struct store_redis *r;
	struct store *s;
	redisContext *c;
	int fd, i;

	if ((fd = open("/dev/null", O_RDWR)) < 0)
		return 0;
	if ((c = redisConnectFd(fd)) == NULL) {
		close(fd);
		return 0;
	}
	fz_reader(c);
	if (redisReaderFeed(c->reader, (const char *)data, size) != REDIS_OK) {
		redisFree(c);
		return 0;
	}
	s = store_redis_new(&o);
	r = (struct store_redis *)s;
	r->idle[r->nidle++] = c;
	/* until the connection is dropped: never a connect to o.host */
	for (i = 0; i < FZ_OPS && r->nidle > 0; i++)
		fz_op(s, i);
	store_free(s);
	return 0;
}
