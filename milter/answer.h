/*
 * answer.h: the one place a verdict becomes what the MTA is told.
 *
 * It renders the reply text, escapes it for libmilter, pairs the reply's
 * class with the SMFIS_* value (4xx with SMFIS_TEMPFAIL, 5xx with
 * SMFIS_REJECT: any other pairing makes libmilter drop the text), applies
 * dry-run and on_error, and writes the one decision line to the log.
 * Called from libmilter callbacks only, on the connection's thread.
 */
#ifndef ANSWER_H
#define ANSWER_H

#include <libmilter/mfapi.h>

#include "session.h"

/* Give a verdict to the MTA and log it; returns the SMFIS_* value. */
sfsistat answer_apply(SMFICTX *ctx, struct session *s, const struct pol_verdict *v);

/* Log a verdict the engine noted but does not apply (pol_note_fn):
 * dry-run ("would-reject ..."), or a rule's error a later rule overruled
 * ("error ... on_error=overruled"). */
void answer_log_note(const struct session *s, const struct pol_verdict *v);

/* Log an error verdict another front door (the policy service) applies,
 * as answer_apply logs the milter's: the decision line with
 * " on_error=accept" or " on_error=tempfail", once per rule and client in
 * a window for a rule's own error, counted in the stats and metrics. */
void answer_log_error(const struct session *s, const struct pol_verdict *v,
    int accepted);

#endif
