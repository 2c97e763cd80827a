/*
 * policyd_req.h: one request of Postfix's SMTPD access policy delegation
 * protocol: name=value lines ended by an empty line.  Pure functions, no
 * I/O, no allocation, so tests/fuzz/fuzz_policyd.c can drive them.
 *
 * pd_req_frame() finds where the first request of a buffer ends;
 * pd_req_skip() does the same for a request too big to be kept, a read
 * at a time; pd_req_parse() splits a framed request in place (it writes
 * NULs into the buffer) and points the fields of struct pd_req into it:
 * they stay valid while the buffer is not changed.  Unknown attributes are
 * ignored; a repeated one keeps its last value.  Thread safe.
 */
#ifndef POLICYD_REQ_H
#define POLICYD_REQ_H

#include <stddef.h>

#define PD_REQ_MAX	16384	/* bytes of one request, its empty line included */
#define PD_ATTRS_MAX	256	/* attribute lines in one request (Postfix sends ~30) */
#define PD_VALUE_MAX	2048	/* bytes of one value: Postfix's line_length_limit */

/* The attributes the policy service reads; NULL when the request has none. */
struct pd_req {
	const char *request;		/* must be "smtpd_access_policy" */
	const char *protocol_state;	/* CONNECT, EHLO, HELO, MAIL, RCPT, DATA, END-OF-MESSAGE, ... */
	const char *client_address;
	const char *client_name;
	const char *client_port;
	const char *server_port;
	const char *helo_name;
	const char *sender;
	const char *recipient;
	const char *sasl_username;
	const char *queue_id;
	const char *instance;
	const char *size;
	const char *policy_context;
	int nattrs;
};

/* The length of the first request in buf, its empty line included; 0 when
 * buf holds no complete request yet. */
size_t pd_req_frame(const char *buf, size_t len);

/* For a request being thrown away: scan len more bytes; *linelen carries
 * what it knows of the line under way from call to call (start it at 0).
 * Returns how many bytes end the request (its empty line included), or 0
 * when its end is not in buf. */
size_t pd_req_skip(const char *buf, size_t len, size_t *linelen);

/* Parse a framed request of len bytes (from pd_req_frame) in place.
 * 0 when it is a well-formed smtpd_access_policy request; -1 with the
 * reason in why (a clean, constant text) when it is not. */
int pd_req_parse(char *buf, size_t len, struct pd_req *r, const char **why);

#endif
