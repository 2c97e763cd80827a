/*
 * replies.c: the catalogue of reply codes, the built-in named replies,
 * validation of the replies a policy writes, and rendering with %{macro}
 * values (see replies.h for the contract).
 *
 * Nothing here keeps mutable state: the catalogue and the built-ins are
 * constant tables, and every function works on its arguments only, so all
 * of it is safe to call from any number of threads.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replies.h"
#include "text.h"
#include "xmalloc.h"

/*
 * Bound on a rendered line: its length plus its number of '%' (each one is
 * doubled by reply_escape).  The 12 bytes spare leave room for the "550
 * 5.7.1 " that precedes the text on the wire, so neither libmilter's 980
 * bytes of text nor a line with its codes ever overflows.
 */
#define RENDER_MAX	(REPLY_LINE_MAX - 12)


/*
 * The catalogue, by code.  The words are ours; the enhanced codes are the
 * ones RFC 3463 and common practice pair with each code.
 */
static const struct reply_info catalogue[] = {
	{ 211, "2.0.0",
	  "A system status or help reply: the server answers a request for "
	  "information about itself. No mail is involved.",
	  "Nobody's: nothing went wrong.",
	  "Nothing to do. Read the text if you asked for it." },
	{ 214, "2.0.0",
	  "A help message: the server answers HELP, usually with the "
	  "commands it knows or where its documentation is.",
	  "Nobody's: nothing went wrong.",
	  "Nothing to do. It is meant for a person at a terminal." },
	{ 220, "2.0.0",
	  "The server is ready: the greeting when a client connects, or the "
	  "go-ahead to start TLS after STARTTLS.",
	  "Nobody's: nothing went wrong.",
	  "Nothing to do; the client goes on with EHLO (or with the TLS "
	  "handshake)." },
	{ 221, "2.0.0",
	  "The server closes the connection, as asked: the reply to QUIT.",
	  "Nobody's: the session ended normally.",
	  "Nothing to do. Mail accepted earlier in the session is on its "
	  "way." },
	{ 250, "2.0.0",
	  "The command was accepted. After the end of DATA it means the "
	  "server took responsibility for the message: it is queued for "
	  "delivery.",
	  "Nobody's: nothing went wrong.",
	  "Nothing to do. If the mail never arrived after a 250, look at the "
	  "receiving side's logs (the queue ID in the reply names it), not "
	  "the sender's." },
	{ 251, "2.1.5",
	  "The recipient is accepted although it is not on this server: the "
	  "server will forward the mail to the address it names.",
	  "Nobody's: nothing went wrong.",
	  "Nothing to do; update the address you keep if the reply gives a "
	  "new one." },
	{ 252, "2.1.5",
	  "The server cannot verify the recipient (VRFY) but will accept "
	  "mail for it and try to deliver.",
	  "Nobody's: many servers answer VRFY this way so that addresses "
	  "cannot be harvested.",
	  "Nothing to do; send the mail. A later bounce, if any, says "
	  "whether the address exists." },
	{ 354, "",
	  "The server is ready for the message after DATA: the client sends "
	  "the headers and body and ends them with a line holding only a "
	  "dot.",
	  "Nobody's: nothing went wrong.",
	  "Nothing to do. The server's verdict on the message comes in the "
	  "reply after the final dot." },
	{ 421, "4.7.0",
	  "The server will not go on with this session and closes the "
	  "connection: it is shutting down, overloaded, or this client "
	  "connects more often than it allows.",
	  "The receiving server's, or the sending client's when it connects "
	  "too often. Either way the condition is temporary.",
	  "Nothing to fix in the message. The sending server keeps it queued "
	  "and tries again later; if this lasts for hours, tell the "
	  "postmaster of the receiving domain." },
	{ 450, "4.7.1",
	  "The request is refused for now. The mailbox may be busy or "
	  "unavailable, or a local policy (greylisting, a rate limit, a "
	  "temporary block) asks the client to come back later.",
	  "No lasting fault on either side: the receiving server asks for a "
	  "delay.",
	  "Keep the message queued and retry later, as every real mail "
	  "server does on its own. Only a client that never retries loses "
	  "the mail." },
	{ 451, "4.3.0",
	  "The server ran into a problem of its own while handling the "
	  "request: a lookup failed (4.4.3: a DNS list did not answer), a "
	  "database or a filter did not answer, or a disk was not "
	  "writable. With 4.7.1 it is greylisting: a first attempt from an "
	  "unknown sender is deferred on purpose, and a retry after the "
	  "delay the text gives is accepted.",
	  "The receiving server's (greylisting: nobody's, a deliberate "
	  "delay).",
	  "Nothing is wrong with the message. Keep it queued and retry; if "
	  "the error lasts more than a few hours, tell the postmaster of the "
	  "receiving domain." },
	{ 452, "4.5.3",
	  "The server cannot take more in this transaction: too many "
	  "recipients for one message or for one period of time, or not "
	  "enough storage just now.",
	  "Usually the sender's volume; sometimes the receiving server's "
	  "storage.",
	  "Recipients already accepted are fine. Send to the others in a new "
	  "transaction later; mail servers do this by themselves." },
	{ 453, "4.7.0",
	  "Not a code RFC 5321 defines. milter-policy uses it to say that "
	  "the client or the sender has sent more messages than this server "
	  "accepts in a given time.",
	  "The sender's: the sending rate is above the receiving site's "
	  "limit.",
	  "Keep the message queued and retry after the delay the reply "
	  "gives. If this volume is legitimate, ask the receiving site to "
	  "raise the limit." },
	{ 454, "4.7.0",
	  "A security step failed for now: TLS could not be started, or "
	  "authentication could not be checked because of a temporary "
	  "problem on the server.",
	  "Usually the receiving server's.",
	  "Retry later. If it persists, check the client's TLS and "
	  "authentication settings, and tell the receiving site's "
	  "postmaster." },
	{ 455, "4.5.4",
	  "The server cannot accept the parameters of MAIL FROM or RCPT TO "
	  "just now (such as a SIZE= it cannot take at the moment).",
	  "Usually the receiving server's: a temporary condition on its "
	  "side.",
	  "Keep the message queued and retry later; if it lasts, tell the "
	  "receiving site's postmaster." },
	{ 500, "5.5.2",
	  "The server did not recognise the command, or the line was too "
	  "long or malformed.",
	  "The sending client's: its software, or a device in between (a "
	  "firewall that rewrites SMTP) sent something the server cannot "
	  "read.",
	  "Check or update the sending software; turn off any SMTP "
	  "inspection on firewalls in between." },
	{ 501, "5.5.2",
	  "The command was understood but its arguments were not: a "
	  "malformed address, a bad HELO name, or an unknown or badly "
	  "written parameter.",
	  "The sending client's: how it writes the address or the command.",
	  "Correct the address or the client's configuration. Sending the "
	  "same command again fails the same way." },
	{ 502, "5.5.1",
	  "The server knows the command but does not offer it.",
	  "The sending client's: it uses a command the server did not "
	  "announce.",
	  "Check the client's settings; it should only use what the server "
	  "lists in its reply to EHLO." },
	{ 503, "5.5.1",
	  "The commands came in an order the server does not accept, such "
	  "as RCPT before MAIL, or DATA without any accepted recipient.",
	  "The sending client's, often after an earlier command was "
	  "refused.",
	  "Look at the reply to the earlier command: it usually holds the "
	  "real reason." },
	{ 504, "5.5.4",
	  "The command is known but one of its parameters is not supported, "
	  "such as an AUTH mechanism the server does not offer.",
	  "The sending client's: it asked for something the server did not "
	  "announce.",
	  "Configure the client to use only what the server lists in its "
	  "reply to EHLO (for AUTH, a mechanism named there)." },
	{ 521, "5.3.2",
	  "This host does not accept mail at all (RFC 7504).",
	  "Nobody's fault: the client is talking to a host that is not a "
	  "mail server for anyone.",
	  "Check the recipient's domain and its MX records; the mail must "
	  "go elsewhere or cannot be delivered." },
	{ 530, "5.7.0",
	  "The server requires authentication, or encryption, before it "
	  "accepts this command.",
	  "The sender's: the client did not log in.",
	  "Configure the mail program to authenticate with its account on "
	  "this server (SMTP AUTH, usually over TLS on port 587), or send "
	  "through a server that accepts the mail without it." },
	{ 534, "5.7.9",
	  "The authentication mechanism the client chose is too weak for "
	  "this server (RFC 4954), such as a plain password where a "
	  "stronger method is required.",
	  "The sender's: the client's settings.",
	  "Choose a stronger mechanism in the mail program, or authenticate "
	  "over TLS so the server accepts the simpler one." },
	{ 535, "5.7.8",
	  "Authentication failed: the user name or the password is wrong, "
	  "or the account may not send.",
	  "The sender's: the credentials.",
	  "Check the user name and password set in the mail program, and "
	  "ask the provider to check the account." },
	{ 538, "5.7.11",
	  "The server requires encryption for the chosen authentication "
	  "mechanism (RFC 4954): the client tried to send a password over "
	  "a connection without TLS.",
	  "The sender's: the client's settings.",
	  "Turn on TLS (STARTTLS, or port 465) in the mail program before "
	  "authenticating; then change the password, since it may have "
	  "crossed the network in clear." },
	{ 550, "5.7.1",
	  "The request is refused for good: the mailbox does not exist or "
	  "is unavailable, or a local policy does not accept this sender, "
	  "client or destination.",
	  "Usually the sender's (the address, the server or the network); "
	  "the text of the reply says which.",
	  "Do not retry unchanged. Check the recipient's address and read "
	  "the text of the reply, which says what was refused and why." },
	{ 551, "5.1.6",
	  "The recipient is not on this server: the mailbox has moved, or "
	  "this server does not handle that address.",
	  "The sender's: the address is out of date or was sent to the "
	  "wrong server.",
	  "Find the recipient's current address and send there." },
	{ 552, "5.3.4",
	  "The message goes over a storage limit: it is larger than this "
	  "server accepts, or the mailbox is over its quota.",
	  "Usually the sender's (the message is too big); sometimes the "
	  "recipient's (a full mailbox).",
	  "Send a smaller message, for example a link instead of a large "
	  "attachment, or ask the recipient to make room." },
	{ 553, "5.1.3",
	  "The address is not acceptable: its syntax is wrong, or this "
	  "server does not allow that mailbox name.",
	  "The sender's: the address as it was written.",
	  "Correct the address: check the spelling, the domain, and that it "
	  "has exactly one '@'." },
	{ 554, "5.7.1",
	  "The transaction failed for good. Servers use it when no more "
	  "precise code fits: a refused connection or a rejected message, "
	  "often for reasons of policy or reputation, such as a client "
	  "address listed on a DNS block list (milter-policy's dnsbl_listed "
	  "reply names the list and quotes its TXT record).",
	  "Usually the sender's: its network, its reputation or the "
	  "message.",
	  "Do not retry unchanged. Read the text of the reply for the "
	  "reason; for a block list, ask the list's operator to delist the "
	  "address, or send through the provider's mail server. If you "
	  "think it is a mistake, tell the receiving site's postmaster some "
	  "other way." },
	{ 555, "5.5.4",
	  "A parameter of MAIL FROM or RCPT TO was not recognised or is not "
	  "supported (such as SIZE= or BODY=).",
	  "The sending client's.",
	  "Check the client's software or settings: it uses an extension "
	  "the server did not announce." },
	{ 556, "5.1.10",
	  "The recipient's domain does not accept mail (RFC 7504), usually "
	  "because it publishes a null MX record.",
	  "Nobody's fault: the domain declares that it receives no mail.",
	  "Check the recipient's address; mail to that domain cannot be "
	  "delivered." },
	{ 557, "5.7.1",
	  "Not a code RFC 5321 defines. milter-policy uses it when the same "
	  "message has been received more often than allowed within a "
	  "time window: usually a mail loop or a bulk resend.",
	  "The sender's: a forwarding loop, an auto-reply, or a script that "
	  "sends the same message again.",
	  "Do not send this message again. Look for a loop between "
	  "forwarding rules or auto-replies, or for a script that "
	  "resends." },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Built-in named replies.  Static: never freed, never written. */
static char *relay_denied_text[] = {
	"Relay access denied for <%{rcpt}>: this server does not relay "
	"mail to that domain for %{client_addr}.",
	"If you have an account here, authenticate (SMTP AUTH) before "
	"sending; otherwise send through your own provider's mail server.",
};
static char *access_denied_text[] = {
	"Access denied: mail from %{client_addr} is refused by this "
	"server's policy (rule %{rule}).",
	"This is a decision on this side, not a fault in your message; if "
	"you think it is a mistake, contact the postmaster of the "
	"recipient's domain some other way.",
};
static char *try_later_text[] = {
	"Mail from %{client_addr} is deferred by this server's policy "
	"(rule %{rule}).",
	"This is temporary and nothing is wrong with your message: keep it "
	"queued and try again later.",
};
static char *too_many_connections_text[] = {
	"Too many connections from %{counted}: at most %{limit} per "
	"%{window}. This server is closing the connection.",
	"Nothing is wrong with your mail; try again in %{retry_after}.",
};
static char *too_many_messages_text[] = {
	"Too many messages from %{counted}: at most %{limit} per "
	"%{window}.",
	"Nothing is wrong with this message; keep it queued and try again "
	"in %{retry_after}.",
};
static char *too_many_recipients_text[] = {
	"Too many recipients from %{counted}: at most %{limit} per "
	"%{window} (rule "
	"%{rule}).",
	"Recipients already accepted are fine; send to the others in "
	"%{retry_after}.",
};
static char *too_many_bytes_text[] = {
	"Too much mail from %{counted}: at most %{limit_bytes} per "
	"%{window}.",
	"Nothing is wrong with this message; keep it queued and try again "
	"in %{retry_after}.",
};
static char *quota_reached_text[] = {
	"Quota reached: at most %{limit} per %{window} (rule %{rule}).",
	"Nothing is wrong with this message; the quota resets at "
	"%{resets}, in %{retry_after}.",
};
static char *message_too_big_text[] = {
	"Message too big: it is larger than this server accepts (rule "
	"%{rule}).",
	"Make it smaller before sending it again, for example by sharing a "
	"link instead of a large attachment.",
};
static char *too_many_duplicates_text[] = {
	"The same message was already received %{count_times} within "
	"%{window}; this looks like a mail loop or a bulk resend.",
	"This copy is refused. Do not send it again; check forwarding "
	"rules, auto-replies and scripts that resend.",
};
static char *store_unavailable_text[] = {
	"Temporary problem on this server: its policy store is "
	"unavailable.",
	"Nothing is wrong with your message; keep it queued and try again "
	"later.",
};
static char *dnsbl_listed_text[] = {
	"Client %{client_addr} is listed on the DNS block list %{dnsbl} "
	"(%{dnsbl_text}).",
	"This is about the reputation of the sending network, not about "
	"your message. Ask the list's operator to delist the address (its "
	"web site says how), or send through your provider's mail server.",
};
static char *dns_unavailable_text[] = {
	"Temporary problem on this server: it could not look up "
	"%{client_addr} on the DNS list %{dnsbl}.",
	"Nothing is wrong with your message; keep it queued and try again "
	"later.",
};
static char *greylisted_text[] = {
	"Greylisted: this server defers the first message from a sender it "
	"does not know yet (%{client_addr}, <%{sender}> to <%{rcpt}>).",
	"Nothing is wrong with the message: the sending server retries by "
	"itself, and a retry after %{retry_after} is accepted.",
};
static char *internal_error_text[] = {
	"Temporary problem on this server: its mail filter hit an internal "
	"error.",
	"Nothing is wrong with your message; keep it queued and try again "
	"later.",
};

#define BUILTIN(name, code, xcode, text) \
	{ name, code, xcode, (int)NELEM(text), text }

static const struct reply builtins[] = {
	BUILTIN("relay_denied", 550, "5.7.1", relay_denied_text),
	BUILTIN("access_denied", 550, "5.7.1", access_denied_text),
	BUILTIN("try_later", 450, "4.7.1", try_later_text),
	BUILTIN("too_many_connections", 421, "4.7.0",
	    too_many_connections_text),
	BUILTIN("too_many_messages", 453, "4.7.0", too_many_messages_text),
	BUILTIN("too_many_recipients", 452, "4.5.3",
	    too_many_recipients_text),
	BUILTIN("too_many_bytes", 452, "4.3.1", too_many_bytes_text),
	BUILTIN("quota_reached", 453, "4.7.0", quota_reached_text),
	BUILTIN("message_too_big", 552, "5.3.4", message_too_big_text),
	BUILTIN("too_many_duplicates", 557, "5.7.1",
	    too_many_duplicates_text),
	BUILTIN("store_unavailable", 451, "4.3.0", store_unavailable_text),
	BUILTIN("internal_error", 451, "4.3.0", internal_error_text),
	BUILTIN("dnsbl_listed", 554, "5.7.1", dnsbl_listed_text),
	BUILTIN("greylisted", 451, "4.7.1", greylisted_text),
	BUILTIN("dns_unavailable", 451, "4.4.3", dns_unavailable_text),
};

enum macro {
	M_CLIENT_ADDR, M_CLIENT_NAME, M_HELO, M_SENDER, M_RCPT, M_AUTH_USER,
	M_RULE, M_LIMIT, M_WINDOW, M_COUNT, M_RETRY_AFTER, M_QUEUE_ID,
	M_COUNT_TIMES, M_LIMIT_BYTES, M_COUNTED, M_RESETS, M_DNSBL,
	M_DNSBL_TEXT, M_NMACROS
};

static const char *const macro_names[M_NMACROS] = {
	"client_addr", "client_name", "helo", "sender", "rcpt", "auth_user",
	"rule", "limit", "window", "count", "retry_after", "queue_id",
	"count_times", "limit_bytes", "counted", "resets", "dnsbl",
	"dnsbl_text",
};

const struct reply_info *
reply_info_find(int code)
{
	size_t i;

	for (i = 0; i < NELEM(catalogue); i++)
		if (catalogue[i].code == code)
			return &catalogue[i];
	return NULL;
}

const struct reply *
reply_builtin(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < NELEM(builtins); i++)
		if (strcmp(builtins[i].name, name) == 0)
			return &builtins[i];
	return NULL;
}

