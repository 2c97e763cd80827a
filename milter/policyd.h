/*
 * policyd.h: the second front door: Postfix's SMTPD access policy
 * delegation protocol (check_policy_service), on the socket that
 * policy_service.listen names, in the milter's process, on the same
 * current policy (current.h), store (state.h) and reload.
 *
 * One thread serves every connection through epoll: it reads, frames and
 * parses requests (policyd_req.h), asks the engine and writes the answer.
 * A connection holds a buffer of at most PD_REQ_MAX bytes and one engine
 * connection state (one SMTP session at a time: Postfix gives each smtpd
 * process its own policy connection).  At most
 * policy_service.max_connections are open; more are closed at once, with a
 * log line.  Out of descriptors, it takes no connection for a second at a
 * time (logged) and serves the ones open.  A connection idle for 10 minutes is closed (Postfix closes
 * its own after smtpd_policy_service_max_idle, 300 s).  The engine is asked
 * on the thread itself: a slow store (Redis timeouts) delays every policy
 * connection by as much.
 *
 * Stages: protocol_state CONNECT, EHLO/HELO, MAIL, RCPT, DATA and
 * END-OF-MESSAGE map onto the engine's stages.  A stage Postfix did not ask
 * about (smtpd_delay_reject = yes asks every list at RCPT) is run, once per
 * session or message, before the one it asks about, so connections are
 * counted at the first request of a session and messages at the first of
 * a message (a new `instance`).  A refusal reached at a stage run that way
 * holds for the rest of the session (connect, helo) or message (mail).
 *
 * Answers: DUNNO (no rule decided, accept, dry-run, on_error = "accept"),
 * "CODE X.Y.Z text" with the lines of a reply joined by one space and cut
 * to 510 bytes (one SMTP reply line), DISCARD, HOLD (quarantine).  A
 * malformed request is logged and answered as on_error says.
 */
#ifndef POLICYD_H
#define POLICYD_H

#include <stdio.h>

#include "policy.h"

/* Bind policy_service.listen (while still root: the socket gets
 * milter.socket_mode and milter.socket_group).  0 when there is nothing
 * to listen on or it listens; -1, logged, when it cannot. */
int policyd_open(const struct pol_settings *ps);

/* Non-zero once policyd_open() listens: from then until the process ends
 * the milter leaves the limits that need no content to the policy service
 * (policy_service is read at start only; a reload does not change it). */
int policyd_listening(void);

/* Serve from a thread of its own: after reload_start (the signal mask)
 * and state_open (the store). */
void policyd_start(void);

/* Stop serving, close every connection and remove the socket; before
 * state_close. */
void policyd_stop(void);

/* For -t: with policy_service.listen set, one line per rule that the
 * policy protocol cannot serve (it needs headers or the body). */
void policyd_check(const struct policy *p, FILE *out);

#endif
