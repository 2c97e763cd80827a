/*
 * store_redis.c: the store on a Redis server, so several MTAs share one
 * set of counters; see store.h.
 *
 * Each take or give is one Lua script run by EVALSHA: it reads the
 * server's clock (TIME), decides, and writes the counter with its expiry
 * (PEXPIRE) in the same atomic step, so two MTAs racing for the last unit
 * cannot both get it, MTAs with skewed clocks agree, and no key is ever
 * left without a TTL.  A sequence of takes (store_take_seq: a stage's
 * limit rules) is the same script on several keys, one round trip.  The
 * caller's now_ms is not used.  A script the server forgot (restart,
 * SCRIPT FLUSH: NOSCRIPT) is loaded again.
 *
 * Keys: PREFIX RULE ":{" hex(identity) "}".  The identity travels only as
 * a binary-safe argument; the braces are a Redis Cluster hash tag.
 *
 * A GCRA counter is a hash {t, r, o, n, w}: the theoretical arrival time
 * as whole ms t plus a remainder r in ms/rate units, so the arithmetic is
 * as exact as the memory store's (Lua numbers are doubles: exact below
 * 2^53, far above burst * window_ms of any sane rule).  o marks "refused
 * once".  n and w are the rate and window_ms t and r are in: a script run
 * under another limit (a reload changed it) carries the level, the debt
 * over the old unit cost, into its own rate, rounded up, and writes it
 * back in its own; so the count stays whichever MTA of a half-reloaded
 * fleet touches it, each applying its own limit to it.  A counter without
 * n and w (written by the release before) is read in the rate in force.
 * A window counter is {c, o} with the window's end as the key's TTL;
 * giving back lowers c and keeps the TTL (a calendar quota's refused
 * message).
 *
 * Answers: hiredis' reader builds each answer through our own object
 * functions, which refuse, before allocating, any array longer than the
 * script's four elements a key and any nested array (the fleet's plain
 * commands get a larger but still bounded shape); and an answer still
 * incomplete after REPLY_BYTES_MAX bytes is refused unread.  A hostile
 * server (or anything on its port) cannot make the milter allocate for a
 * "*1000000000" header or buffer a gigabyte of bulk string: every answer
 * this store asks for is a short status, integer, SHA, error text or
 * at most STORE_SEQ_MAX times {int x4}.
 *
 * Connections: a pool of idle connections under a mutex; a thread takes
 * one, uses it, gives it back (or drops it after an error).  Connect and
 * every command have the configured timeout (a command's in all, not per
 * read).  After a failure the store
 * answers STORE_ERROR at once, without trying, until a backoff (doubling
 * from 100 ms to 5 s) has passed, so a dead server costs no MTA a timeout
 * per message.  The notify callback hears every change between up and
 * down, once.  A failure also drops the idle connections: after a
 * failover they lead to a server that is no longer the master.
 *
 * For a fleet (redis_sentinel.c, redis_cluster.c): a locate callback names
 * the server before each new connection, store_redis_routed hands MOVED
 * and ASK back to the caller instead of counting them as failures, and
 * store_redis_command runs one plain command (CLUSTER SLOTS, ROLE).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "mono.h"
#include "store.h"
#include "text.h"
#include "xmalloc.h"

#define POOL_MAX	64
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000	/* unless opts say less */
#define KEY_MAX		STORE_REDIS_KEY_MAX
#define REPLY_ARRAY_MAX	(4 * STORE_SEQ_MAX)	/* {allowed, retry, count, first} a key */
#define REPLY_BYTES_MAX	65536		/* unparsed bytes of one answer */

/* The scripts' ARGV[5]: the charge by name, so a script never depends on
 * the numbers of enum store_charge. */
static const char *const charge_arg[] = {
	[STORE_CHARGE_ALLOWED] = "allowed",
	[STORE_CHARGE_ALWAYS] = "always",
	[STORE_CHARGE_NONE] = "none",
};

/* One script for every call: ARGV[1] is "take" or "give", then seven
 * arguments per key: kind ("g" GCRA, "w" window), window_ms, rate, burst,
 * units, charge, stop ("1": a refusal ends the sequence there).  Its
 * answer: four integers per key answered, {allowed, retry, count, first}. */
