/*
 * policyd_eval.h: one policy-protocol request → the engine's stages → one
 * answer line, for policyd.c.  See policyd.h for the stage mapping and the
 * answers.
 *
 * A struct pd_sess is the engine state of the SMTP session a policy
 * connection is serving (its pol_conn, which holds a reference to the
 * policy the session began on), what has been run for it and what is held.
 * It belongs to the one thread that serves the connection.  A new session
 * (a CONNECT request, another client address or port) starts on the
 * current policy; a reload reaches sessions at their next start.
 */
#ifndef POLICYD_EVAL_H
#define POLICYD_EVAL_H

#include <stddef.h>

#include "policyd_req.h"

#define PD_ANSWER_MAX	640	/* "action=CODE X.Y.Z text\n\n" and its NUL */

struct pd_sess;

/* A session state with nothing run yet; pd_sess_free() frees it. */
struct pd_sess *pd_sess_new(void);

/* Free a session state and drop its policy reference; NULL is fine. */
void pd_sess_free(struct pd_sess *s);

/* Answer a well-formed request: "action=...\n\n" into out (PD_ANSWER_MAX). */
void pd_sess_answer(struct pd_sess *s, const struct pd_req *r, char *out);

/* Answer a malformed request as on_error says, logging why. */
void pd_answer_bad(const char *why, char *out);

#endif
