/*
 * milter_client: the MTA's side of the milter protocol.  The contract is
 * in milter_client.h.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "milter_client.h"
#include "util.h"

#define MC_OUT_FLUSH	(64 * 1024)	/* flush a queue that grows past this */

struct mc_conn {
	int fd;
	int timeout_ms;
	unsigned char *out;		/* queued output */
	size_t outlen, outcap;
	unsigned char *in;		/* read but not yet returned */
	size_t inoff, inlen, incap;
	uint32_t version, actions, protocol;
	char *symlist[MC_STAGES];
	char err[160];
};

/* The steps an MTA may be asked to skip, or not to wait for an answer to. */
static const struct {
	int cmd;
	uint32_t no, nr;
} mc_flags[] = {
	{ SMFIC_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN },
	{ SMFIC_HELO, SMFIP_NOHELO, SMFIP_NR_HELO },
	{ SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL },
	{ SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT },
	{ SMFIC_DATA, SMFIP_NODATA, SMFIP_NR_DATA },
	{ SMFIC_HEADER, SMFIP_NOHDRS, SMFIP_NR_HDR },
	{ SMFIC_EOH, SMFIP_NOEOH, SMFIP_NR_EOH },
	{ SMFIC_BODY, SMFIP_NOBODY, SMFIP_NR_BODY },
	{ SMFIC_UNKNOWN, SMFIP_NOUNKNOWN, SMFIP_NR_UNKN },
};

/* Answers that come before the final one and do not end it. */
static const char mc_modifications[] = {
	SMFIR_ADDRCPT, SMFIR_DELRCPT, SMFIR_ADDRCPT_PAR, SMFIR_ADDHEADER,
	SMFIR_INSHEADER, SMFIR_CHGHEADER, SMFIR_REPLBODY, SMFIR_CHGFROM,
	SMFIR_QUARANTINE, 0
};