static const char seq_lua[] =
    "local op = ARGV[1]\n"
    "local tm = redis.call('TIME')\n"
    "local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)\n"
    "local function gcra(key, window, rate, burst, units, charge)\n"
    "  local cap, cost = burst * window, units * window\n"
    "  local h = redis.call('HMGET', key, 't', 'r', 'o', 'n', 'w')\n"
    "  local orate, owin = tonumber(h[4]) or rate, tonumber(h[5]) or window\n"
    "  local d = 0\n"
    "  if h[1] then d = (tonumber(h[1]) - now) * orate + tonumber(h[2]) end\n"
    "  if d < 0 then d = 0 end\n"
    "  if d > 0 and (orate ~= rate or owin ~= window) then\n"
    "    d = math.ceil(d / owin * window)\n"
    "  end\n"
    "  if d > 2 * cap then d = 2 * cap end\n"
    "  local over = h[3] ~= false and d > 0\n"
    "  local function put(nd, o)\n"
    "    if nd <= 0 then redis.call('DEL', key) return end\n"
    "    local ms = math.floor(nd / rate)\n"
    "    redis.call('HSET', key, 't', now + ms, 'r', nd - ms * rate, 'n', rate, 'w', window)\n"
    "    if o then redis.call('HSET', key, 'o', 1) end\n"
    "    redis.call('PEXPIRE', key, math.ceil(nd / rate))\n"
    "  end\n"
    "  if op == 'give' then\n"
    "    if d <= cost then redis.call('DEL', key) else put(d - cost, over) end\n"
    "    return 1, 0, 0, 0\n"
    "  end\n"
    "  local want = d + cost\n"
    "  local allowed = want <= cap\n"
    "  local retry = 0\n"
    "  if not allowed and cost > cap then retry = math.ceil(d / rate)\n"
    "  elseif not allowed then retry = math.ceil((want - cap) / rate) end\n"
    "  local after = d\n"
    "  if charge ~= 'none' and (allowed or charge == 'always') then after = math.min(want, 2 * cap) end\n"
    "  local first = 0\n"
    "  if not allowed and charge ~= 'none' and not over then first = 1 end\n"
    "  if charge ~= 'none' and (after ~= d or first == 1) then put(after, over or not allowed) end\n"
    "  return allowed and 1 or 0, retry, math.ceil(after / window), first\n"
    "end\n"
    "local function win(key, window, burst, units, charge)\n"
    "  local h = redis.call('HMGET', key, 'c', 'o')\n"
    "  local cnt = tonumber(h[1]) or 0\n"
    "  local ttl = redis.call('PTTL', key)\n"
    "  if ttl <= 0 then ttl = window; cnt = 0 end\n"
    "  if op == 'give' then\n"
    "    if cnt <= units then redis.call('DEL', key)\n"
    "    else redis.call('HSET', key, 'c', cnt - units) end\n"
    "    return 1, 0, 0, 0\n"
    "  end\n"
    "  local allowed = units <= burst and cnt <= burst - units\n"
    "  local retry = 0\n"
    "  if not allowed then retry = ttl end\n"
    "  local after = cnt\n"
    "  if charge ~= 'none' and (allowed or charge == 'always') then after = cnt + units end\n"
    "  local first = 0\n"
    "  if not allowed and charge ~= 'none' and not h[2] then first = 1 end\n"
    "  if charge ~= 'none' and after > 0 and (after ~= cnt or first == 1) then\n"
    "    redis.call('HSET', key, 'c', after)\n"
    "    if first == 1 then redis.call('HSET', key, 'o', 1) end\n"
    "    redis.call('PEXPIRE', key, ttl)\n"
    "  end\n"
    "  return allowed and 1 or 0, retry, after, first\n"
    "end\n"
    "local out = {}\n"
    "for i = 1, #KEYS do\n"
    "  local a = 1 + (i - 1) * 7\n"
    "  local window, rate = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])\n"
    "  local burst, units = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])\n"
    "  local ok, retry, count, first\n"
    "  if ARGV[a + 1] == 'g' then\n"
    "    ok, retry, count, first = gcra(KEYS[i], window, rate, burst, units, ARGV[a + 6])\n"
    "  else\n"
    "    ok, retry, count, first = win(KEYS[i], window, burst, units, ARGV[a + 6])\n"
    "  end\n"
    "  out[#out + 1] = ok\n"
    "  out[#out + 1] = retry\n"
    "  out[#out + 1] = count\n"
    "  out[#out + 1] = first\n"
    "  if ok == 0 and ARGV[a + 7] == '1' then break end\n"
    "end\n"
    "return out\n";

#define SEQ_ARGS	7	/* the script's arguments per key */

