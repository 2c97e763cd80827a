/*
 * policy.h: the engine's public API.
 *
 * A struct policy is a compiled, immutable policy file.  pol_load() builds
 * one or reports every error it finds through the caller's callback and
 * returns NULL; nothing is half loaded.  The policy is reference counted:
 * pol_load() returns it with one reference, each struct pol_conn holds one
 * more, and the last pol_unref() frees it.  pol_ref/pol_unref are thread
 * safe; a policy is read-only after loading, so any number of threads may
 * evaluate against it at once.
 *
 * A struct pol_conn is the engine's state for one SMTP connection (what
 * has been decided, what scope an accept covers).  It belongs to one
 * thread at a time: the caller serialises calls on one connection.
 *
 * struct pol_env is the caller's view of the transaction: every string is
 * borrowed for the duration of one pol_eval() call and may be NULL when the
 * MTA did not say.  Time is always an argument (milliseconds on a clock of
 * the caller's choosing), never read by the engine.
 *
 * The engine never includes libmilter, never logs and never exits except
 * on out-of-memory (xmalloc).
 */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum pol_stage {
	POL_CONNECT, POL_HELO, POL_MAIL, POL_RCPT, POL_DATA,
	POL_HEADER, POL_EOH, POL_BODY, POL_EOM, POL_NSTAGES
};

enum pol_action {
	POL_CONTINUE,		/* no rule decided; go on */
	POL_ACCEPT,		/* accept: stop checking (scope says what) */
	POL_TEMPFAIL,		/* 4xx */
	POL_REJECT,		/* 5xx (421 too, with POL_CLOSE set) */
	POL_DISCARD,		/* accept and drop the message */
	POL_QUARANTINE,		/* accept into the MTA's hold queue */
	POL_ERROR		/* the engine could not decide: see on_error */
};
#define POL_NACTIONS	(POL_ERROR + 1)

enum pol_scope { POL_SCOPE_MESSAGE, POL_SCOPE_CONNECTION };

enum pol_mode { POL_ENFORCE, POL_DRY_RUN };

struct dnsl_resolver;

/* The transaction as the MTA described it; strings borrowed, NULL unknown. */
struct pol_env {
	const char *client_addr;	/* normalised text: "192.0.2.7", "2001:db8::1" */
	const char *client_name;	/* reverse name, or NULL */
	const char *helo;
	const char *daemon;		/* the MTA's {daemon_name} */
	const char *sender;		/* without <>; "" for the null sender */
	const char *rcpt;		/* the current recipient, without <> */
	const char *auth_user;		/* NULL or "" when not authenticated */
	const char *queue_id;
	const char *hdr_name;		/* at POL_HEADER: the current header */
	const char *hdr_value;
	unsigned long size;		/* SIZE= at mail, bytes counted at eom; 0 unknown */
	const void *body;		/* at POL_BODY: this chunk */
	size_t body_len;
	int64_t wall_ms;		/* wall-clock ms, for calendar quotas;
					   0: the engine reads the clock */
	const struct dnsl_resolver *dns;	/* DNS lists (dnsl.h); NULL: unknown */
};

#define POL_COUNTED_MAX 400	/* %{counted}: what a limit rule counts */

/* Numbers a verdict carries for %{limit}, %{window}, %{count}, %{retry_after};
 * counted: "client 192.0.2.7", "sender <>", ... for %{counted} ("" none). */
struct pol_vars {
	unsigned long limit;
	unsigned long window_s;
	unsigned long count;
	unsigned long retry_after_s;
	char counted[POL_COUNTED_MAX];
	const char *period;		/* a quota's: "day", "week", "month"; NULL */
	char resets[48];		/* a quota's: "00:00 CET" */
};

struct reply;
struct store;

#define POL_KEY_MAX 256		/* a counter key as logs show it */
#define POL_DNS_NAME_MAX 254	/* a DNS name, with its terminator */
#define POL_DNS_TEXT_MAX 256	/* a DNS list's TXT record as kept */


/* A decision.  Pointers are borrowed from the policy the pol_conn holds. */
struct pol_verdict {
	enum pol_action action;
	enum pol_stage stage;
	enum pol_scope scope;		/* for POL_ACCEPT */
	enum pol_mode mode;		/* POL_DRY_RUN: a note, never applied */
	int close;			/* 421: the MTA should close the connection */
	const struct reply *reply;	/* code, xcode, text templates; NULL for continue/accept */
	const char *rule;		/* name of the deciding rule, or NULL */
	struct pol_vars vars;
	int over_first;			/* first refusal of this counter: log it once */
	const char *notify;		/* with over_first: the rule's notify address, or NULL; valid while the policy is referenced */
	int evicting;			/* the store began evicting: log it once */
	char key[POL_KEY_MAX];		/* the counter's key, for the log ("" none) */
	char dnsbl[POL_DNS_NAME_MAX];	/* the DNS list that listed the client ("" none) */
	char dnsbl_text[POL_DNS_TEXT_MAX];	/* its TXT record, raw ("" none) */
	const char *greylist;		/* a greylisting rule's step: "new", "early"; NULL none */
};

