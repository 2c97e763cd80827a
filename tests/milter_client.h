/*
 * milter_client: the MTA's side of the milter protocol, version 6, for the
 * load generator (bench/milter_load.c) and for tools that test a milter
 * with hostile input.  It speaks to any milter, not only ours.
 *
 * On the wire every packet is a 4-byte length in network order (the
 * command byte included), one command byte (SMFIC_* from the MTA, SMFIR_*
 * from the milter), then the data; strings are NUL-terminated.
 *
 * Two layers:
 *   raw     mc_send (any command, any payload, in any order, at any size),
 *           mc_send_raw (any bytes, even half a packet), mc_read (one
 *           packet), mc_reply (packets up to a final answer).  Nothing
 *           checks the order of commands: a test may send them wrong.
 *   polite  mc_negotiate, then one function per SMTP step that behaves as
 *           an MTA does with the flags the milter asked for: a step the
 *           milter asked to skip (SMFIP_NO*) is not sent and returns
 *           MC_SKIPPED; a step it will not answer (SMFIP_NR_*) is sent and
 *           not waited for.
 *
 * Output is queued and written at the latest before the next read, on
 * mc_flush and on mc_close (as Postfix does, so the macros and the command
 * go out in one write).  Every read and write waits at most the
 * connection's timeout.  SIGPIPE is never raised: a milter that hung up
 * shows as MC_CLOSED or MC_ERROR.
 *
 * Ownership: mc_open allocates a connection, mc_close closes and frees
 * it.  A packet's data from mc_read points into the connection's buffer
 * and stays valid until the next call on that connection.
 * Threads: a connection belongs to one thread at a time; connections share
 * nothing, so one thread per connection needs no lock.
 * Errors: calls return MC_OK (0), MC_SKIPPED (1) or a negative enum
 * mc_status; mc_error says why in words.  After an error other than
 * MC_TIMEOUT the connection is of no further use but mc_close.
 */
#ifndef MILTER_CLIENT_H
#define MILTER_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

enum mc_status {
	MC_OK = 0,
	MC_SKIPPED = 1,		/* the milter asked for this step not to be sent */
	MC_ERROR = -1,		/* a system call failed (mc_error has errno's text) */
	MC_TIMEOUT = -2,	/* nothing within the timeout */
	MC_CLOSED = -3,		/* the milter closed the connection */
	MC_PROTO = -4		/* a malformed or unexpected packet */
};

/* What mc_open offers in mc_negotiate when given 0: all of version 6. */
#define MC_VERSION	6
#define MC_ALL_ACTIONS	SMFI_CURR_ACTS
#define MC_ALL_STEPS	(SMFI_CURR_PROT & ~SMFIP_HDR_LEADSPC)

#define MC_MAX_PACKET	(1024 * 1024 + 16)	/* longest packet mc_read takes */
#define MC_STAGES	7	/* SMFIM_CONNECT .. SMFIM_EOH: macro lists */

struct mc_conn;

struct mc_packet {
	int cmd;			/* SMFIR_* (or SMFIC_OPTNEG) */
	const unsigned char *data;	/* borrowed, see the contract above */
	size_t len;
};

/* The milter's answer to one step. */
struct mc_reply {
	int action;		/* the final SMFIR_*; 0 when none was read */
	char text[1024];	/* SMFIR_REPLYCODE's "550 5.7.1 ...", else "" */
	char mods[64];		/* modification SMFIR_*s before it, in order (cut) */
	unsigned nmods;		/* how many there were */
	unsigned progress;	/* SMFIR_PROGRESS packets seen */
};

/* Connects to SPEC: unix:/PATH, local:/PATH, /PATH, inet:PORT@HOST,
 * inet6:PORT@HOST or inet:HOST:PORT.  TIMEOUT_MS bounds the connect and
 * every later read and write (-1: none).  NULL on failure, with the reason
 * in ERR. */
struct mc_conn *mc_open(const char *spec, int timeout_ms, char *err, size_t errlen);

/* Writes what is queued (best effort), closes and frees; NULL is fine. */
void	mc_close(struct mc_conn *c);

/* The last error in words; "" when there was none. */
const char *mc_error(const struct mc_conn *c);

/* The socket, to poll or shut down half of it. */
int	mc_fd(const struct mc_conn *c);

/* Changes the timeout of later reads and writes. */
void	mc_set_timeout(struct mc_conn *c, int timeout_ms);

