/*
 * store_redis.c: the store on a Redis server, so several MTAs share one
 * set of counters; see store.h.
 *
 * Each take or give is one Lua script run by EVALSHA: it reads the
 * server's clock (TIME), decides, and writes the counter with its expiry
 * (PEXPIRE) in the same atomic step, so two MTAs racing for the last unit
 * cannot both get it, MTAs with skewed clocks agree, and no key is ever
 * left without a TTL.  The caller's now_ms is not used.  A script the
 * server forgot (restart, SCRIPT FLUSH: NOSCRIPT) is loaded again.
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
 * script's four elements and any nested array (the fleet's plain
 * commands get a larger but still bounded shape); and an answer still
 * incomplete after REPLY_BYTES_MAX bytes is refused unread.  A hostile
 * server (or anything on its port) cannot make the milter allocate for a
 * "*1000000000" header or buffer a gigabyte of bulk string: every answer
 * this store asks for is a short status, integer, SHA, error text or
 * {int x4}.
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
#define REPLY_ARRAY_MAX	4		/* the scripts' {allowed, retry, count, first} */
#define REPLY_BYTES_MAX	65536		/* unparsed bytes of one answer */

/* The scripts' ARGV[5]: the charge by name, so a script never depends on
 * the numbers of enum store_charge. */
static const char *const charge_arg[] = {
	[STORE_CHARGE_ALLOWED] = "allowed",
	[STORE_CHARGE_ALWAYS] = "always",
	[STORE_CHARGE_NONE] = "none",
};

static const char gcra_lua[] =
    "local key = KEYS[1]\n"
    "local window, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local units, charge, op = tonumber(ARGV[4]), ARGV[5], ARGV[6]\n"
    "local tm = redis.call('TIME')\n"
    "local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)\n"
    "local cap, cost = burst * window, units * window\n"
    "local h = redis.call('HMGET', key, 't', 'r', 'o', 'n', 'w')\n"
    "local orate, owin = tonumber(h[4]) or rate, tonumber(h[5]) or window\n"
    "local d = 0\n"
    "if h[1] then d = (tonumber(h[1]) - now) * orate + tonumber(h[2]) end\n"
    "if d < 0 then d = 0 end\n"
    "if d > 0 and (orate ~= rate or owin ~= window) then\n"
    "  d = math.ceil(d / owin * window)\n"
    "end\n"
    "if d > 2 * cap then d = 2 * cap end\n"
    "local over = h[3] ~= false and d > 0\n"
    "local function put(nd, o)\n"
    "  if nd <= 0 then redis.call('DEL', key) return end\n"
    "  local ms = math.floor(nd / rate)\n"
    "  redis.call('HSET', key, 't', now + ms, 'r', nd - ms * rate, 'n', rate, 'w', window)\n"
    "  if o then redis.call('HSET', key, 'o', 1) end\n"
    "  redis.call('PEXPIRE', key, math.ceil(nd / rate))\n"
    "end\n"
    "if op == 'give' then\n"
    "  if d <= cost then redis.call('DEL', key) else put(d - cost, over) end\n"
    "  return {1, 0, 0, 0}\n"
    "end\n"
    "local want = d + cost\n"
    "local allowed = want <= cap\n"
    "local retry = 0\n"
    "if not allowed and cost > cap then retry = math.ceil(d / rate)\n"
    "elseif not allowed then retry = math.ceil((want - cap) / rate) end\n"
    "local after = d\n"
    "if charge ~= 'none' and (allowed or charge == 'always') then after = math.min(want, 2 * cap) end\n"
    "local first = 0\n"
    "if not allowed and charge ~= 'none' and not over then first = 1 end\n"
    "if charge ~= 'none' and (after ~= d or first == 1) then put(after, over or not allowed) end\n"
    "return {allowed and 1 or 0, retry, math.ceil(after / window), first}\n";