/* Settings of the milter = { } and state = { } groups the daemon needs. */
/* milter.thread_stack: its bounds, and the default, sized from the
 * deepest stack use measured (README, Performance) with a margin. */
#define POL_STACK_MIN		(64UL << 10)
#define POL_STACK_MAX		(64UL << 20)
#define POL_STACK_DEFAULT	(128UL << 10)

struct pol_settings {
	const char *socket;
	unsigned socket_mode;		/* a unix socket's mode; default 0666 */
	const char *socket_group;	/* its group, or NULL */
	const char *control_socket;	/* ctl's unix socket path, or NULL */
	const char *user;
	const char *syslog_facility;
	int log_level;			/* syslog priority: LOG_ERR .. LOG_DEBUG */
	enum pol_mode mode;
	unsigned long stats_interval_s;
	size_t thread_stack;		/* bytes per libmilter thread; 0: system's */
	enum pol_action on_error;	/* POL_TEMPFAIL or POL_ACCEPT */
	const char *state_file;		/* NULL: counters are not kept across restarts */
	unsigned long save_interval_s;
	unsigned long max_keys;
	enum pol_backend { POL_BACKEND_MEMORY, POL_BACKEND_REDIS } backend;
	struct pol_redis {		/* state.redis = { } */
		const char *server;	/* "HOST:PORT" or "unix:PATH" */
		const char *prefix;
		int db;
		const char *password;
		const char *password_file;
		unsigned long timeout_ms;
		int local;		/* on_error = "local": memory while down */
		const char **sentinels;	/* "HOST:PORT"s, NULL-terminated, or NULL */
		const char *master;	/* with sentinels: the monitored name */
		const char **cluster;	/* seed "HOST:PORT"s, NULL-terminated, or NULL */
	} redis;
	struct pol_policy_service {	/* policy_service = { }: Postfix's policy protocol */
		const char *listen;	/* "unix:/PATH", "inet:PORT@HOST", "inet6:PORT@HOST"; NULL: off */
		unsigned long max_connections;	/* open at once; more are refused */
	} policy_service;
	const char *sendmail;		/* the MTA's sendmail command, for notify */
	unsigned notify_max_per_hour;	/* notify mails an hour in all; 0: none */
	struct pol_metrics {		/* metrics = { }: the Prometheus endpoint */
		const char *listen;	/* "IP:PORT" or "[IPv6]:PORT"; NULL: off */
	} metrics;
	struct pol_dns {		/* dns = { }: the resolver of DNS lists */
		const char *servers;	/* "IP:PORT,..." (c-ares' form); NULL: /etc/resolv.conf */
		unsigned long timeout_ms;	/* per query */
		int tempfail;		/* on_error = "tempfail": unknown tempfails */
		unsigned long cache_size;	/* answers kept at most */
	} dns;
};

struct policy;
struct pol_conn;

/* Receives one "FILE:LINE: message" per error found while loading. */
typedef void pol_error_fn(void *arg, const char *msg);

/* Load and compile a policy file; NULL after reporting every error. */
struct policy *pol_load(const char *path, pol_error_fn *err, void *arg);

/* Take one more reference; returns p. */
struct policy *pol_ref(struct policy *p);

/* Free a NULL-terminated array of strings (state.redis lists); NULL is fine. */
void pol_strv_free(const char **v);

/* Drop a reference; the last one frees the policy.  NULL is fine. */
void pol_unref(struct policy *p);

/* The daemon settings of a loaded policy; valid while p is referenced. */
const struct pol_settings *pol_settings(const struct policy *p);

/* The file a policy was loaded from, and its number of rules. */
const char *pol_path(const struct policy *p);
int pol_rule_count(const struct policy *p);

/* Non-zero if some rule asks a DNS list (then a resolver is worth starting). */
int pol_uses_dns(const struct policy *p);

/* Non-zero if some rule or relay check may need this stage's callback. */
int pol_needs_stage(const struct policy *p, enum pol_stage stage);

/* Non-zero if a rule may answer at this stage.  A stage can be needed
 * only to gather (headers for header keys, the body for fingerprints and
 * byte counts): then the MTA need not wait for an answer there. */
int pol_answers_at(const struct policy *p, enum pol_stage stage);

/* Why rule i (0 .. pol_rule_count - 1) needs the message content (its
 * headers or body), or NULL when the envelope and the size suffice; *name
 * gets the rule's name.  For `-t`: what a door without content cannot serve. */
const char *pol_rule_content(const struct policy *p, int i, const char **name);

/* Values of struct pol_env that only some policies read, so the milter
 * asks the MTA for their macros only then (see pol_needs_values). */
#define POL_NEED_DAEMON		0x01	/* env->daemon */
#define POL_NEED_AUTH_USER	0x02	/* env->auth_user */

/* The POL_NEED_* values some condition, key, reply text or the relay
 * check of p reads; what it does not read may stay NULL in pol_env. */