struct store_redis {
	struct store base;
	struct store_redis_opts o;
	pthread_mutex_t lock;		/* everything below */
	redisContext *idle[POOL_MAX];
	int nidle;
	char sha[48];			/* the script's; "" until loaded */
	int down;			/* the last call failed */
	uint64_t retry_at_ms;		/* down: no try before this */
	unsigned backoff_ms;
	char last_why[128];		/* down: why, for store_redis_command */
};

static struct timeval
timeout_tv(const struct store_redis *r)
{
	struct timeval tv = { .tv_sec = (time_t)(r->o.timeout_ms / 1000),
	    .tv_usec = (suseconds_t)(r->o.timeout_ms % 1000) * 1000 };

	return tv;
}

/* Up or down: tell the caller once per change. */
static void
health(struct store_redis *r, int ok, const char *why)
{
	int changed;

	pthread_mutex_lock(&r->lock);
	changed = r->down == ok;
	r->down = !ok;
	if (ok)
		r->backoff_ms = 0;
	else {
		r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : BACKOFF_MIN_MS;
		if (r->backoff_ms > r->o.backoff_max_ms)
			r->backoff_ms = (unsigned)r->o.backoff_max_ms;
		r->retry_at_ms = mono_ms() + r->backoff_ms;
		snprintf(r->last_why, sizeof r->last_why, "%s",
		    why != NULL ? why : "no answer");
		while (r->nidle > 0)	/* they may lead to a demoted master */
			redisFree(r->idle[--r->nidle]);
	}
	pthread_mutex_unlock(&r->lock);
	if (changed && r->o.notify != NULL)
		r->o.notify(r->o.notify_arg, ok, ok ? NULL : why);
}

/* ---- the reader's object functions: hiredis 0.14's reply objects (freed
 * by freeReplyObject), made only for the shapes this store can get ---- */

/* A new reply of type, linked into its parent array; NULL refuses it. */
static redisReply *
answer_new(const redisReadTask *task, int type)
{
	redisReply *rep = calloc(1, sizeof *rep), *parent;

	if (rep == NULL)
		return NULL;
	rep->type = type;
	if (task->parent != NULL) {
		parent = task->parent->obj;
		if (parent == NULL || parent->type != REDIS_REPLY_ARRAY ||
		    task->idx < 0 || (size_t)task->idx >= parent->elements) {
			free(rep);
			return NULL;
		}
		parent->element[task->idx] = rep;
	}
	return rep;
}

static void *
answer_string(const redisReadTask *task, char *str, size_t len)
{
	redisReply *rep;
	char *copy;

	if (len > REPLY_BYTES_MAX || (copy = malloc(len + 1)) == NULL)
		return NULL;
	if ((rep = answer_new(task, task->type)) == NULL) {
		free(copy);
		return NULL;
	}
	memcpy(copy, str, len);
	copy[len] = '\0';
	rep->str = copy;
	rep->len = len;
	return rep;
}

/* The shapes an answer may have: elements of the outer array, of each
 * nested one, how deep they nest, and how many elements in all.  A
 * script's answer is four integers a key; the fleet's plain commands
 * (store_redis_command: CLUSTER SLOTS, ROLE; the sentinels' questions)
 * answer ranges of nodes, bounded so that no header can make the milter
 * allocate for more than `total` elements in one answer. */
struct answer_shape {
	int outer, nested, depth;
	long total;
};

static const struct answer_shape script_shape = { REPLY_ARRAY_MAX, 0, 0,
    REPLY_ARRAY_MAX };
static const struct answer_shape command_shape = { 4096, 16, 3, 65536 };

static int
task_depth(const redisReadTask *task)
{
	int d = 0;

	for (; task->parent != NULL; task = task->parent)
		d++;
	return d;
}

/* The refusal that matters: hiredis would allocate elements * 8 bytes
 * for the header alone, whatever follows it. */
static void *
answer_array(const redisReadTask *task, int elements)
{
	/* the reader's privdata while a plain command runs; NULL for a
	 * script's answer */
	struct store_redis_budget *b = task->privdata;
	const struct answer_shape *sh = b != NULL ? b->shape : &script_shape;
	int depth = task_depth(task);
	redisReply *rep;

	if (elements < 0 || depth > sh->depth ||
	    elements > (depth == 0 ? sh->outer : sh->nested) ||
	    (b != NULL && elements > b->left))
		return NULL;
	if (b != NULL)
		b->left -= elements;
	if ((rep = answer_new(task, REDIS_REPLY_ARRAY)) == NULL)
		return NULL;
	if (elements > 0 &&
	    (rep->element = calloc((size_t)elements, sizeof *rep->element)) == NULL) {
		free(rep);
		return NULL;
	}
	rep->elements = (size_t)elements;
	return rep;
}