/* Raw layer: queues one packet CMD with LEN bytes of DATA, as they are. */
int	mc_send(struct mc_conn *c, int cmd, const void *data, size_t len);

/* Queues LEN bytes as they are: a broken packet, several at once. */
int	mc_send_raw(struct mc_conn *c, const void *buf, size_t len);

/* Writes what is queued. */
int	mc_flush(struct mc_conn *c);

/* Flushes, then reads one packet from the milter into *P. */
int	mc_read(struct mc_conn *c, struct mc_packet *p);

/* Flushes, then reads packets into *R until a final answer: modification
 * actions and SMFIR_PROGRESS are recorded and reading goes on; anything
 * else ends the answer (an unknown command too, in r->action). */
int	mc_reply(struct mc_conn *c, struct mc_reply *r);

/* SMFIC_MACRO for the step CMD: NAMEVAL is name, value, name, value, ...,
 * NULL.  Sent as is, whatever the milter asked for (see mc_symlist). */
int	mc_macro(struct mc_conn *c, int cmd, const char *const *nameval);

/* SMFIC_OPTNEG offering VERSION, ACTIONS (SMFIF_*) and STEPS (SMFIP_*;
 * 0 for each: MC_VERSION, MC_ALL_ACTIONS, MC_ALL_STEPS); reads the
 * milter's answer.  MC_PROTO when it asks for more than was offered. */
int	mc_negotiate(struct mc_conn *c, uint32_t version, uint32_t actions,
	    uint32_t steps);

/* After mc_negotiate: the milter's version, actions and protocol flags. */
uint32_t mc_version(const struct mc_conn *c);
uint32_t mc_actions(const struct mc_conn *c);
uint32_t mc_protocol(const struct mc_conn *c);

/* The macro names (space-separated) the milter asked for at STAGE
 * (SMFIM_CONNECT ... SMFIM_EOH), or NULL when it set no list. */
const char *mc_symlist(const struct mc_conn *c, int stage);

/* True when the negotiated flags say the step CMD is not to be sent. */
int	mc_skips(const struct mc_conn *c, int cmd);

/* True when the negotiated flags say the milter does not answer CMD. */
int	mc_no_reply(const struct mc_conn *c, int cmd);

/* Polite layer: sends CMD with DATA unless the milter asked to skip it
 * (MC_SKIPPED), then reads its answer into *R unless it said it would not
 * answer (then r->action is 0).  R may be NULL.  The functions below build
 * each step's data and call it. */
int	mc_step(struct mc_conn *c, int cmd, const void *data, size_t len,
	    struct mc_reply *r);

/* SMFIC_CONNECT: HOST is the client's name; ADDR an IPv4 or IPv6 address
 * (or a path: a local client), PORT its port; ADDR NULL: unknown. */
int	mc_connect(struct mc_conn *c, const char *host, const char *addr,
	    unsigned port, struct mc_reply *r);
int	mc_helo(struct mc_conn *c, const char *name, struct mc_reply *r);

/* MAIL and RCPT: ARGV is "<address>", then ESMTP arguments, then NULL. */
int	mc_mail(struct mc_conn *c, const char *const *argv, struct mc_reply *r);
int	mc_rcpt(struct mc_conn *c, const char *const *argv, struct mc_reply *r);
int	mc_data(struct mc_conn *c, struct mc_reply *r);
int	mc_header(struct mc_conn *c, const char *name, const char *value,
	    struct mc_reply *r);
int	mc_eoh(struct mc_conn *c, struct mc_reply *r);

/* The body in chunks of at most MILTER_CHUNK_SIZE bytes; stops early when
 * a chunk's answer is not SMFIR_CONTINUE (SMFIR_SKIP included). */
int	mc_body(struct mc_conn *c, const void *buf, size_t len,
	    struct mc_reply *r);

/* SMFIC_BODYEOB: always answered, after any modification actions. */
int	mc_eom(struct mc_conn *c, struct mc_reply *r);
int	mc_unknown(struct mc_conn *c, const char *line, struct mc_reply *r);

/* SMFIC_ABORT (the message is dropped, the connection stays) and
 * SMFIC_QUIT: never answered; queued, written by the next flush. */
int	mc_abort(struct mc_conn *c);
int	mc_quit(struct mc_conn *c);

/* The name of a command or reply byte ("SMFIC_MAIL", "SMFIR_REJECT"). */
const char *mc_cmd_name(int cmd, int from_milter);

#endif