static int mc_fail(struct mc_conn *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Records why in c->err; returns STATUS. */
static int
mc_fail(struct mc_conn *c, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	return status;
}

/* ---------------------------------------------------------------- opening */

/* Splits SPEC into a socket address; 0, or -1 with the reason in ERR. */
static int
mc_resolve(const char *spec, struct sockaddr_storage *ss, socklen_t *sslen,
    char *err, size_t errlen)
{
	char host[256], port[16];
	const char *p, *at;
	struct addrinfo hints, *res;
	int e, family = AF_UNSPEC;

	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0 ||
	    spec[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;

		p = spec[0] == '/' ? spec : strchr(spec, ':') + 1;
		memset(un, 0, sizeof *un);
		un->sun_family = AF_UNIX;
		if (strlen(p) >= sizeof un->sun_path) {
			snprintf(err, errlen, "%s: path too long", spec);
			return -1;
		}
		strcpy(un->sun_path, p);
		*sslen = sizeof *un;
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0)
		p = spec + 5, family = AF_INET;
	else if (strncmp(spec, "inet6:", 6) == 0)
		p = spec + 6, family = AF_INET6;
	else {
		snprintf(err, errlen, "%s: not unix:, local:, inet: or inet6:", spec);
		return -1;
	}
	/* libmilter's PORT@HOST, or Postfix's HOST:PORT */
	if ((at = strchr(p, '@')) != NULL)
		e = snprintf(port, sizeof port, "%.*s", (int)(at - p), p) >=
		    (int)sizeof port || snprintf(host, sizeof host, "%s", at + 1) >=
		    (int)sizeof host;
	else if ((at = strrchr(p, ':')) != NULL)
		e = snprintf(host, sizeof host, "%.*s", (int)(at - p), p) >=
		    (int)sizeof host || snprintf(port, sizeof port, "%s", at + 1) >=
		    (int)sizeof port;
	else
		e = 1;
	if (e) {
		snprintf(err, errlen, "%s: want inet:PORT@HOST or inet:HOST:PORT", spec);
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", spec, gai_strerror(e));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * A blocking connect bounded by SO_SNDTIMEO (a non-blocking connect to a
 * unix socket whose backlog is full fails at once with EAGAIN instead of
 * waiting), then non-blocking I/O bounded by poll.
 */
static int
mc_dial(const struct sockaddr_storage *ss, socklen_t sslen, int timeout_ms,
    char *err, size_t errlen)
{
	struct timeval tv = { 0, 0 };
	int fd, one = 1;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (timeout_ms >= 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		if (tv.tv_sec == 0 && tv.tv_usec == 0)
			tv.tv_usec = 1;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	}
	while (connect(fd, (const struct sockaddr *)ss, sslen) == -1) {
		if (errno == EINTR)
			continue;
		snprintf(err, errlen, "connect: %s", errno == EINPROGRESS ||
		    errno == EAGAIN ? "timed out" : strerror(errno));
		close(fd);
		return -1;
	}
	if (ss->ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct mc_conn *
mc_open(const char *spec, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct mc_conn *c;
	int fd;

	if (mc_resolve(spec, &ss, &sslen, err, errlen) == -1 ||
	    (fd = mc_dial(&ss, sslen, timeout_ms, err, errlen)) == -1)
		return NULL;
	if ((c = calloc(1, sizeof *c)) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->timeout_ms = timeout_ms;
	return c;
}

void
mc_close(struct mc_conn *c)
{
	int i;

	if (c == NULL)
		return;
	if (c->outlen > 0)
		(void)mc_flush(c);
	close(c->fd);
	for (i = 0; i < MC_STAGES; i++)
		free(c->symlist[i]);
	free(c->out);
	free(c->in);
	free(c);
}

const char *
mc_error(const struct mc_conn *c)
{
	return c->err;
}

int
mc_fd(const struct mc_conn *c)
{
	return c->fd;
}

void
mc_set_timeout(struct mc_conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

/* --------------------------------------------------------------- raw layer */

/* Makes room for N more bytes in a buffer; 0, or -1 out of memory. */
static int
mc_grow(unsigned char **buf, size_t *cap, size_t used, size_t n)
{
	size_t want = *cap ? *cap : 4096;
	unsigned char *p;

	if (n > SIZE_MAX - used)
		return -1;
	while (want < used + n)
		want = want > SIZE_MAX / 2 ? used + n : want * 2;
	if (want == *cap)
		return 0;
	if ((p = realloc(*buf, want)) == NULL)
		return -1;
	*buf = p;
	*cap = want;
	return 0;
}

/* Waits until the socket is ready for EVENTS. */
static int
mc_wait(struct mc_conn *c, short events)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int n;

	while ((n = poll(&pfd, 1, c->timeout_ms)) == -1 && errno == EINTR)
		;
	if (n == -1)
		return mc_fail(c, MC_ERROR, "poll: %s", strerror(errno));
	if (n == 0)
		return mc_fail(c, MC_TIMEOUT, "no answer within %d ms", c->timeout_ms);
	return MC_OK;
}

int
mc_flush(struct mc_conn *c)
{
	size_t off = 0;
	ssize_t n;
	int st;

	while (off < c->outlen) {
		n = send(c->fd, c->out + off, c->outlen - off, MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			st = errno == EPIPE || errno == ECONNRESET ? MC_CLOSED : MC_ERROR;
			c->outlen = 0;
			return mc_fail(c, st, "write: %s", strerror(errno));
		}
		if ((st = mc_wait(c, POLLOUT)) != MC_OK) {
			memmove(c->out, c->out + off, c->outlen - off);
			c->outlen -= off;
			return st;
		}
	}
	c->outlen = 0;
	return MC_OK;
}

int
mc_send_raw(struct mc_conn *c, const void *buf, size_t len)
{
	if (mc_grow(&c->out, &c->outcap, c->outlen, len) == -1)
		return mc_fail(c, MC_ERROR, "out of memory queueing %zu bytes", len);
	memcpy(c->out + c->outlen, buf, len);
	c->outlen += len;
	return c->outlen >= MC_OUT_FLUSH ? mc_flush(c) : MC_OK;
}

/* Queues a packet whose data is the N parts PART[i] of LEN[i] bytes. */
static int
mc_sendv(struct mc_conn *c, int cmd, const void *const *part,
    const size_t *len, int n)
{
	unsigned char head[5];
	uint32_t total = 1;
	int i, st;

	for (i = 0; i < n; i++) {
		if (len[i] > UINT32_MAX - total)
			return mc_fail(c, MC_PROTO, "packet longer than 4 GB");
		total += (uint32_t)len[i];
	}
	total = htonl(total);
	memcpy(head, &total, 4);
	head[4] = (unsigned char)cmd;
	if ((st = mc_send_raw(c, head, sizeof head)) != MC_OK)
		return st;
	for (i = 0; i < n; i++)
		if ((st = mc_send_raw(c, part[i], len[i])) != MC_OK)
			return st;
	return MC_OK;
}

int
mc_send(struct mc_conn *c, int cmd, const void *data, size_t len)
{
	return mc_sendv(c, cmd, &data, &len, data != NULL && len > 0 ? 1 : 0);
}

/* Reads more bytes into the input buffer. */
static int
mc_fill(struct mc_conn *c)
{
	ssize_t n;
	int st;

	if (c->inoff > 0) {
		memmove(c->in, c->in + c->inoff, c->inlen - c->inoff);
		c->inlen -= c->inoff;
		c->inoff = 0;
	}
	if (c->incap - c->inlen < 4096 &&
	    mc_grow(&c->in, &c->incap, c->inlen, 4096) == -1)
		return mc_fail(c, MC_ERROR, "out of memory reading");
	for (;;) {
		n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
		if (n > 0) {
			c->inlen += (size_t)n;
			return MC_OK;
		}
		if (n == 0)
			return mc_fail(c, MC_CLOSED, "the milter closed the connection");
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return mc_fail(c, MC_CLOSED, "read: %s", strerror(errno));
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return mc_fail(c, MC_ERROR, "read: %s", strerror(errno));
		if ((st = mc_wait(c, POLLIN)) != MC_OK)
			return st;
	}
}

int
mc_read(struct mc_conn *c, struct mc_packet *p)
{
	uint32_t n;
	int st;

	if (c->outlen > 0 && (st = mc_flush(c)) != MC_OK)
		return st;
	while (c->inlen - c->inoff < 4)
		if ((st = mc_fill(c)) != MC_OK)
			return st;
	memcpy(&n, c->in + c->inoff, 4);
	n = ntohl(n);
	if (n == 0 || n > MC_MAX_PACKET)
		return mc_fail(c, MC_PROTO, "packet length %lu", (unsigned long)n);
	if (c->incap < (size_t)n + 4 &&
	    mc_grow(&c->in, &c->incap, c->inlen, (size_t)n + 4) == -1)
		return mc_fail(c, MC_ERROR, "out of memory reading");
	while (c->inlen - c->inoff < (size_t)n + 4)
		if ((st = mc_fill(c)) != MC_OK)
			return st;
	p->cmd = c->in[c->inoff + 4];
	p->data = c->in + c->inoff + 5;
	p->len = n - 1;
	c->inoff += (size_t)n + 4;
	return MC_OK;
}

/* Records a packet that does not end the answer; 1 if it did not. */
static int
mc_note(struct mc_reply *r, const struct mc_packet *p)
{
	if (p->cmd == SMFIR_PROGRESS) {
		r->progress++;
		return 1;
	}
	if (p->cmd == 0 || strchr(mc_modifications, p->cmd) == NULL)
		return 0;
	if (r->nmods < sizeof r->mods - 1)
		r->mods[r->nmods] = (char)p->cmd;
	r->nmods++;
	return 1;
}

int
mc_reply(struct mc_conn *c, struct mc_reply *r)
{
	struct mc_packet p;
	size_t n;
	int st;

	memset(r, 0, sizeof *r);
	do {
		if ((st = mc_read(c, &p)) != MC_OK)
			return st;
	} while (mc_note(r, &p));
	r->action = p.cmd;
	if (p.cmd == SMFIR_REPLYCODE) {
		n = p.len < sizeof r->text ? p.len : sizeof r->text - 1;
		memcpy(r->text, p.data, n);
		r->text[n] = '\0';
	}
	return MC_OK;
}

int
mc_macro(struct mc_conn *c, int cmd, const char *const *nameval)
{
	unsigned char step = (unsigned char)cmd;
	const void *part[65] = { &step };
	size_t len[65] = { 1 };
	int n = 1;

	for (; nameval[0] != NULL && nameval[1] != NULL; nameval += 2) {
		if (n + 2 > 65)
			return mc_fail(c, MC_PROTO, "more than 32 macros at once");
		part[n] = nameval[0];
		len[n++] = strlen(nameval[0]) + 1;
		part[n] = nameval[1];
		len[n++] = strlen(nameval[1]) + 1;
	}
	return mc_sendv(c, SMFIC_MACRO, part, len, n);
}

/* ------------------------------------------------------------- negotiation */

/* The macro lists after the three numbers of the milter's OPTNEG. */
static int
mc_parse_symlists(struct mc_conn *c, const unsigned char *d, size_t len)
{
	uint32_t stage;
	const unsigned char *nul;

	while (len > 0) {
		if (len < 5 || (nul = memchr(d + 4, '\0', len - 4)) == NULL)
			return mc_fail(c, MC_PROTO, "a broken macro list in OPTNEG");
		memcpy(&stage, d, 4);
		stage = ntohl(stage);
		if (stage < MC_STAGES) {
			free(c->symlist[stage]);
			if ((c->symlist[stage] = strdup((const char *)d + 4)) == NULL)
				return mc_fail(c, MC_ERROR, "out of memory");
		}
		len -= (size_t)(nul + 1 - d);
		d = nul + 1;
	}
	return MC_OK;
}

int
mc_negotiate(struct mc_conn *c, uint32_t version, uint32_t actions,
    uint32_t steps)
{
	uint32_t w[3];
	struct mc_packet p;
	int st;

	w[0] = htonl(version ? version : MC_VERSION);
	w[1] = htonl(actions ? actions : MC_ALL_ACTIONS);
	w[2] = htonl(steps ? steps : MC_ALL_STEPS);
	if ((st = mc_send(c, SMFIC_OPTNEG, w, sizeof w)) != MC_OK ||
	    (st = mc_read(c, &p)) != MC_OK)
		return st;
	if (p.cmd != SMFIC_OPTNEG || p.len < sizeof w)
		return mc_fail(c, MC_PROTO, "answer to OPTNEG is %s, %zu bytes",
		    mc_cmd_name(p.cmd, 1), p.len);
	memcpy(w, p.data, sizeof w);
	c->version = ntohl(w[0]);
	c->actions = ntohl(w[1]);
	c->protocol = ntohl(w[2]);
	if (c->version > (version ? version : MC_VERSION) ||
	    (c->actions & ~(actions ? actions : MC_ALL_ACTIONS)) != 0)
		return mc_fail(c, MC_PROTO, "the milter wants version %lu, "
		    "actions 0x%lx: more than offered", (unsigned long)c->version,
		    (unsigned long)c->actions);
	return mc_parse_symlists(c, p.data + sizeof w, p.len - sizeof w);
}

uint32_t
mc_version(const struct mc_conn *c)
{
	return c->version;
}

uint32_t
mc_actions(const struct mc_conn *c)
{
	return c->actions;
}

uint32_t
mc_protocol(const struct mc_conn *c)
{
	return c->protocol;
}

const char *
mc_symlist(const struct mc_conn *c, int stage)
{
	return stage >= 0 && stage < MC_STAGES ? c->symlist[stage] : NULL;
}

/* The negotiated flags of the step CMD: NO when NR is 0, else NR. */
static int
mc_flag_set(const struct mc_conn *c, int cmd, int nr)
{
	size_t i;

	for (i = 0; i < NELEM(mc_flags); i++)
		if (mc_flags[i].cmd == cmd)
			return (c->protocol & (nr ? mc_flags[i].nr :
			    mc_flags[i].no)) != 0;
	return -1;
}

int
mc_skips(const struct mc_conn *c, int cmd)
{
	return mc_flag_set(c, cmd, 0) == 1;
}

int
mc_no_reply(const struct mc_conn *c, int cmd)
{
	if (cmd == SMFIC_ABORT || cmd == SMFIC_QUIT || cmd == SMFIC_QUIT_NC ||
	    cmd == SMFIC_MACRO)
		return 1;
	return mc_flag_set(c, cmd, 1) == 1;
}

/* ------------------------------------------------------------ polite layer */

/* mc_step with the data given in parts. */
static int
mc_stepv(struct mc_conn *c, int cmd, const void *const *part,
    const size_t *len, int n, struct mc_reply *r)
{
	struct mc_reply ignored;
	int st;

	if (r == NULL)
		r = &ignored;
	memset(r, 0, sizeof *r);
	if (mc_skips(c, cmd))
		return MC_SKIPPED;
	if ((st = mc_sendv(c, cmd, part, len, n)) != MC_OK)
		return st;
	return mc_no_reply(c, cmd) ? MC_OK : mc_reply(c, r);
}

int
mc_step(struct mc_conn *c, int cmd, const void *data, size_t len,
    struct mc_reply *r)
{
	return mc_stepv(c, cmd, &data, &len, data != NULL && len > 0 ? 1 : 0, r);
}

/* A step whose data is N strings, each with its NUL. */
static int
mc_step_strings(struct mc_conn *c, int cmd, const char *const *s, int n,
    struct mc_reply *r)
{
	const void *part[64];
	size_t len[64];
	int i;

	if (n > 64)
		return mc_fail(c, MC_PROTO, "more than 64 arguments");
	for (i = 0; i < n; i++) {
		part[i] = s[i];
		len[i] = strlen(s[i]) + 1;
	}
	return mc_stepv(c, cmd, part, len, n, r);
}

int
mc_connect(struct mc_conn *c, const char *host, const char *addr,
    unsigned port, struct mc_reply *r)
{
	unsigned char fam[3];
	uint16_t nport = htons((uint16_t)port);
	const void *part[3] = { host, fam, addr };
	size_t len[3] = { strlen(host) + 1, 3, 0 };

	if (addr == NULL) {
		fam[0] = SMFIA_UNKNOWN;
		len[1] = 1;
		return mc_stepv(c, SMFIC_CONNECT, part, len, 2, r);
	}
	fam[0] = addr[0] == '/' ? SMFIA_UNIX :
	    strchr(addr, ':') != NULL ? SMFIA_INET6 : SMFIA_INET;
	memcpy(fam + 1, &nport, 2);
	len[2] = strlen(addr) + 1;
	return mc_stepv(c, SMFIC_CONNECT, part, len, 3, r);
}

int
mc_helo(struct mc_conn *c, const char *name, struct mc_reply *r)
{
	return mc_step_strings(c, SMFIC_HELO, &name, 1, r);
}

static int
mc_argc(const char *const *argv)
{
	int n = 0;

	while (argv[n] != NULL)
		n++;
	return n;
}

int
mc_mail(struct mc_conn *c, const char *const *argv, struct mc_reply *r)
{
	return mc_step_strings(c, SMFIC_MAIL, argv, mc_argc(argv), r);
}

int
mc_rcpt(struct mc_conn *c, const char *const *argv, struct mc_reply *r)
{
	return mc_step_strings(c, SMFIC_RCPT, argv, mc_argc(argv), r);
}

int
mc_data(struct mc_conn *c, struct mc_reply *r)
{
	return mc_step(c, SMFIC_DATA, NULL, 0, r);
}

int
mc_header(struct mc_conn *c, const char *name, const char *value,
    struct mc_reply *r)
{
	const char *s[2] = { name, value };

	return mc_step_strings(c, SMFIC_HEADER, s, 2, r);
}

int
mc_eoh(struct mc_conn *c, struct mc_reply *r)
{
	return mc_step(c, SMFIC_EOH, NULL, 0, r);
}

int
mc_body(struct mc_conn *c, const void *buf, size_t len, struct mc_reply *r)
{
	const unsigned char *b = buf;
	struct mc_reply own;
	size_t n;
	int st = MC_OK;

	if (r == NULL)
		r = &own;
	memset(r, 0, sizeof *r);
	while (len > 0) {
		n = len < MILTER_CHUNK_SIZE ? len : MILTER_CHUNK_SIZE;
		st = mc_step(c, SMFIC_BODY, b, n, r);
		if (st != MC_OK || (r->action != 0 && r->action != SMFIR_CONTINUE))
			break;
		b += n;
		len -= n;
	}
	return st;
}

int
mc_eom(struct mc_conn *c, struct mc_reply *r)
{
	return mc_step(c, SMFIC_BODYEOB, NULL, 0, r);
}

int
mc_unknown(struct mc_conn *c, const char *line, struct mc_reply *r)
{
	return mc_step_strings(c, SMFIC_UNKNOWN, &line, 1, r);
}

int
mc_abort(struct mc_conn *c)
{
	return mc_send(c, SMFIC_ABORT, NULL, 0);
}

int
mc_quit(struct mc_conn *c)
{
	return mc_send(c, SMFIC_QUIT, NULL, 0);
}

struct mc_name {
	int cmd;
	const char *name;
};

const char *
mc_cmd_name(int cmd, int from_milter)
{
	static const struct mc_name mta[] = {
		{ SMFIC_ABORT, "SMFIC_ABORT" }, { SMFIC_BODY, "SMFIC_BODY" },
		{ SMFIC_CONNECT, "SMFIC_CONNECT" }, { SMFIC_MACRO, "SMFIC_MACRO" },
		{ SMFIC_BODYEOB, "SMFIC_BODYEOB" }, { SMFIC_HELO, "SMFIC_HELO" },
		{ SMFIC_QUIT_NC, "SMFIC_QUIT_NC" }, { SMFIC_HEADER, "SMFIC_HEADER" },
		{ SMFIC_MAIL, "SMFIC_MAIL" }, { SMFIC_EOH, "SMFIC_EOH" },
		{ SMFIC_OPTNEG, "SMFIC_OPTNEG" }, { SMFIC_QUIT, "SMFIC_QUIT" },
		{ SMFIC_RCPT, "SMFIC_RCPT" }, { SMFIC_DATA, "SMFIC_DATA" },
		{ SMFIC_UNKNOWN, "SMFIC_UNKNOWN" }, { 0, NULL }
	}, milter[] = {
		{ SMFIR_ADDRCPT, "SMFIR_ADDRCPT" }, { SMFIR_DELRCPT, "SMFIR_DELRCPT" },
		{ SMFIR_ADDRCPT_PAR, "SMFIR_ADDRCPT_PAR" },
		{ SMFIR_SHUTDOWN, "SMFIR_SHUTDOWN" }, { SMFIR_ACCEPT, "SMFIR_ACCEPT" },
		{ SMFIR_REPLBODY, "SMFIR_REPLBODY" }, { SMFIR_CONTINUE, "SMFIR_CONTINUE" },
		{ SMFIR_DISCARD, "SMFIR_DISCARD" }, { SMFIR_CHGFROM, "SMFIR_CHGFROM" },
		{ SMFIR_CONN_FAIL, "SMFIR_CONN_FAIL" },
		{ SMFIR_ADDHEADER, "SMFIR_ADDHEADER" },
		{ SMFIR_INSHEADER, "SMFIR_INSHEADER" },
		{ SMFIR_SETSYMLIST, "SMFIR_SETSYMLIST" },
		{ SMFIR_CHGHEADER, "SMFIR_CHGHEADER" },
		{ SMFIR_PROGRESS, "SMFIR_PROGRESS" },
		{ SMFIR_QUARANTINE, "SMFIR_QUARANTINE" },
		{ SMFIR_REJECT, "SMFIR_REJECT" }, { SMFIR_SKIP, "SMFIR_SKIP" },
		{ SMFIR_TEMPFAIL, "SMFIR_TEMPFAIL" },
		{ SMFIR_REPLYCODE, "SMFIR_REPLYCODE" },
		{ SMFIC_OPTNEG, "SMFIC_OPTNEG" }, { 0, NULL }
	};
	int i;
	const struct mc_name *t = from_milter ? milter : mta;

	for (i = 0; t[i].name != NULL; i++)
		if (t[i].cmd == cmd)
			return t[i].name;
	return "unknown";
}
