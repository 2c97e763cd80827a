/*
 * batch.h: a stage's limit rules asked of the store in one round trip.
 *
 * Where the store is a server (Redis), each take costs a round trip, and
 * a message counted per client, per network and per sender cost three.
 * Before a stage's rules run, the engine gathers here the takes of the
 * limit rules that run before any rule that could decide without the
 * store, each marked "stop" when its refusal would decide the stage, and
 * asks them at once (store_take_seq: in order, ending at the first
 * refusal that stops, as the rules one by one would).  Each rule then
 * takes its answer from here instead of from the store; a rule the
 * sequence did not reach asks the store itself.  Nothing in what is
 * decided or charged changes, only the number of round trips.
 *
 * A batch belongs to one connection's engine state (one thread at a time).
 */
#ifndef BATCH_H
#define BATCH_H

#include "keys.h"
#include "store.h"

enum batch_state { BATCH_NOT_ASKED, BATCH_ANSWERED, BATCH_FAILED };

struct batch_entry {
	const void *owner;		/* the limit spec that asked */
	unsigned char id[KEYS_ID_MAX];	/* req.id points here */
	enum batch_state state;
	struct store_res res;
};

struct batch {
	int n;
	struct store_req req[STORE_SEQ_MAX];
	struct batch_entry e[STORE_SEQ_MAX];
};

/* Forget every entry: a new stage. */
void batch_clear(struct batch *b);

/* Add owner's take of req (its identity copied); 0 when the batch is full. */
int batch_add(struct batch *b, const void *owner, const struct store_req *req);

/* Ask the store for every entry in one store_take_seq. */
void batch_ask(struct batch *b, struct store *st, uint64_t now_ms);

/* The answer to owner's take of req, if the batch asked it: 1 with *rc
 * (and *res when STORE_OK), the entry used up; 0 when the caller must ask
 * the store. */
int batch_answer(struct batch *b, const void *owner,
    const struct store_req *req, struct store_res *res,
    enum store_result *rc);

#endif