/* The macro named by the len bytes at name, or -1. */
static int
macro_find(const char *name, size_t len)
{
	int m;

	for (m = 0; m < M_NMACROS; m++)
		if (strlen(macro_names[m]) == len &&
		    memcmp(macro_names[m], name, len) == 0)
			return m;
	return -1;
}

/* "client_addr, client_name, ..." for error messages. */
static void
macro_list(char *buf, size_t size)
{
	size_t n = 0;
	int m;

	buf[0] = '\0';
	for (m = 0; m < M_NMACROS && n < size; m++)
		n += snprintf(buf + n, size - n, "%s%s", m ? ", " : "",
		    macro_names[m]);
}

static int
check_code(int code, char *err, size_t errsz)
{
	if (code >= 400 && code <= 599)
		return 0;
	if (code >= 200 && code <= 399)
		text_err(err, errsz, "code %d is a %s reply, not a refusal: a "
		    "reply must be 4xx (temporary failure) or 5xx (permanent "
		    "failure), such as 450 or 550", code,
		    code < 300 ? "success" : "intermediate");
	else
		text_err(err, errsz, "%d is not an SMTP reply code: a reply "
		    "must be 4xx (temporary failure) or 5xx (permanent "
		    "failure), such as 450 or 550", code);
	return -1;
}