static const char window_lua[] =
    "local key = KEYS[1]\n"
    "local window, burst = tonumber(ARGV[1]), tonumber(ARGV[3])\n"
    "local units, charge, op = tonumber(ARGV[4]), ARGV[5], ARGV[6]\n"
    "local h = redis.call('HMGET', key, 'c', 'o')\n"
    "local cnt = tonumber(h[1]) or 0\n"
    "local ttl = redis.call('PTTL', key)\n"
    "if ttl <= 0 then ttl = window; cnt = 0 end\n"
    "if op == 'give' then\n"
    "  if cnt <= units then redis.call('DEL', key)\n"
    "  else redis.call('HSET', key, 'c', cnt - units) end\n"
    "  return {1, 0, 0, 0}\n"
    "end\n"
    "local allowed = units <= burst and cnt <= burst - units\n"
    "local retry = 0\n"
    "if not allowed then retry = ttl end\n"
    "local after = cnt\n"
    "if charge ~= 'none' and (allowed or charge == 'always') then after = cnt + units end\n"
    "local first = 0\n"
    "if not allowed and charge ~= 'none' and not h[2] then first = 1 end\n"
    "if charge ~= 'none' and after > 0 and (after ~= cnt or first == 1) then\n"
    "  redis.call('HSET', key, 'c', after)\n"
    "  if first == 1 then redis.call('HSET', key, 'o', 1) end\n"
    "  redis.call('PEXPIRE', key, ttl)\n"
    "end\n"
    "return {allowed and 1 or 0, retry, after, first}\n";

enum script { SCRIPT_GCRA, SCRIPT_WINDOW, NSCRIPTS };

static const char *const script_text[NSCRIPTS] = { gcra_lua, window_lua };

