/*
 * session.h: per-connection and per-message state of one MTA connection,
 * with owned copies of everything libmilter lends for one callback.
 *
 * A session is created on the first callback of a connection (negotiate or
 * connect) and freed only in mlfi_close; it holds the engine's pol_conn,
 * which holds a reference to the policy the connection started on.
 * libmilter runs one connection's callbacks on one thread at a time, so a
 * session needs no lock.  Copies are unbounded in principle but bounded in
 * fact by libmilter's command size; one recipient is kept at a time, so a
 * million recipients cost no more than one.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdint.h>

#include "policy.h"
#include "store.h"

struct session {
	struct pol_conn *pc;
	char *client_addr;		/* normalised; NULL: unix socket or unknown */
	char *client_name;		/* NULL when the MTA has none */
	char *helo;
	char *daemon;
	char *queue_id;
	char *sender;			/* per message, without <> */
	char *rcpt;			/* the current recipient */
	char *auth_user;
	unsigned long size;		/* SIZE= at MAIL FROM; 0 none */
	unsigned long received;		/* header and body bytes passed on */
	int size_counted;		/* body or eom reached: received is the size */
	int helo_seen;
	int has_held;			/* a verdict from connect waits for a reply stage */
	unsigned long noreply;		/* SMFIP_NR_* the MTA agreed to */
	struct pol_verdict held;
	char *quarantine;		/* reason to quarantine at eom, or NULL */
	const struct dnsl_resolver *dns;	/* DNS lists' resolver, or NULL */
};

/* A new session on policy p (takes its own reference), counting in st. */
struct session *sess_new(struct policy *p, struct store *st);

/* Free a session and everything it owns; NULL is fine. */
void sess_free(struct session *s);

/* Replace an owned string field with a copy of value (NULL clears it). */
void sess_set(char **field, const char *value);

/* Forget the message: sender, recipient, auth, size, queue id, quarantine. */
void sess_msg_reset(struct session *s);

/* Set an owned field from an SMTP path argument ("<a@b>" -> "a@b"). */
void sess_path(char **field, const char *arg);

/* Set the sender and SIZE= from MAIL FROM's arguments (argv[0] the path). */
void sess_sender(struct session *s, char **argv);

/* Count n more bytes of the message (headers or body) as received. */
void sess_count(struct session *s, size_t n);

/* Fill env with borrowed pointers into s, valid until s changes.  Its size
 * is the client's SIZE= until the body, then the bytes received: the client
 * declares the size it is refused for at MAIL, never the size it pays. */
void sess_env(const struct session *s, struct pol_env *env);

/* The time the engine is given: CLOCK_MONOTONIC in milliseconds. */
uint64_t sess_now_ms(void);

/* The wall clock in milliseconds, as state files hold their deadlines:
 * whole seconds would move every saved counter up to a second later. */
int64_t sess_wall_ms(void);

#endif