/* Length of a run of 1 to 3 digits at s, or 0. */
static size_t
digits3(const char *s)
{
	size_t n = 0;

	while (n < 4 && s[n] >= '0' && s[n] <= '9')
		n++;
	return n <= 3 ? n : 0;
}

/* Non-zero if x is CLASS.SUBJECT.DETAIL, class 4 or 5, the rest 0-999. */
static int
xcode_valid(const char *x)
{
	size_t n;

	if ((x[0] != '4' && x[0] != '5') || x[1] != '.')
		return 0;
	if ((n = digits3(x + 2)) == 0 || x[2 + n] != '.')
		return 0;
	x += 2 + n + 1;
	return (n = digits3(x)) != 0 && x[n] == '\0';
}

static int
check_xcode(int code, const char *x, char *err, size_t errsz)
{
	if (!xcode_valid(x)) {
		text_err(err, errsz, "enhanced status code \"%.40s\" is "
		    "malformed: expected CLASS.SUBJECT.DETAIL such as 5.7.1, "
		    "with class 4 or 5 and subject and detail from 0 to 999",
		    x);
		return -1;
	}
	if (x[0] - '0' != code / 100) {
		text_err(err, errsz, "enhanced status code %s is class %c but "
		    "code %d is class %d: Postfix would replace this reply "
		    "with 451 4.3.5 (server configuration error); use a "
		    "%d.x.x enhanced code with %d", x, x[0], code, code / 100,
		    code / 100, code);
		return -1;
	}
	return 0;
}

