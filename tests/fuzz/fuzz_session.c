/* fuzz_session: SMTP sessions with any envelope and macro values, driven
 * stage by stage through policy.h as the milter's callbacks drive it, on a
 * fixed policy with rules of every kind (every condition, limits of every
 * unit and several keys, duplicates of every fingerprint, the relay check,
 * every action, replies with every macro).  Never a crash; every verdict is
 * well formed and its reply renders to clean lines that fit.
 *
 * Input: NUL-separated fields.  The first three are the client address,
 * its name and {daemon_name}; then each field is one event, its first byte
 * the kind and the rest the value:
 *   C new connection from value   H HELO        A auth_user ("" none)
 *   M MAIL FROM <path>            S SIZE=value  Q queue id
 *   R RCPT TO <path>              h header "Name:value"
 *   B body chunk                  F end of message  X abort
 *   T the clock moves value ms (at most 10^7)
 * MAIL and RCPT paths lose their <> as the milter's do (addr_unbracket).
 * Events come in the order an MTA keeps: a header starts DATA, a body
 * chunk ends the headers, MAIL during a message aborts it; an event that
 * makes no sense where it comes (RCPT before MAIL) is skipped. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "policy.h"
#include "replies.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy_text[] =
"milter = { socket = \"inet:10025@127.0.0.1\"; };\n"
"lists = {\n"
"  nets = [ \"10.0.0.0/8\", \"2001:db8::/32\", \"::ffff:192.0.2.0/120\" ];\n"
"  doms = [ \"example.com\", \".example.com\" ];\n"
"};\n"
"relay = { local_domains = \"@doms\";\n"
"  permit = { client = \"@nets\"; authenticated = true; }; };\n"
"rules = (\n"
" { name = \"trusted\"; when = { client = \"127.0.0.0/8\"; };\n"
"   action = \"accept\"; scope = \"connection\"; },\n"
" { name = \"name\"; when = { client_name = [ \".bad.example\", \"/^dyn-[0-9]+/\" ]; };\n"
"   reply = \"554 5.7.1 %{client_name} [%{client_addr}] %{rule}\"; },\n"
" { name = \"daemon\"; when = { daemon = \"closed\"; }; action = \"tempfail\"; },\n"
" { name = \"helo\"; when = { helo = [ \"localhost\", \"/^\\\\[?127\\\\./\", \"[10.1.2.3]\" ]; };\n"
"   reply = \"helo-reply\"; },\n"
" { name = \"senders\"; when = { sender = [ \"<>\", \"@spam.example\", \"user@\", \"/^(?i)x+@/\" ]; };\n"
"   unless = { authenticated = true; }; action = \"reject\"; },\n"
" { name = \"sdom\"; when = { sender_domain = \"@doms\"; authenticated = false; };\n"
"   reply = \"550 local sender %{sender} from %{client_addr}\"; },\n"
" { name = \"bob\"; when = { auth_user = \"bob\"; size = \">1000\"; }; action = \"discard\"; },\n"
" { name = \"small\"; when = { size = \"<10\"; }; action = \"continue\"; },\n"
" { name = \"eom-size\"; when = { size = \"=4242\"; }; action = \"quarantine\"; stage = \"eom\"; },\n"
" { name = \"abuse\"; when = { rcpt = \"abuse@example.com\"; }; action = \"accept\"; },\n"
" { name = \"rdom\"; when = { rcpt_domain = [ \".example.net\", \"/\\\\.test$/\" ]; };\n"
"   reply = \"dry\"; mode = \"dry-run\"; },\n"
" { name = \"subject\"; when = { header = { name = \"Subject\"; match = [ \"/(?i)v[i1]agra/\", \"hello\" ]; }; };\n"
"   action = \"quarantine\"; },\n"
" { name = \"late\"; action = \"continue\"; stage = \"body\"; },\n"
" { name = \"data\"; when = { sender = \"data@example.org\"; }; action = \"reject\"; stage = \"data\"; },\n"
" { name = \"eoh\"; when = { helo = \"eoh\"; }; action = \"tempfail\"; stage = \"eoh\"; },\n"
" { name = \"conns\"; limit = { count = \"connections\"; per = \"client_addr\"; rate = \"5/1m\"; }; },\n"
" { name = \"msgs\"; limit = { count = \"messages\"; per = [ \"client_net\", \"sender_domain\" ];\n"
"   rate = \"3/1h\"; burst = 4; }; charge = \"attempts\"; },\n"
" { name = \"early\"; stage = \"mail\"; charge = \"none\"; limit = { counter = \"msgs\"; };\n"
"   reply = \"too_many_connections\"; },\n"
" { name = \"rcpts\"; limit = { count = \"recipients\"; per = [ \"auth_user\", \"rcpt_domain\" ];\n"
"   rate = \"4/1m\"; }; reply = \"rcpt-reply\"; },\n"
" { name = \"rcpt1\"; limit = { count = \"recipients\"; per = [ \"rcpt\", \"sender\" ]; rate = \"2/1m\"; }; },\n"
" { name = \"bytes\"; limit = { count = \"bytes\"; per = \"helo\"; rate = \"5000/1m\"; burst = 8000; }; },\n"
" { name = \"hdrkey\"; limit = { count = \"messages\"; per = \"header:X-Key\"; rate = \"2/1m\"; }; },\n"
" { name = \"all\"; limit = { count = \"messages\"; rate = \"50/1s\"; }; action = \"continue\"; },\n"
" { name = \"dup-body\"; duplicates = { of = \"body\"; per = \"client_addr\"; max = 2; window = \"10m\"; }; },\n"
" { name = \"dup-mid\"; duplicates = { of = \"message_id\"; per = [ \"rcpt\" ]; max = 1; window = \"1h\";\n"
"   count_refused = false; }; },\n"
" { name = \"dup-subj\"; duplicates = { of = \"header:Subject\"; per = [ \"sender\", \"rcpt_domain\" ];\n"
"   max = 3; window = \"1m\"; }; reply = \"rcpt-reply\"; }\n"
");\n"
"replies = {\n"
"  helo-reply = { code = 554; xcode = \"5.7.1\"; text = [ \"HELO %{helo} from %{client_addr}\",\n"
"    \"name %{client_name} sender %{sender} rcpt %{rcpt} user %{auth_user}\",\n"
"    \"rule %{rule} queue %{queue_id} %%\" ]; };\n"
"  rcpt-reply = { code = 452; xcode = \"4.5.3\"; text = [ \"%{rcpt} over %{limit} per %{window}\",\n"
"    \"count %{count} retry %{retry_after} %{queue_id}\" ]; };\n"
"  dry = \"550 5.1.1 %{rcpt} %{sender} %{helo}\";\n"
"};\n";

struct sess {
	struct policy *p;
	struct store *st;
	struct pol_conn *c;
	struct pol_env env;
	char *sender, *rcpt;	/* MAIL and RCPT arguments without <> */
	int state;		/* 0 no message, 1 envelope, 2 headers, 3 body */
	uint64_t now;
};

