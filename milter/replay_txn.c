/*
 * replay_txn.c: log events into connections and messages.  See
 * replay_txn.h.
 *
 * Both tables are chained hash tables keyed by SipHash (a log can be
 * written by an attacker's choice of queue IDs and host names no more
 * than any other input, but the key costs nothing) with a list in the
 * order of arrival, so the oldest entry is found at once when a table is
 * full.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "replay_txn.h"
#include "xmalloc.h"

#define BUCKETS	65536		/* a power of two */

struct rtxn {
	const struct rtxn_ops *ops;
	void *arg;
	int64_t from_ms, to_ms;
	unsigned char key[crypto_shorthash_KEYBYTES];
	struct rtxn_conn *conns[BUCKETS];
	struct rtxn_msg *msgs[BUCKETS];
	struct rtxn_conn *conn_head, *conn_tail;
	struct rtxn_msg *msg_head, *msg_tail;
	unsigned long nconns, nmsgs;
	struct rtxn_stats stats;
};

static size_t
bucket(const struct rtxn *t, const char *s)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const unsigned char *)s, strlen(s), t->key);
	memcpy(&v, h, sizeof v);
	return (size_t)(v & (BUCKETS - 1));
}

static char *
dup_or_null(const char *s)
{
	return s[0] != '\0' ? xstrdup(s) : NULL;
}

/* ---------------------------------------------------------- connections */

static struct rtxn_conn *
conn_find(struct rtxn *t, const char *session)
{
	struct rtxn_conn *c;

	for (c = t->conns[bucket(t, session)]; c != NULL; c = c->hnext)
		if (strcmp(c->session, session) == 0)
			return c;
	return NULL;
}

static void
conn_unlink(struct rtxn *t, struct rtxn_conn *c)
{
	struct rtxn_conn **pp = &t->conns[bucket(t, c->session)];

	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		t->conn_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		t->conn_tail = c->prev;
	t->nconns--;
}

static void
conn_free(struct rtxn_conn *c)
{
	free(c->session);
	free(c->client_name);
	free(c->client_addr);
	free(c->helo);
	free(c);
}

static void msg_hand_over(struct rtxn *, struct rtxn_msg *);
static void attempt_end(struct rtxn *, struct rtxn_conn *);

/* The session ended: its messages still queued keep it until handed over. */
static void
conn_close(struct rtxn *t, struct rtxn_conn *c)
{
	attempt_end(t, c);
	if (!c->closed) {
		c->closed = 1;
		conn_unlink(t, c);	/* the next session of that pid is new */
	}
	if (c->pending == 0) {
		t->ops->disconnect(t->arg, c);
		conn_free(c);
	}
}

static struct rtxn_conn *
conn_open(struct rtxn *t, const struct rlog_event *ev)
{
	struct rtxn_conn *c;
	size_t b;

	if ((c = conn_find(t, ev->session)) != NULL)
		conn_close(t, c);	/* its disconnect line is missing */
	if (t->nconns >= RTXN_CONNS_MAX) {
		t->stats.evicted++;
		conn_close(t, t->conn_head);
	}
	c = xcalloc(1, sizeof *c);
	c->session = xstrdup(ev->session);
	c->start_ms = ev->time_ms;
	c->client_name = xstrdup(ev->client_name);
	c->client_addr = xstrdup(ev->client_addr);
	c->helo = dup_or_null(ev->helo);
	b = bucket(t, c->session);
	c->hnext = t->conns[b];
	t->conns[b] = c;
	c->prev = t->conn_tail;
	if (t->conn_tail != NULL)
		t->conn_tail->next = c;
	else
		t->conn_head = c;
	t->conn_tail = c;
	t->nconns++;
	t->stats.connections++;
	t->ops->connect(t->arg, c);
	return c;
}

/* The session an event belongs to, opened if the log missed its start
 * (NULL when the event is outside the period). */
static struct rtxn_conn *
conn_of(struct rtxn *t, const struct rlog_event *ev)
{
	struct rtxn_conn *c = conn_find(t, ev->session);

	if (c != NULL)
		return c;
	if (ev->time_ms < t->from_ms || (t->to_ms && ev->time_ms >= t->to_ms)) {
		t->stats.outside++;
		return NULL;
	}
	return conn_open(t, ev);
}

/* ------------------------------------------------------------- messages */