/* Validate xcode (NULL or "": the catalogue's default) into out. */
static int
pick_xcode(int code, const char *xcode, char *out, char *err, size_t errsz)
{
	const struct reply_info *info;

	if (xcode != NULL && xcode[0] != '\0') {
		if (check_xcode(code, xcode, err, errsz) < 0)
			return -1;
		snprintf(out, REPLY_XCODE_MAX, "%s", xcode);
	} else if ((info = reply_info_find(code)) != NULL)
		snprintf(out, REPLY_XCODE_MAX, "%s", info->xcode);
	else
		snprintf(out, REPLY_XCODE_MAX, "%d.0.0", code / 100);
	return 0;
}

/* "text" or "text line 3", to say where a problem is. */
static void
line_label(char *buf, size_t size, int i, int nlines)
{
	if (nlines > 1)
		snprintf(buf, size, "text line %d", i + 1);
	else
		snprintf(buf, size, "text");
}

/* Refuse control characters and bytes outside ASCII. */
static int
check_bytes(const char *line, const char *label, char *err, size_t errsz)
{
	const unsigned char *p;

	for (p = (const unsigned char *)line; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			text_err(err, errsz, "%s has a control character (byte "
			    "0x%02x) at column %zu: write plain text, without "
			    "CR, LF or tabs", label, *p,
			    (size_t)(p - (const unsigned char *)line) + 1);
			return -1;
		}
		if (*p >= 0x80) {
			text_err(err, errsz, "%s has a non-ASCII byte (0x%02x) "
			    "at column %zu: SMTP replies are plain ASCII",
			    label, *p,
			    (size_t)(p - (const unsigned char *)line) + 1);
			return -1;
		}
	}
	return 0;
}