/* An MTA's MAIL or RCPT argument into *slot as the milter takes it. */
static const char *
unbracket(char **slot, const char *arg)
{
	size_t n = addr_unbracket(arg, NULL, 0);

	free(*slot);
	*slot = malloc(n + 1);
	addr_unbracket(arg, *slot, n + 1);
	return *slot;
}

static void
load_error(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "fuzz_session: %s\n", msg);
}

static struct policy *
policy_once(void)
{
	static struct policy *p;
	char path[] = "/tmp/fuzz_session.XXXXXX";
	int fd;

	if (p != NULL)
		return p;
	if ((fd = mkstemp(path)) < 0 ||
	    write(fd, policy_text, sizeof policy_text - 1) !=
	    (ssize_t)(sizeof policy_text - 1))
		abort();
	close(fd);
	p = pol_load(path, load_error, NULL);
	unlink(path);
	if (p == NULL)
		abort();
	return p;
}

/* A rendered line is clean: printable ASCII only, and fits. */
static void
check_reply(const struct sess *s, const struct pol_verdict *v)
{
	struct reply_ctx ctx = { s->env.client_addr, s->env.client_name,
	    s->env.helo, s->env.sender, s->env.rcpt, s->env.auth_user, v->rule,
	    s->env.queue_id, &v->vars };
	struct reply_text t;
	char esc[REPLY_LINE_MAX + 1];
	const char *q;
	int i;

	if ((int)v->action < POL_CONTINUE || v->action > POL_ERROR ||
	    memchr(v->key, '\0', sizeof v->key) == NULL)
		abort();
	if (v->reply == NULL)
		return;
	if (reply_render(v->reply, &ctx, &t) != v->reply->nlines ||
	    t.nlines < 1 || t.nlines > REPLY_MAX_LINES)
		abort();
	for (i = 0; i < t.nlines; i++) {
		for (q = t.line[i]; *q != '\0'; q++)
			if (!isprint((unsigned char)*q))
				abort();
		if (reply_escape(t.line[i], esc, sizeof esc) > REPLY_LINE_MAX)
			abort();
	}
}

static void
eval(struct sess *s, enum pol_stage stage, struct pol_verdict *v)
{
	pol_eval(s->c, stage, &s->env, s->now, v);
	check_reply(s, v);
}

