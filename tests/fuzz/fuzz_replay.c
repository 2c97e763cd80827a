/* fuzz_replay: any bytes as a mail log for `milter-policy replay`: each
 * line parsed (milter/replay_log.c) and gathered into transactions
 * (replay_txn.c) that run through a policy with every kind of limit:
 * never a crash, a leak or a read past a line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "policy.h"
#include "replay_log.h"
#include "replay_run.h"
#include "replay_txn.h"
#include "store.h"

static const char policy_text[] =
    "lists = { local_domains = [ \"example.com\" ]; };\n"
    "relay = { local_domains = \"@local_domains\"; };\n"
    "rules = (\n"
    " { name = \"c\"; limit = { count = \"messages\"; per = [ \"client_addr\" ]; rate = \"2/1h\"; }; },\n"
    " { name = \"r\"; limit = { count = \"recipients\"; per = [ \"sender\", \"client_net\" ]; rate = \"3/1m\"; }; },\n"
    " { name = \"b\"; limit = { count = \"bytes\"; per = [ \"auth_user\" ]; rate = \"1000/1h\"; }; },\n"
    " { name = \"k\"; limit = { count = \"connections\"; per = [ \"helo\" ]; rate = \"2/1h\"; }; },\n"
    " { name = \"d\"; duplicates = { of = \"message_id\"; max = 1; window = \"1h\"; }; },\n"
    " { name = \"h\"; when = { helo = \"/^x/\"; }; reply = \"550 5.7.1 no\"; }\n"
    ");\n";

static struct policy *policy;

static void ignore(void *arg, const char *msg) { (void)arg; (void)msg; }
static void f_connect(void *a, struct rtxn_conn *c) { rrun_connect(a, c); }
static void f_message(void *a, struct rtxn_msg *m) { rrun_message(a, m); }
static void f_disconnect(void *a, struct rtxn_conn *c) { rrun_disconnect(a, c); }

static struct policy *
load_policy(void)
{
	char path[] = "/tmp/fuzz_replay.XXXXXX";
	int fd = mkstemp(path);
	struct policy *p;

	if (fd < 0 || write(fd, policy_text, strlen(policy_text)) < 0)
		abort();
	close(fd);
	p = pol_load(path, ignore, NULL);
	unlink(path);
	if (p == NULL)
		abort();
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct rtxn_ops ops = { f_connect, f_message, f_disconnect };
	struct rtxn_stats stats;
	struct syslog_clock clock;
	struct rlog_event ev;
	struct rrun run;
	struct rtxn *t;
	char *text = malloc(size + 1), *line, *next;

	if (text == NULL)
		return 0;
	if (policy == NULL) {
		if (sodium_init() < 0)
			abort();
		policy = load_policy();
	}
	memcpy(text, data, size);
	text[size] = '\0';
	rrun_init(&run, policy, store_memory_new(100), 0);
	t = rtxn_new(&ops, &run, 0, 0);
	syslog_clock_init(&clock, 1796083200);
	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (rlog_parse(line, &clock, &ev) != RLOG_SKIP)
			rtxn_add(t, &ev);
	}
	rtxn_finish(t, &stats);
	rtxn_free(t);
	store_free(run.st);
	rrun_free(&run);
	free(text);
	return 0;
}