/* Every "%{" must close and name a known macro. */
static int
check_macros(const char *line, const char *label, char *err, size_t errsz)
{
	const char *p, *end;
	char known[256];

	for (p = strstr(line, "%{"); p != NULL; p = strstr(end, "%{")) {
		if ((end = strchr(p + 2, '}')) == NULL) {
			text_err(err, errsz, "%s has an unterminated \"%%{\" at "
			    "column %zu: write %%{name}, or drop the brace",
			    label, (size_t)(p - line) + 1);
			return -1;
		}
		if (macro_find(p + 2, (size_t)(end - p - 2)) < 0) {
			macro_list(known, sizeof known);
			text_err(err, errsz, "%s uses unknown macro %%{%.*s}; "
			    "known: %s", label, (int)(end - p - 2 > 40 ? 40 :
			    end - p - 2), p + 2, known);
			return -1;
		}
	}
	return 0;
}

/* A line's size on the wire: its length with every '%' doubled. */
static size_t
escaped_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '%' ? 2 : 1;
	return n;
}

static int
check_line(const char *line, int i, int nlines, char *err, size_t errsz)
{
	char label[32];
	size_t n;

	line_label(label, sizeof label, i, nlines);
	if (line == NULL || line[strspn(line, " ")] == '\0') {
		text_err(err, errsz, "%s is empty: a reply needs words that say "
		    "what happened and what to do next", label);
		return -1;
	}
	if (check_bytes(line, label, err, errsz) < 0 ||
	    check_macros(line, label, err, errsz) < 0)
		return -1;
	if ((n = escaped_len(line)) > RENDER_MAX) {
		text_err(err, errsz, "%s is %zu bytes long (each %% counts "
		    "twice); at most %d fit in one reply line", label, n,
		    RENDER_MAX);
		return -1;
	}
	return 0;
}