static int
refuses(const struct pol_verdict *v)
{
	return v->action == POL_REJECT || v->action == POL_TEMPFAIL ||
	    v->action == POL_DISCARD || v->action == POL_ERROR;
}

static void
msg_end(struct sess *s, int accepted)
{
	if (s->state > 0)
		pol_msg_end(s->c, accepted, s->now);
	s->state = 0;
	s->env.sender = s->env.rcpt = s->env.queue_id = NULL;
	s->env.size = 0;
}

static void
sess_connect(struct sess *s, const char *addr)
{
	struct pol_verdict v;

	msg_end(s, 0);
	pol_conn_free(s->c);
	s->c = pol_conn_new(s->p, s->st);
	s->env.client_addr = addr;
	s->env.helo = s->env.auth_user = NULL;
	eval(s, POL_CONNECT, &v);
}

/* Move on to stage `to` of the message (DATA, EOH), evaluating each. */
static int
advance(struct sess *s, int to)
{
	struct pol_verdict v;

	if (s->state == 0)
		return -1;
	while (s->state < to) {
		s->env.rcpt = NULL;
		eval(s, s->state == 1 ? POL_DATA : POL_EOH, &v);
		s->state++;
		if (refuses(&v)) {
			msg_end(s, 0);
			return -1;
		}
	}
	return 0;
}

static void
header(struct sess *s, char *f)
{
	struct pol_verdict v;
	char *colon = strchr(f, ':');

	if (advance(s, 2) < 0 || s->state != 2)
		return;
	s->env.hdr_name = f;
	s->env.hdr_value = "";
	if (colon != NULL) {
		*colon = '\0';
		s->env.hdr_value = colon + 1;
	}
	eval(s, POL_HEADER, &v);
	s->env.hdr_name = s->env.hdr_value = NULL;
}

static void
body(struct sess *s, const char *f, size_t len)
{
	struct pol_verdict v;

	if (advance(s, 3) < 0)
		return;
	s->env.body = f;
	s->env.body_len = len;
	eval(s, POL_BODY, &v);
	s->env.body = NULL;
	s->env.body_len = 0;
}

static void
eom(struct sess *s)
{
	struct pol_verdict v;

	if (advance(s, 3) < 0)
		return;
	eval(s, POL_EOM, &v);
	msg_end(s, !refuses(&v));
}

static void
mail(struct sess *s, const char *f)
{
	struct pol_verdict v;

	msg_end(s, 0);
	s->env.sender = unbracket(&s->sender, f);
	s->state = 1;
	eval(s, POL_MAIL, &v);
	if (refuses(&v))
		msg_end(s, 0);
}

static void
event(struct sess *s, char *f, size_t len)
{
	struct pol_verdict v;

	switch (f[0]) {
	case 'C': sess_connect(s, f + 1); break;
	case 'H': s->env.helo = f + 1; if (s->state == 0) eval(s, POL_HELO, &v); break;
	case 'A': s->env.auth_user = f[1] ? f + 1 : NULL; break;
	case 'M': mail(s, f + 1); break;
	case 'S': if (s->state == 1) s->env.size = strtoul(f + 1, NULL, 10); break;
	case 'Q': if (s->state > 0) s->env.queue_id = f + 1; break;
	case 'R': if (s->state == 1) { s->env.rcpt = unbracket(&s->rcpt, f + 1); eval(s, POL_RCPT, &v); } break;
	case 'h': header(s, f + 1); break;
	case 'B': body(s, f + 1, len - 1); break;
	case 'F': eom(s); break;
	case 'X': msg_end(s, 0); break;
	case 'T': s->now += strtoull(f + 1, NULL, 10) % 10000001; break;
	default: break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *f, *end;
	struct sess s = { .p = policy_once(), .now = 1000000 };
	int i;

	memcpy(buf, data, size);
	buf[size] = '\0';
	end = buf + size;
	s.st = store_memory_new(64);
	f = buf;
	for (i = 0; i < 3; i++) {	/* addr, name, daemon */
		const char *v = f < end ? f : "";

		if (i == 1)
			s.env.client_name = *v ? v : NULL;
		if (i == 2)
			s.env.daemon = *v ? v : NULL;
		if (i == 0)
			s.env.client_addr = v;
		f = f < end ? f + strlen(f) + 1 : f;
	}
	sess_connect(&s, s.env.client_addr);
	for (; f < end; f += strlen(f) + 1)
		if (*f != '\0')
			event(&s, f, strlen(f));
	msg_end(&s, 0);
	pol_conn_free(s.c);
	store_free(s.st);
	free(s.sender);
	free(s.rcpt);
	free(buf);
	return 0;
}