static struct rtxn_msg *
msg_new(struct rtxn_conn *c, const struct rlog_event *ev)
{
	struct rtxn_msg *m = xcalloc(1, sizeof *m);

	m->conn = c;
	m->start_ms = ev->time_ms;
	m->user = dup_or_null(ev->user);
	c->pending++;
	return m;
}

static struct rtxn_msg *
msg_find(struct rtxn *t, const char *qid)
{
	struct rtxn_msg *m;

	for (m = t->msgs[bucket(t, qid)]; m != NULL; m = m->hnext)
		if (strcmp(m->qid, qid) == 0)
			return m;
	return NULL;
}

static void
msg_unlink(struct rtxn *t, struct rtxn_msg *m)
{
	struct rtxn_msg **pp = &t->msgs[bucket(t, m->qid)];

	while (*pp != m)
		pp = &(*pp)->hnext;
	*pp = m->hnext;
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		t->msg_head = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	else
		t->msg_tail = m->prev;
	t->nmsgs--;
}

/* Give a finished message to the caller, free it, and its connection too
 * when that was its last message of a closed session. */
static void
msg_hand_over(struct rtxn *t, struct rtxn_msg *m)
{
	struct rtxn_conn *c = m->conn;
	int i;

	t->ops->message(t->arg, m);
	if (m->reached_data)
		t->stats.messages++;
	for (i = 0; i < m->nrcpts; i++)
		free(m->rcpt[i]);
	free(m->rcpt);
	free(m->sender);
	free(m->user);
	free(m->msgid);
	free(m);
	if (--c->pending == 0 && c->closed) {
		t->ops->disconnect(t->arg, c);
		conn_free(c);
	}
}

static void
msg_open(struct rtxn *t, const struct rlog_event *ev)
{
	struct rtxn_conn *c;
	struct rtxn_msg *m;
	size_t b;

	if (msg_find(t, ev->qid) != NULL || (c = conn_of(t, ev)) == NULL)
		return;
	attempt_end(t, c);
	if (t->nmsgs >= RTXN_MSGS_MAX) {
		t->stats.evicted++;
		m = t->msg_head;
		msg_unlink(t, m);
		msg_hand_over(t, m);
	}
	m = msg_new(c, ev);
	snprintf(m->qid, sizeof m->qid, "%s", ev->qid);
	b = bucket(t, m->qid);
	m->hnext = t->msgs[b];
	t->msgs[b] = m;
	m->prev = t->msg_tail;
	if (t->msg_tail != NULL)
		t->msg_tail->next = m;
	else
		t->msg_head = m;
	t->msg_tail = m;
	t->nmsgs++;
}

static void
msg_add_rcpt(struct rtxn_msg *m, const char *rcpt)
{
	int i;

	for (i = 0; i < m->nrcpts; i++)
		if (strcmp(m->rcpt[i], rcpt) == 0)
			return;		/* deferred, then delivered */
	if (m->nrcpts == RTXN_RCPTS_MAX)
		return;
	m->rcpt = xrealloc(m->rcpt, (size_t)(m->nrcpts + 1) * sizeof *m->rcpt);
	m->rcpt[m->nrcpts++] = xstrdup(rcpt);
}

/* ------------------------------------------ refusals Postfix made itself */

/* A run of NOQUEUE refusals with one sender is one attempt. */
static void
attempt_end(struct rtxn *t, struct rtxn_conn *c)
{
	struct rtxn_msg *m = c->attempt;

	if (m == NULL)
		return;
	c->attempt = NULL;
	t->stats.attempts++;
	msg_hand_over(t, m);
}

/* A step a message reached: MAIL or RCPT; a refused RCPT that a milter
 * saw is a recipient to judge anew, one Postfix refused is not. */
static void
reject_step(struct rtxn_msg *m, const struct rlog_event *ev)
{
	if (strcmp(ev->reject_stage, "RCPT") != 0)
		return;
	if (ev->by_milter)
		msg_add_rcpt(m, ev->rcpt);
	else
		m->mta_rcpt_refused++;
}

static int
same_sender(const struct rtxn_msg *m, const struct rlog_event *ev)
{
	if (m->sender == NULL || !ev->has_sender)
		return m->sender == NULL && !ev->has_sender;
	return strcmp(m->sender, ev->sender) == 0;
}