static int
check_lines(const char *const *lines, int nlines, char *err, size_t errsz)
{
	int i;

	if (lines == NULL || nlines < 1) {
		text_err(err, errsz, "missing text: a reply needs at least one "
		    "line that says what happened and what to do next");
		return -1;
	}
	if (nlines > REPLY_MAX_LINES) {
		text_err(err, errsz, "text has %d lines; a reply may have at "
		    "most %d", nlines, REPLY_MAX_LINES);
		return -1;
	}
	for (i = 0; i < nlines; i++)
		if (check_line(lines[i], i, nlines, err, errsz) < 0)
			return -1;
	return 0;
}

/* Allocate a reply holding copies of everything; no validation. */
static struct reply *
reply_alloc(const char *name, int code, const char *xcode,
    const char *const *lines, int nlines)
{
	struct reply *r;
	int i;

	r = xcalloc(1, sizeof *r);
	r->name = xstrdup(name);
	r->code = code;
	snprintf(r->xcode, sizeof r->xcode, "%s", xcode);
	r->nlines = nlines;
	r->lines = xcalloc((size_t)nlines, sizeof *r->lines);
	for (i = 0; i < nlines; i++)
		r->lines[i] = xstrdup(lines[i]);
	return r;
}

struct reply *
reply_new(const char *name, int code, const char *xcode,
    const char *const *lines, int nlines, char *err, size_t errsz)
{
	char xc[REPLY_XCODE_MAX];

	if (check_code(code, err, errsz) < 0 ||
	    pick_xcode(code, xcode, xc, err, errsz) < 0 ||
	    check_lines(lines, nlines, err, errsz) < 0)
		return NULL;
	return reply_alloc(name != NULL ? name : "inline", code, xc, lines,
	    nlines);
}