static void *
answer_integer(const redisReadTask *task, long long value)
{
	redisReply *rep = answer_new(task, REDIS_REPLY_INTEGER);

	if (rep != NULL)
		rep->integer = value;
	return rep;
}

static void *
answer_nil(const redisReadTask *task)
{
	return answer_new(task, REDIS_REPLY_NIL);
}

static redisReplyObjectFunctions answer_fns = {
	.createString = answer_string, .createArray = answer_array,
	.createInteger = answer_integer, .createNil = answer_nil,
	.freeObject = freeReplyObject,
};

#define REPLY_REFUSED	"an answer this store never asks for (an array of " \
	"more than 64 elements, a nested array or over 64 kB): refused unread"

/* Whether fd has bytes to read before deadline_ms (mono_ms). */
static int
readable_by(int fd, uint64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t now;
	int n;

	do {
		if ((now = mono_ms()) >= deadline_ms)
			return 0;
		n = poll(&p, 1, (int)(deadline_ms - now));
	} while (n < 0 && errno == EINTR);
	return n > 0;
}

/* One command, answered within the timeout in all: the socket's own
 * timeout bounds each read only, and a server that trickles its answer a
 * byte at a time would hold the session as long as it liked.  NULL (and
 * *why set) when the connection failed or the time is up; the caller
 * drops the connection then. */
static redisReply *
command(const struct store_redis *r, redisContext *c, int argc,
    const char **argv, const size_t *len, const char **why)
{
	uint64_t deadline = mono_ms() + r->o.timeout_ms;
	void *rep = NULL;
	int done = 0;

	if (redisAppendCommandArgv(c, argc, argv, len) != REDIS_OK)
		goto fail;
	while (!done)
		if (redisBufferWrite(c, &done) != REDIS_OK)
			goto fail;
	for (;;) {
		if (redisGetReplyFromReader(c, &rep) != REDIS_OK)
			goto fail;
		if (rep != NULL)
			return rep;
		if (!readable_by(c->fd, deadline)) {
			*why = "no complete answer within state.redis timeout";
			return NULL;
		}
		if (redisBufferRead(c) != REDIS_OK)
			goto fail;
		if (c->reader->len - c->reader->pos > REPLY_BYTES_MAX) {
			*why = REPLY_REFUSED;
			return NULL;
		}
	}
fail:
	/* Our object functions' refusal reaches hiredis as "out of memory". */
	*why = c->err == REDIS_ERR_OOM ? REPLY_REFUSED :
	    c->errstr[0] ? c->errstr : "no answer";
	return NULL;
}

/* AUTH and SELECT on a new connection; 0 when it is ready. */
static int
conn_setup(struct store_redis *r, redisContext *c, const char **why)
{
	char db[24];
	const char *argv[2];
	redisReply *rep;
	int bad;

	if (r->o.password != NULL && r->o.password[0] != '\0') {
		argv[0] = "AUTH";
		argv[1] = r->o.password;
		if ((rep = command(r, c, 2, argv, NULL, why)) == NULL)
			return -1;
		bad = rep->type == REDIS_REPLY_ERROR;
		freeReplyObject(rep);
		if (bad) {
			*why = "AUTH refused: check state.redis password";
			return -1;
		}
	}
	if (r->o.db == 0)
		return 0;
	snprintf(db, sizeof db, "%d", r->o.db);
	argv[0] = "SELECT";
	argv[1] = db;
	if ((rep = command(r, c, 2, argv, NULL, why)) == NULL)
		return -1;
	bad = rep->type == REDIS_REPLY_ERROR;
	freeReplyObject(rep);
	if (bad)
		*why = "SELECT refused: check state.redis db";
	return bad ? -1 : 0;
}