static void
noqueue_reject(struct rtxn *t, const struct rlog_event *ev)
{
	struct rtxn_conn *c = conn_of(t, ev);
	struct rtxn_msg *m;

	if (c == NULL)
		return;
	if (c->helo == NULL)
		c->helo = dup_or_null(ev->helo);
	if (strcmp(ev->reject_stage, "MAIL") != 0 &&
	    strcmp(ev->reject_stage, "RCPT") != 0)
		return;			/* before a transaction: HELO, CONNECT */
	if ((m = c->attempt) == NULL || !same_sender(m, ev)) {
		attempt_end(t, c);
		m = c->attempt = msg_new(c, ev);	/* with its sasl_username */
		m->sender = ev->has_sender ? xstrdup(ev->sender) : NULL;
	}
	reject_step(m, ev);
}

/* A refused recipient of a queued message, or a refused message. */
static void
queued_reject(struct rtxn *t, const struct rlog_event *ev)
{
	struct rtxn_msg *m = msg_find(t, ev->qid);

	if (m == NULL) {
		t->stats.orphans++;
		return;
	}
	if (m->sender == NULL && ev->has_sender)
		m->sender = xstrdup(ev->sender);
	if (m->conn->helo == NULL)
		m->conn->helo = dup_or_null(ev->helo);
	if (ev->kind == RLOG_REJECT) {
		reject_step(m, ev);
		return;
	}
	m->reached_data = 1;
	m->mta_refused = !ev->by_milter;
	if (m->nrcpts == 0 && ev->rcpt[0] != '\0')
		msg_add_rcpt(m, ev->rcpt);	/* the first, all the line names */
	msg_unlink(t, m);
	msg_hand_over(t, m);
}

/* ------------------------------------------------------------ the events */

static void
msg_event(struct rtxn *t, const struct rlog_event *ev)
{
	struct rtxn_msg *m = msg_find(t, ev->qid);

	if (m == NULL) {
		t->stats.orphans++;
		return;
	}
	switch (ev->kind) {
	case RLOG_MSGID:
		free(m->msgid);
		m->msgid = xstrdup(ev->msgid);
		break;
	case RLOG_FROM:
		free(m->sender);
		m->sender = xstrdup(ev->sender);
		m->size = ev->size;
		m->nrcpt = ev->nrcpt;
		m->queued = m->reached_data = 1;
		break;
	case RLOG_TO:
		msg_add_rcpt(m, ev->rcpt);
		break;
	case RLOG_REMOVED:
		msg_unlink(t, m);
		msg_hand_over(t, m);
		break;
	default:
		break;
	}
}

void
rtxn_add(struct rtxn *t, const struct rlog_event *ev)
{
	struct rtxn_conn *c;

	switch (ev->kind) {
	case RLOG_CONNECT:
		if (ev->time_ms >= t->from_ms && (!t->to_ms || ev->time_ms < t->to_ms))
			conn_open(t, ev);
		else
			t->stats.outside++;
		break;
	case RLOG_DISCONNECT:
		if ((c = conn_find(t, ev->session)) != NULL)
			conn_close(t, c);
		break;
	case RLOG_CLIENT:
		msg_open(t, ev);
		break;
	case RLOG_REJECT:
		if (ev->qid[0] == '\0')
			noqueue_reject(t, ev);
		else
			queued_reject(t, ev);
		break;
	case RLOG_QREJECT:
		queued_reject(t, ev);
		break;
	case RLOG_MSGID: case RLOG_FROM: case RLOG_TO: case RLOG_REMOVED:
		msg_event(t, ev);
		break;
	case RLOG_SKIP:
		break;
	}
}

struct rtxn *
rtxn_new(const struct rtxn_ops *ops, void *arg, int64_t from_ms, int64_t to_ms)
{
	struct rtxn *t = xcalloc(1, sizeof *t);

	t->ops = ops;
	t->arg = arg;
	t->from_ms = from_ms;
	t->to_ms = to_ms;
	crypto_shorthash_keygen(t->key);
	return t;
}

void
rtxn_finish(struct rtxn *t, struct rtxn_stats *stats)
{
	struct rtxn_msg *m;

	while ((m = t->msg_head) != NULL) {
		msg_unlink(t, m);
		msg_hand_over(t, m);
	}
	while (t->conn_head != NULL)
		conn_close(t, t->conn_head);
	*stats = t->stats;
}

void
rtxn_free(struct rtxn *t)
{
	free(t);
}