/* The three-digit code at the start of *sp; advances *sp past it. */
static int
parse_code(const char **sp, int *code, char *err, size_t errsz)
{
	const char *s = *sp + strspn(*sp, " ");

	if (digits3(s) != 3 || (s[3] != ' ' && s[3] != '\0')) {
		if (digits3(s) == 3 && s[3] == '-')
			text_err(err, errsz, "\"%.4s\" starts a continuation "
			    "line: write one line here, or a replies entry "
			    "with a list of text lines for a multi-line "
			    "reply", s);
		else
			text_err(err, errsz, "an inline reply must start with "
			    "a three-digit code, then an optional enhanced "
			    "code, then the text, such as \"550 5.7.1 "
			    "Relaying denied\"");
		return -1;
	}
	*code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	*sp = s + 3;
	return check_code(*code, err, errsz);
}

/*
 * An enhanced code after the code, if the next word looks like one (a
 * digit, and a dot before the next space); advances *sp to the text.
 */
static int
parse_xcode(const char **sp, int code, char *xc, char *err, size_t errsz)
{
	const char *s = *sp + strspn(*sp, " ");
	size_t n = strcspn(s, " ");

	xc[0] = '\0';
	if (s[0] >= '0' && s[0] <= '9' && memchr(s, '.', n) != NULL) {
		if (n >= REPLY_XCODE_MAX)
			n = REPLY_XCODE_MAX - 1;	/* malformed anyway */
		memcpy(xc, s, n);
		xc[n] = '\0';
		if (check_xcode(code, xc, err, errsz) < 0)
			return -1;
		s += strcspn(s, " ");
		s += strspn(s, " ");
	}
	*sp = s;
	return 0;
}

struct reply *
reply_parse(const char *s, char *err, size_t errsz)
{
	char xc[REPLY_XCODE_MAX];
	int code;

	if (s == NULL)
		s = "";
	if (parse_code(&s, &code, err, errsz) < 0 ||
	    parse_xcode(&s, code, xc, err, errsz) < 0)
		return NULL;
	if (*s == '\0') {
		text_err(err, errsz, "missing text after the code: a reply "
		    "needs words that say what happened and what to do next, "
		    "such as \"550 5.7.1 Relaying denied\"");
		return NULL;
	}
	return reply_new("inline", code, xc, &s, 1, err, errsz);
}

struct reply *
reply_copy(const struct reply *r)
{
	assert(r != NULL);
	return reply_alloc(r->name, r->code, r->xcode,
	    (const char *const *)r->lines, r->nlines);
}

void
reply_free(struct reply *r)
{
	int i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nlines; i++)
		free(r->lines[i]);
	free(r->lines);
	free(r->name);
	free(r);
}

size_t
reply_escape(const char *text, char *out, size_t outsz)
{
	size_t n = 0, w;

	if (outsz == 0)
		return 0;
	for (; *text != '\0'; text++) {
		w = *text == '%' ? 2 : 1;
		if (n + w > outsz - 1)
			break;
		out[n++] = *text;
		if (w == 2)
			out[n++] = '%';
	}
	out[n] = '\0';
	return n;
}

size_t
reply_duration(unsigned long seconds, char *out, size_t outsz)
{
	static const struct { unsigned long s; const char *name; } units[] = {
		{ 86400, "d" }, { 3600, "h" }, { 60, "min" }, { 1, "s" },
	};
	size_t i, n = 0;
	int k;

	if (outsz == 0)
		return 0;
	snprintf(out, outsz, "0 s");
	for (i = 0; i < NELEM(units) && seconds > 0; i++) {
		if (seconds < units[i].s)
			continue;
		k = snprintf(out + n, outsz - n, "%s%lu %s", n ? " " : "",
		    seconds / units[i].s, units[i].name);
		seconds %= units[i].s;
		if (k < 0 || (size_t)k >= outsz - n)
			break;
		n += (size_t)k;
	}
	return strlen(out);
}

/* A string macro's value, cleaned; NULL (and "" but for sender) unknown. */
static void
string_value(int m, const char *v, char *buf, size_t size)
{
	if (m == M_SENDER && v != NULL && v[0] == '\0')
		v = "<>";
	else if (m == M_DNSBL_TEXT && (v == NULL || v[0] == '\0'))
		v = "the list gives no reason";
	else if (v != NULL && v[0] == '\0')
		v = NULL;
	text_clean(v, buf, size);
}