struct store_redis {
	struct store base;
	struct store_redis_opts o;
	pthread_mutex_t lock;		/* everything below */
	redisContext *idle[POOL_MAX];
	int nidle;
	char sha[NSCRIPTS][48];		/* "" until loaded */
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
 * script's answer is {int x4}; the fleet's plain commands
 * (store_redis_command: CLUSTER SLOTS, ROLE; the sentinels' questions)
 * answer ranges of nodes, bounded so that no header can make the milter
 * allocate for more than `total` elements in one answer. */
struct answer_shape {
	int outer, nested, depth;
	long total;
};

static const struct answer_shape script_shape = { REPLY_ARRAY_MAX, 0, 0, 4 };
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
	"more than 4 elements, a nested array or over 64 kB): refused unread"

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
script_load(struct store_redis *r, redisContext *c, enum script s,
    const char **why)
{
	const char *argv[3] = { "SCRIPT", "LOAD", script_text[s] };
	redisReply *rep = command(r, c, 3, argv, NULL, why);
	int ok;

	if (rep == NULL)
		return -1;
	ok = rep->type == REDIS_REPLY_STRING && rep->len < sizeof r->sha[s];
	if (ok) {
		pthread_mutex_lock(&r->lock);
		memcpy(r->sha[s], rep->str, rep->len);
		r->sha[s][rep->len] = '\0';
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

/* EVALSHA script on key with args; loads the script when the server
 * does not have it.  NULL with *why set on failure. */
static redisReply *
script_run(struct store_redis *r, redisContext *c, enum script s,
    const char *key, size_t keylen, char args[][24], int nargs, int asking,
    const char **why)
{
	const char *argv[4 + 6];
	size_t len[4 + 6];
	char sha[48];
	redisReply *rep = NULL;
	int i, attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		pthread_mutex_lock(&r->lock);
		memcpy(sha, r->sha[s], sizeof sha);
		pthread_mutex_unlock(&r->lock);
		if (sha[0] == '\0' && script_load(r, c, s, why) < 0)
			return NULL;
		pthread_mutex_lock(&r->lock);
		memcpy(sha, r->sha[s], sizeof sha);
		pthread_mutex_unlock(&r->lock);
		argv[0] = "EVALSHA";
		argv[1] = sha;
		argv[2] = "1";
		argv[3] = key;
		len[0] = 7;
		len[1] = strlen(sha);
		len[2] = 1;
		len[3] = keylen;
		for (i = 0; i < nargs; i++) {
			argv[4 + i] = args[i];
			len[4 + i] = strlen(args[i]);
		}
		if (asking && asking_send(r, c, why) < 0)
			return NULL;
		if ((rep = command(r, c, 4 + nargs, argv, len, why)) == NULL)
			return NULL;
		if (!is_noscript(rep))
			break;
		freeReplyObject(rep);
		rep = NULL;
		pthread_mutex_lock(&r->lock);
		r->sha[s][0] = '\0';	/* the server restarted or flushed */
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

/* The scripts' answer, {allowed, retry, count, first}: four integers, two
 * of them 0 or 1.  Anything else (a proxy or a server gone wrong) is an
 * error, never a verdict: a nil read as 0 would refuse the mail. */
static int
script_answer_ok(const redisReply *rep)
{
	size_t i;

	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 4)
		return 0;
	for (i = 0; i < 4; i++)
		if (rep->element[i]->type != REDIS_REPLY_INTEGER ||
		    rep->element[i]->integer < 0)
			return 0;
	return rep->element[0]->integer <= 1 && rep->element[3]->integer <= 1;
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

/* Run the script of req's kind: op "take" or "give"; see
 * store_redis_routed for asking and redirect. */
static enum store_result
redis_call(struct store_redis *r, const struct store_req *req, const char *op,
    struct store_res *res, int asking, char *redirect, size_t redirectsz)
{
	char key[KEY_MAX], args[6][24], msg[TEXT_VALUE_MAX + 1];
	const char *why = NULL;
	enum script s = req->kind == STORE_GCRA ? SCRIPT_GCRA : SCRIPT_WINDOW;
	redisContext *c = conn_take(r, &why);
	redisReply *rep;
	size_t keylen;
	int ok;

	if (c == NULL)
		return STORE_ERROR;
	keylen = key_build(r->o.prefix, req->id, req->idlen, key, sizeof key);
	snprintf(args[0], 24, "%llu", (unsigned long long)req->window_ms);
	snprintf(args[1], 24, "%llu", (unsigned long long)req->rate);
	snprintf(args[2], 24, "%llu", (unsigned long long)req->burst);
	snprintf(args[3], 24, "%llu", (unsigned long long)req->units);
	snprintf(args[4], 24, "%s", charge_arg[req->charge]);
	snprintf(args[5], 24, "%s", op);
	rep = script_run(r, c, s, key, keylen, args, 6, asking, &why);
	ok = script_answer_ok(rep);
	if (!ok && is_redirect(rep, redirect, redirectsz)) {
		health(r, 1, NULL);	/* it answered: routing is the caller's */
		conn_give(r, c, 0);
		freeReplyObject(rep);
		return STORE_ERROR;
	}
	if (ok && res != NULL) {
		res->allowed = (int)rep->element[0]->integer;
		res->retry_after_ms = (uint64_t)rep->element[1]->integer;
		res->count = (uint64_t)rep->element[2]->integer;
		res->first_over = (int)rep->element[3]->integer;
		res->evicting = 0;
	}
	if (rep != NULL && !ok && why == NULL && rep->type == REDIS_REPLY_ERROR) {
		text_clean(rep->str, msg, sizeof msg);	/* any byte: for the log */
		why = msg;
	} else if (rep != NULL && !ok && why == NULL)
		why = "unexpected answer to the script";
	health(r, ok, why);
	conn_give(r, c, !ok);	/* a wrong answer may leave more behind it */
	freeReplyObject(rep);
	return ok ? STORE_OK : STORE_ERROR;
}

static enum store_result
redis_take(struct store *s, const struct store_req *req, uint64_t now_ms,
    struct store_res *res)
{
	(void)now_ms;		/* the server's clock decides */
	memset(res, 0, sizeof *res);
	return redis_call((struct store_redis *)s, req, "take", res, 0, NULL, 0);
}

static enum store_result
redis_give(struct store *s, const struct store_req *req, uint64_t now_ms)
{
	(void)now_ms;
	return redis_call((struct store_redis *)s, req, "give", NULL, 0, NULL,
	    0);
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
	.take = redis_take, .give = redis_give, .reset = redis_reset,
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

	redirect[0] = '\0';
	if (res != NULL)
		memset(res, 0, sizeof *res);
	return redis_call(r, req, give ? "give" : "take", res, asking,
	    redirect, redirectsz);
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