unsigned pol_needs_values(const struct policy *p);

struct store_req;

/* The calendar period of limit rule `rule` ("day", "week", "month"), or
 * NULL when it has a rate (for ctl show). */
const char *pol_counter_period(const struct policy *p, const char *rule);

/* A window as the policy language writes it, no spaces: 3600 -> "1h". */
void pol_window_text(unsigned long window_s, char *out, size_t outsz);

/* The counter of limit rule `rule` for `key`, written as the log writes
 * it (key values joined by ",", "*" for a rule without keys): its
 * identity into id (POL_ID_MAX bytes) and a look-only request into *look.
 * -1 when there is no such limit rule or the key does not fit its keys.
 * The request carries the key's overrides entry's rate; an entry of 0 or
 * "unlimited" answers POL_COUNTER_ZERO or POL_COUNTER_UNLIMITED (the id is
 * still filled, so reset works).  For `milter-policy ctl show|reset`. */
#define POL_ID_MAX	256
#define POL_COUNTER_ZERO	1	/* an overrides entry of 0: always refused */
#define POL_COUNTER_UNLIMITED	2	/* "unlimited": never refused nor counted */
int pol_counter(const struct policy *p, const char *rule, const char *key,
    unsigned char *id, size_t *idlen, struct store_req *look);

/* The same for a greylisting rule's counter `what`: "grey-seen",
 * "grey-wait", "grey-pass" (KEY: the triplet as the log shows it) or
 * "grey-awl" (KEY: the client's network).  -1 when there is no such
 * greylisting rule or counter, or the key does not fit. */
int pol_grey_counter(const struct policy *p, const char *rule,
    const char *what, const char *key, unsigned char *id, size_t *idlen,
    struct store_req *look);

/* Start a connection's state; it holds a reference to p.  Counters live in
 * st (borrowed: it must outlive the connection; NULL when no rule counts). */
struct pol_conn *pol_conn_new(struct policy *p, struct store *st);

/* Which rules a connection evaluates.  POL_DOOR_ALL: every rule (the
 * default).  Two front doors that serve one transaction split the rules so
 * no unit is counted twice: POL_DOOR_ENVELOPE skips the rules that need
 * the message content (pol_rule_content), POL_DOOR_CONTENT skips the
 * limit rules that do not.  Rules that count nothing run in both. */
enum pol_door { POL_DOOR_ALL, POL_DOOR_ENVELOPE, POL_DOOR_CONTENT };

/* Set the rules a connection evaluates, before its first pol_eval. */
void pol_conn_door(struct pol_conn *c, enum pol_door door);

/* The policy a connection was started on. */
struct policy *pol_conn_policy(const struct pol_conn *c);

/* End a connection's state and drop its reference.  NULL is fine. */
void pol_conn_free(struct pol_conn *c);

/* Receives, during pol_eval(), each verdict the stage reached but does not
 * apply: dry-run verdicts in rule order (mode POL_DRY_RUN: log them as
 * would-...; a dry-run error lets mail through), then the errors of rules a
 * later verdict overruled (action POL_ERROR, mode POL_ENFORCE: log them;
 * on_error is not applied).  v is valid for the call only. */
typedef void pol_note_fn(void *arg, const struct pol_verdict *v);

/* Send a connection's notes to fn(arg, v); NULL, the default, drops them. */
void pol_conn_notes(struct pol_conn *c, pol_note_fn *fn, void *arg);

/* Evaluate one stage: the relay check (at rcpt), then the stage's rules in
 * file order.  Fills *v with the verdict to apply, always enforced:
 * POL_CONTINUE when no rule decided, POL_ERROR when a rule could not decide
 * and no rule after it refused (apply on_error).  Dry-run verdicts and
 * overruled errors go to the note function on the way.  One call per
 * stage (per header, per body chunk). */
void pol_eval(struct pol_conn *c, enum pol_stage stage,
    const struct pol_env *env, uint64_t now_ms, struct pol_verdict *v);

/* The message is over (delivered when accepted != 0, else refused or aborted). */
void pol_msg_end(struct pol_conn *c, int accepted, uint64_t now_ms);

/* describe.c: rule i's name (NULL past the last), whether it is in
 * dry-run mode, and what it needs that a mail log does not hold ("the
 * body", "headers other than Message-ID", "DNS list answers as they were
 * then": replay asks no DNS list), or NULL. */
const char *pol_rule_name(const struct policy *p, int i);
int pol_rule_dry_run(const struct policy *p, int i);
const char *pol_rule_needs_content(const struct policy *p, int i);

/* Stage and action names as they appear in logs and the policy file. */
const char *pol_stage_name(enum pol_stage stage);

/* Print what `milter-policy -t` shows of a loaded policy: each list with
 * its number of entries; with verbose, every setting as parsed and each
 * rule as compiled (conf_show.c).  0, or -1 when the file cannot be read
 * again. */
int pol_show(const struct policy *p, int verbose, FILE *out);
const char *pol_action_name(enum pol_action action);

#endif