static void
number_value(int m, const struct pol_vars *vars, char *buf, size_t size)
{
	if (vars == NULL)
		snprintf(buf, size, "unknown");
	else if (m == M_LIMIT)
		snprintf(buf, size, "%lu", vars->limit);
	else if (m == M_COUNT)
		snprintf(buf, size, "%lu", vars->count);
	else if (m == M_RESETS)
		snprintf(buf, size, "%s", vars->resets[0] ? vars->resets :
		    "unknown");
	else if (m == M_WINDOW && vars->period != NULL)
		snprintf(buf, size, "%s", vars->period);
	else if (m == M_WINDOW)
		reply_duration(vars->window_s, buf, size);
	else
		reply_duration(vars->retry_after_s, buf, size);
}

/* "1 time", "2 times"; "1 byte"; what the rule counts. */
static void
worded_value(int m, const struct pol_vars *vars, char *buf, size_t size)
{
	unsigned long n;

	if (vars == NULL || (m == M_COUNTED && vars->counted[0] == '\0')) {
		snprintf(buf, size, "unknown");
		return;
	}
	if (m == M_COUNTED) {
		text_clean(vars->counted, buf, size);
		return;
	}
	n = m == M_COUNT_TIMES ? vars->count : vars->limit;
	snprintf(buf, size, "%lu %s%s", n, m == M_COUNT_TIMES ? "time" : "byte",
	    n == 1 ? "" : "s");
}

static void
macro_value(int m, const struct reply_ctx *ctx, char *buf, size_t size)
{
	const char *const strings[M_NMACROS] = {
		[M_CLIENT_ADDR] = ctx->client_addr,
		[M_CLIENT_NAME] = ctx->client_name,
		[M_HELO] = ctx->helo, [M_SENDER] = ctx->sender,
		[M_RCPT] = ctx->rcpt, [M_AUTH_USER] = ctx->auth_user,
		[M_RULE] = ctx->rule, [M_QUEUE_ID] = ctx->queue_id,
		[M_DNSBL] = ctx->dnsbl, [M_DNSBL_TEXT] = ctx->dnsbl_text,
	};

	if (m == M_LIMIT || m == M_COUNT || m == M_WINDOW ||
	    m == M_RETRY_AFTER || m == M_RESETS)
		number_value(m, ctx->vars, buf, size);
	else if (m == M_COUNT_TIMES || m == M_LIMIT_BYTES || m == M_COUNTED)
		worded_value(m, ctx->vars, buf, size);
	else
		string_value(m, strings[m], buf, size);
}

/* Where a line is rendered: stops, for good, at the first byte that
 * would not fit within RENDER_MAX. */
struct sink {
	char *buf;
	size_t len;
	size_t weight;		/* len plus the number of '%' */
	int full;
};

static void
sink_putc(struct sink *k, char c)
{
	size_t w = c == '%' ? 2 : 1;

	if (k->full || k->weight + w > RENDER_MAX) {
		k->full = 1;
		return;
	}
	k->buf[k->len++] = text_byte(c);
	k->weight += w;
}

static void
sink_puts(struct sink *k, const char *s)
{
	for (; *s != '\0' && !k->full; s++)
		sink_putc(k, *s);
}

static void
render_line(const char *tmpl, const struct reply_ctx *ctx, char *out)
{
	struct sink k = { out, 0, 0, 0 };
	char val[TEXT_VALUE_MAX + 1];
	const char *p, *end;
	int m;

	for (p = tmpl; *p != '\0' && !k.full; p++) {
		if (p[0] == '%' && p[1] == '{' &&
		    (end = strchr(p + 2, '}')) != NULL &&
		    (m = macro_find(p + 2, (size_t)(end - p - 2))) >= 0) {
			macro_value(m, ctx, val, sizeof val);
			sink_puts(&k, val);
			p = end;
		} else
			sink_putc(&k, *p);
	}
	out[k.len] = '\0';
}

int
reply_render(const struct reply *r, const struct reply_ctx *ctx,
    struct reply_text *out)
{
	static const struct reply_ctx none;
	int i;

	assert(r != NULL && out != NULL);
	assert(r->nlines >= 1 && r->nlines <= REPLY_MAX_LINES);
	if (ctx == NULL)
		ctx = &none;
	for (i = 0; i < r->nlines; i++)
		render_line(r->lines[i], ctx, out->line[i]);
	out->nlines = r->nlines;
	return out->nlines;
}