static redisContext *
conn_open(struct store_redis *r, const char **why)
{
	struct timeval tv = timeout_tv(r);
	char host[256];
	int port = r->o.port, down;
	redisContext *c;

	if (r->o.locate != NULL) {	/* Sentinel: where the master is now */
		pthread_mutex_lock(&r->lock);
		down = r->down;
		pthread_mutex_unlock(&r->lock);
		if (r->o.locate(r->o.locate_arg, down, host, sizeof host, &port,
		    why) < 0)
			return NULL;
	}
	c = r->o.unix_path != NULL ?
	    redisConnectUnixWithTimeout(r->o.unix_path, tv) :
	    redisConnectWithTimeout(r->o.locate != NULL ? host : r->o.host,
	    port, tv);

	if (c == NULL || c->err) {
		*why = c != NULL && c->errstr[0] ? c->errstr : "cannot connect";
		return c;	/* freed by the caller, after *why is used */
	}
	c->reader->fn = &answer_fns;	/* before the first answer: AUTH's */
	if (redisSetTimeout(c, tv) != REDIS_OK)
		*why = "cannot set the command timeout";
	else
		conn_setup(r, c, why);
	return c;	/* *why set when it is not usable */
}

/* A connection to use, or NULL while the server is down. */
static redisContext *
conn_take(struct store_redis *r, const char **why)
{
	redisContext *c = NULL;

	pthread_mutex_lock(&r->lock);
	if (r->down && mono_ms() < r->retry_at_ms) {
		pthread_mutex_unlock(&r->lock);
		*why = "down";
		return NULL;
	}
	if (r->nidle > 0)
		c = r->idle[--r->nidle];
	pthread_mutex_unlock(&r->lock);
	if (c != NULL)
		return c;
	*why = NULL;
	c = conn_open(r, why);
	if (c == NULL || c->err || *why != NULL) {
		health(r, 0, *why ? *why : "cannot connect");
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	return c;
}

static void
conn_give(struct store_redis *r, redisContext *c, int broken)
{
	pthread_mutex_lock(&r->lock);
	if (!broken && r->nidle < POOL_MAX) {
		r->idle[r->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&r->lock);
	if (c != NULL)
		redisFree(c);
}

static int
is_noscript(const redisReply *rep)
{
	return rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

/* SCRIPT LOAD: the script's SHA into r->sha; 0 on success. */
static int
script_load(struct store_redis *r, redisContext *c, const char **why)
{
	const char *argv[3] = { "SCRIPT", "LOAD", seq_lua };
	redisReply *rep = command(r, c, 3, argv, NULL, why);
	int ok;

	if (rep == NULL)
		return -1;
	ok = rep->type == REDIS_REPLY_STRING && rep->len < sizeof r->sha;
	if (ok) {
		pthread_mutex_lock(&r->lock);
		memcpy(r->sha, rep->str, rep->len);
		r->sha[rep->len] = '\0';
		pthread_mutex_unlock(&r->lock);
	} else
		*why = rep->type == REDIS_REPLY_ERROR ? "SCRIPT LOAD refused" :
		    "SCRIPT LOAD: unexpected answer";
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

/* ASKING: the next command may use a slot being imported (cluster). */
static int
asking_send(const struct store_redis *r, redisContext *c, const char **why)
{
	const char *argv[1] = { "ASKING" };
	redisReply *rep = command(r, c, 1, argv, NULL, why);
	int ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;

	if (rep != NULL && !ok)
		*why = "ASKING refused";
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

static void
sha_copy(struct store_redis *r, char *sha)
{
	pthread_mutex_lock(&r->lock);
	memcpy(sha, r->sha, sizeof r->sha);
	pthread_mutex_unlock(&r->lock);
}

/* EVALSHA with argv[2..argc-1] (the number of keys, the keys, the
 * arguments; argv[0] and argv[1] are filled here); loads the script when
 * the server does not have it.  NULL with *why set on failure. */
static redisReply *
script_run(struct store_redis *r, redisContext *c, int argc,
    const char **argv, size_t *len, int asking, const char **why)
{
	char sha[48];
	redisReply *rep = NULL;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		sha_copy(r, sha);
		if (sha[0] == '\0' && script_load(r, c, why) < 0)
			return NULL;
		sha_copy(r, sha);
		argv[0] = "EVALSHA";
		argv[1] = sha;
		len[0] = 7;
		len[1] = strlen(sha);
		if (asking && asking_send(r, c, why) < 0)
			return NULL;
		if ((rep = command(r, c, argc, argv, len, why)) == NULL)
			return NULL;
		if (!is_noscript(rep))
			break;
		freeReplyObject(rep);
		rep = NULL;
		pthread_mutex_lock(&r->lock);
		r->sha[0] = '\0';	/* the server restarted or flushed */
		pthread_mutex_unlock(&r->lock);
	}
	if (rep == NULL)
		*why = "NOSCRIPT after SCRIPT LOAD";
	return rep;
}

/* PREFIX RULE ":{" hex(id) "}"; the rule is the identity up to its NUL. */
static size_t
key_build(const char *prefix, const void *id, size_t idlen, char *out,
    size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = id;
	size_t rule = strnlen(id, idlen), n, i;

	if (idlen > 512)
		idlen = 512;	/* identities are far shorter (keys.h) */
	n = (size_t)snprintf(out, outsz, "%.200s%.*s:{", prefix,
	    (int)(rule < 128 ? rule : 128), (const char *)id);
	if (n > outsz - 2)
		n = outsz - 2;	/* cannot happen with KEY_MAX; never overflow */
	for (i = 0; i < idlen && n + 3 < outsz; i++) {
		out[n++] = hex[p[i] >> 4];
		out[n++] = hex[p[i] & 15];
	}
	out[n++] = '}';
	out[n] = '\0';
	return n;
}

/* The script's answer to reqs[0..n-1]: four integers a key answered
 * ({allowed, retry, count, first}, two of them 0 or 1), ending at the
 * first refusal that stops and only there.  Anything else (a proxy or a
 * server gone wrong) is an error, never a verdict: a nil read as 0 would
 * refuse the mail.  Returns the keys answered, 0 when it is wrong. */
static size_t
seq_answer(const redisReply *rep, const struct store_req *reqs, size_t n)
{
	size_t i, k;
	int stops;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
	    rep->elements == 0 || rep->elements % 4 != 0 ||
	    rep->elements / 4 > n)
		return 0;
	for (i = 0; i < rep->elements; i++)
		if (rep->element[i]->type != REDIS_REPLY_INTEGER ||
		    rep->element[i]->integer < 0)
			return 0;
	k = rep->elements / 4;
	for (i = 0; i < k; i++) {
		if (rep->element[4 * i]->integer > 1 ||
		    rep->element[4 * i + 3]->integer > 1)
			return 0;
		stops = rep->element[4 * i]->integer == 0 && reqs[i].stop;
		if (i + 1 < k ? stops : k < n && !stops)
			return 0;
	}
	return k;
}

static void
seq_results(const redisReply *rep, size_t k, struct store_res *res)
{
	redisReply *const *e = rep->element;
	size_t i;

	for (i = 0; i < k; i++, e += 4) {
		res[i].allowed = (int)e[0]->integer;
		res[i].retry_after_ms = (uint64_t)e[1]->integer;
		res[i].count = (uint64_t)e[2]->integer;
		res[i].first_over = (int)e[3]->integer;
		res[i].evicting = 0;
	}
}

/* A cluster's answer for another node (MOVED, ASK) or for later
 * (TRYAGAIN, CLUSTERDOWN): copied for the caller when it routes. */
static int
is_redirect(const redisReply *rep, char *redirect, size_t sz)
{
	static const char *const kinds[] = { "MOVED ", "ASK ", "TRYAGAIN",
	    "CLUSTERDOWN" };
	size_t i;

	if (redirect == NULL || rep == NULL || rep->type != REDIS_REPLY_ERROR)
		return 0;
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strncmp(rep->str, kinds[i], strlen(kinds[i])) == 0) {
			text_clean(rep->str, redirect, sz);
			return 1;
		}
	return 0;
}

/* One script call's arguments (on the heap: 16 keys are 20 kB). */
struct seq_call {
	char nkeys[8];
	char key[STORE_SEQ_MAX][KEY_MAX];
	char num[STORE_SEQ_MAX][4][24];
	const char *argv[4 + STORE_SEQ_MAX * (1 + SEQ_ARGS)];
	size_t len[4 + STORE_SEQ_MAX * (1 + SEQ_ARGS)];
	int argc;
};

static void
seq_arg(struct seq_call *q, const char *s)
{
	q->argv[q->argc] = s;
	q->len[q->argc++] = strlen(s);
}

static void
seq_num(struct seq_call *q, char *buf, uint64_t v)
{
	snprintf(buf, 24, "%llu", (unsigned long long)v);
	seq_arg(q, buf);
}

/* EVALSHA's arguments after the SHA: the keys, op, seven a key. */
static void
seq_argv(const struct store_redis *r, struct seq_call *q,
    const struct store_req *reqs, size_t n, const char *op)
{
	size_t i;

	q->argc = 2;		/* EVALSHA and the SHA: script_run's */
	snprintf(q->nkeys, sizeof q->nkeys, "%zu", n);
	seq_arg(q, q->nkeys);
	for (i = 0; i < n; i++) {
		q->len[q->argc] = key_build(r->o.prefix, reqs[i].id,
		    reqs[i].idlen, q->key[i], KEY_MAX);
		q->argv[q->argc++] = q->key[i];
	}
	seq_arg(q, op);
	for (i = 0; i < n; i++) {
		seq_arg(q, reqs[i].kind == STORE_GCRA ? "g" : "w");
		seq_num(q, q->num[i][0], reqs[i].window_ms);
		seq_num(q, q->num[i][1], reqs[i].rate);
		seq_num(q, q->num[i][2], reqs[i].burst);
		seq_num(q, q->num[i][3], reqs[i].units);
		seq_arg(q, charge_arg[reqs[i].charge]);
		seq_arg(q, reqs[i].stop ? "1" : "0");
	}
}

/* Run the script on reqs[0..n-1] (1 <= n <= STORE_SEQ_MAX) with op "take"
 * or "give"; the answers into res (NULL: not wanted).  Returns the keys
 * answered, as store_take_seq does.  See store_redis_routed for asking
 * and redirect. */
static size_t
redis_seq(struct store_redis *r, const struct store_req *reqs, size_t n,
    const char *op, struct store_res *res, int asking, char *redirect,
    size_t redirectsz, enum store_result *rc)
{
	char msg[TEXT_VALUE_MAX + 1];
	const char *why = NULL;
	redisContext *c = conn_take(r, &why);
	struct seq_call *q;
	redisReply *rep;
	size_t k;

	*rc = STORE_ERROR;
	if (c == NULL)
		return 0;
	q = xmalloc(sizeof *q);
	seq_argv(r, q, reqs, n, op);
	rep = script_run(r, c, q->argc, q->argv, q->len, asking, &why);
	free(q);
	k = seq_answer(rep, reqs, n);
	if (k == 0 && is_redirect(rep, redirect, redirectsz)) {
		health(r, 1, NULL);	/* it answered: routing is the caller's */
		conn_give(r, c, 0);
		freeReplyObject(rep);
		return 0;
	}
	if (k > 0 && res != NULL)
		seq_results(rep, k, res);
	if (rep != NULL && k == 0 && why == NULL && rep->type == REDIS_REPLY_ERROR) {
		text_clean(rep->str, msg, sizeof msg);	/* any byte: for the log */
		why = msg;
	} else if (rep != NULL && k == 0 && why == NULL)
		why = "unexpected answer to the script";
	health(r, k > 0, why);
	conn_give(r, c, k == 0);	/* a wrong answer may leave more behind it */
	freeReplyObject(rep);
	if (k > 0)
		*rc = STORE_OK;
	return k;
}

static enum store_result
redis_take(struct store *s, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	enum store_result rc;

	(void)now_ms;		/* the server's clock decides */
	memset(res, 0, sizeof *res);
	redis_seq((struct store_redis *)s, req, 1, "take", res, 0, NULL, 0, &rc);
	return rc;
}

static size_t
redis_take_seq(struct store *s, const struct store_req *reqs, size_t n,
    uint64_t now_ms, struct store_res *res, enum store_result *rc)
{
	if (n == 0 || n > STORE_SEQ_MAX)
		return store_take_each(s, reqs, n, now_ms, res, rc);
	memset(res, 0, n * sizeof *res);
	return redis_seq((struct store_redis *)s, reqs, n, "take", res, 0,
	    NULL, 0, rc);
}

static enum store_result
redis_give(struct store *s, const struct store_req *req, uint64_t now_ms)
{
	enum store_result rc;

	(void)now_ms;
	redis_seq((struct store_redis *)s, req, 1, "give", NULL, 0, NULL, 0,
	    &rc);
	return rc;
}

static enum store_result
redis_reset(struct store *s, const void *id, size_t idlen)
{
	struct store_redis *r = (struct store_redis *)s;
	const char *why = NULL, *argv[2];
	char key[KEY_MAX];
	size_t len[2];
	redisContext *c = conn_take(r, &why);
	redisReply *rep;
	int ok;

	if (c == NULL)
		return STORE_ERROR;
	argv[0] = "DEL";
	len[0] = 3;
	len[1] = key_build(r->o.prefix, id, idlen, key, sizeof key);
	argv[1] = key;
	rep = command(r, c, 2, argv, len, &why);
	ok = rep != NULL && rep->type == REDIS_REPLY_INTEGER;
	health(r, ok, rep == NULL ? why : "DEL refused");
	conn_give(r, c, !ok);	/* a wrong answer may leave more behind it */
	freeReplyObject(rep);
	return ok ? STORE_OK : STORE_ERROR;
}

/* The server keeps its own data: there is no snapshot to write. */
static enum store_result
redis_save(struct store *s, const char *path, uint64_t now_ms, int64_t wall_ms,
    char *err, size_t errsz)
{
	(void)s;
	(void)path;
	(void)now_ms;
	(void)wall_ms;
	if (errsz > 0)
		err[0] = '\0';
	return STORE_OK;
}

/* Not counted: the server may hold other MTAs' keys and other data. */
static size_t
redis_count(struct store *s)
{
	(void)s;
	return 0;
}

static void
redis_free(struct store *s)
{
	struct store_redis *r = (struct store_redis *)s;

	while (r->nidle > 0)
		redisFree(r->idle[--r->nidle]);
	pthread_mutex_destroy(&r->lock);
	free(r->o.host);
	free(r->o.unix_path);
	free(r->o.prefix);
	free(r->o.password);
	free(r);
}

static const struct store_ops redis_ops = {
	.take = redis_take, .give = redis_give, .take_seq = redis_take_seq,
	.reset = redis_reset,
	.save = redis_save, .count = redis_count, .free = redis_free,
};

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct store *
store_redis_new(const struct store_redis_opts *o)
{
	struct store_redis *r = xcalloc(1, sizeof *r);

	r->base.ops = &redis_ops;
	r->o = *o;
	r->o.host = dup_or_null(o->host);
	r->o.unix_path = dup_or_null(o->unix_path);
	r->o.prefix = xstrdup(o->prefix != NULL ? o->prefix : "");
	r->o.password = dup_or_null(o->password);
	if (r->o.timeout_ms == 0)
		r->o.timeout_ms = STORE_REDIS_TIMEOUT_MS;
	if (r->o.backoff_max_ms == 0)
		r->o.backoff_max_ms = BACKOFF_MAX_MS;
	pthread_mutex_init(&r->lock, NULL);
	return &r->base;
}

/* ---- for a fleet: redis_sentinel.c and redis_cluster.c ---- */

size_t
store_redis_key(const char *prefix, const void *id, size_t idlen, char *out,
    size_t outsz)
{
	return key_build(prefix != NULL ? prefix : "", id, idlen, out, outsz);
}

enum store_result
store_redis_routed(struct store *s, const struct store_req *req, int give,
    int asking, struct store_res *res, char *redirect, size_t redirectsz)
{
	struct store_redis *r = (struct store_redis *)s;

	enum store_result rc;

	redirect[0] = '\0';
	if (res != NULL)
		memset(res, 0, sizeof *res);
	redis_seq(r, req, 1, give ? "give" : "take", res, asking, redirect,
	    redirectsz, &rc);
	return rc;
}

/* A plain command read under command_shape (task->privdata is the
 * reader's privdata, copied into each task). */
static redisReply *
command_bounded(const struct store_redis *r, redisContext *c, int argc,
    const char **argv, const char **why)
{
	struct store_redis_budget b = { &command_shape, command_shape.total };
	redisReply *rep;

	c->reader->privdata = &b;
	rep = command(r, c, argc, argv, NULL, why);
	c->reader->privdata = NULL;
	return rep;
}

void
store_redis_reader_bound(redisContext *c, struct store_redis_budget *b)
{
	b->shape = &command_shape;
	b->left = command_shape.total;
	c->reader->fn = &answer_fns;
	c->reader->privdata = b;
}

redisReply *
store_redis_command(struct store *s, int argc, const char **argv,
    const char **why)
{
	static __thread char down_why[128];	/* conn_take's may be freed */
	struct store_redis *r = (struct store_redis *)s;
	redisContext *c = conn_take(r, why);
	redisReply *rep;

	if (c == NULL) {
		pthread_mutex_lock(&r->lock);
		memcpy(down_why, r->last_why, sizeof down_why);
		pthread_mutex_unlock(&r->lock);
		*why = down_why;
		return NULL;
	}
	rep = command_bounded(r, c, argc, argv, why);
	health(r, rep != NULL, *why);
	conn_give(r, c, rep == NULL);
	return rep;
}

void
store_redis_drop(struct store *s)
{
	struct store_redis *r = (struct store_redis *)s;

	pthread_mutex_lock(&r->lock);
	while (r->nidle > 0)
		redisFree(r->idle[--r->nidle]);
	pthread_mutex_unlock(&r->lock);
}
