/* redis_slot.c: hash slots, redirects and slot maps; see redis_slot.h. */
#include <stdlib.h>
#include <string.h>

#include "redis_slot.h"
#include "xmalloc.h"

uint16_t
redis_slot_crc16(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint16_t crc = 0;
	size_t i;
	int b;

	for (i = 0; i < len; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) :
			    (uint16_t)(crc << 1);
	}
	return crc;
}

unsigned
redis_slot_of(const void *key, size_t len)
{
	const char *k = key, *open = memchr(k, '{', len), *close;

	if (open != NULL) {
		close = memchr(open + 1, '}', len - (size_t)(open + 1 - k));
		if (close != NULL && close > open + 1)
			return redis_slot_crc16(open + 1,
			    (size_t)(close - open - 1)) & (REDIS_SLOTS - 1);
	}
	return redis_slot_crc16(k, len) & (REDIS_SLOTS - 1);
}

/* "HOST:PORT" with the port after the last colon; 0 when well formed. */
static int
addr_split(const char *s, char host[REDIS_HOST_MAX], int *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long p;

	if (colon == NULL || (size_t)(colon - s) >= REDIS_HOST_MAX)
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || p < 1 || p > 65535)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (strcmp(host, "?") == 0)
		host[0] = '\0';	/* an unknown endpoint: the node asked */
	*port = (int)p;
	return 0;
}

enum redis_redirect
redis_slot_redirect(const char *err, unsigned *slot, char host[REDIS_HOST_MAX],
    int *port)
{
	enum redis_redirect kind;
	const char *p;
	char *end;
	unsigned long n;

	if (strncmp(err, "MOVED ", 6) == 0) {
		kind = REDIRECT_MOVED;
		p = err + 6;
	} else if (strncmp(err, "ASK ", 4) == 0) {
		kind = REDIRECT_ASK;
		p = err + 4;
	} else
		return REDIRECT_NONE;
	if (*p < '0' || *p > '9')
		return REDIRECT_NONE;
	n = strtoul(p, &end, 10);
	if (n >= REDIS_SLOTS || *end != ' ')
		return REDIRECT_NONE;
	if (addr_split(end + 1, host, port) < 0)
		return REDIRECT_NONE;
	*slot = (unsigned)n;
	return kind;
}

/* One entry of CLUSTER SLOTS: [first, last, [host, port, id...], ...]. */
static int
range_parse(const redisReply *e, struct redis_slot_range *r)
{
	const redisReply *m;

	if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
	    e->element[0]->type != REDIS_REPLY_INTEGER ||
	    e->element[1]->type != REDIS_REPLY_INTEGER)
		return -1;
	if (e->element[0]->integer < 0 ||
	    e->element[1]->integer >= REDIS_SLOTS ||
	    e->element[0]->integer > e->element[1]->integer)
		return -1;
	m = e->element[2];
	if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
	    m->element[1]->type != REDIS_REPLY_INTEGER ||
	    m->element[1]->integer < 1 || m->element[1]->integer > 65535)
		return -1;
	r->host[0] = '\0';
	if (m->element[0]->type == REDIS_REPLY_STRING) {
		if (m->element[0]->len >= REDIS_HOST_MAX)
			return -1;
		memcpy(r->host, m->element[0]->str, m->element[0]->len);
		r->host[m->element[0]->len] = '\0';
		if (strcmp(r->host, "?") == 0)
			r->host[0] = '\0';
	} else if (m->element[0]->type != REDIS_REPLY_NIL)
		return -1;
	r->first = (unsigned)e->element[0]->integer;
	r->last = (unsigned)e->element[1]->integer;
	r->port = (int)m->element[1]->integer;
	return 0;
}

int
redis_slot_map_parse(const redisReply *rep, struct redis_slot_range **out,
    const char **why)
{
	struct redis_slot_range *r;
	size_t i;

	*out = NULL;
	if (rep->type == REDIS_REPLY_ERROR) {
		*why = "CLUSTER SLOTS refused: is this node in cluster mode "
		    "(cluster-enabled yes)?";
		return -1;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0 ||
	    rep->elements > REDIS_SLOTS) {
		*why = rep->type == REDIS_REPLY_ARRAY ? "CLUSTER SLOTS: no slot "
		    "is assigned to any node" : "CLUSTER SLOTS: not a slot map";
		return -1;
	}
	r = xcalloc(rep->elements, sizeof *r);
	for (i = 0; i < rep->elements; i++)
		if (range_parse(rep->element[i], &r[i]) < 0) {
			free(r);
			*why = "CLUSTER SLOTS: a malformed range";
			return -1;
		}
	*out = r;
	return (int)rep->elements;
}
