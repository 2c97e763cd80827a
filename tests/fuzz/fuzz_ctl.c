/* fuzz_ctl: any bytes as a control socket command line, given to ctl.c's
 * own command parser (ctl_command) as ctl_serve gives it: at most 1024
 * bytes, cut at the first NUL.  "show" and "reset" reach pol_counter,
 * which parses the KEY against a fixed policy's limit rules (every key
 * kind, compound keys, a rule without keys, a rule that is not a limit).
 * The answer is one line of printable text that starts "ok " or "error "
 * and fits the answer buffer; never a crash or a leak.
 *
 * The seam: milter/ctl.c is compiled into this harness (its parser is
 * static and not separable from the socket code without changing it),
 * with the daemon parts it calls stubbed below: the current policy, the
 * store, the stats line, reload and the log.  Only ctl_command runs; the
 * socket functions are compiled but never called.  If ctl.c comes to call
 * another daemon function, add a stub here. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy_text[] =
"rules = (\n"
" { name = \"all\"; limit = { count = \"messages\"; rate = \"10/1m\"; }; },\n"
" { name = \"addr\"; limit = { count = \"connections\"; per = \"client_addr\"; rate = \"10/1m\"; }; },\n"
" { name = \"net\"; limit = { count = \"messages\"; per = [ \"client_net\", \"helo\" ]; rate = \"10/1m\"; }; },\n"
" { name = \"env\"; limit = { count = \"recipients\"; per = [ \"sender\", \"sender_domain\",\n"
"   \"auth_user\", \"rcpt\", \"rcpt_domain\" ]; rate = \"10/1m\"; }; },\n"
" { name = \"hdr\"; limit = { count = \"bytes\"; per = [ \"header:X-Key\", \"header:Subject\" ];\n"
"   rate = \"1000/1m\"; }; },\n"
" { name = \"via\"; charge = \"none\"; limit = { counter = \"addr\"; }; },\n"
" { name = \"dup\"; duplicates = { of = \"body\"; per = \"client_addr\"; max = 2; window = \"1m\"; }; },\n"
" { name = \"plain\"; when = { helo = \"x\"; }; action = \"reject\"; }\n"
");\n";

static struct policy *fz_policy;
static struct store *fz_store;

/* ---- the daemon parts ctl.c calls ---- */

struct policy *
current_get(void)
{
	return pol_ref(fz_policy);
}

struct store *
state_store(void)
{
	return fz_store;
}

void
stats_line(char *line)
{
	snprintf(line, STATS_LINE - 3, "connections=0 messages=0");
}

int
reload_now(void)
{
	return 0;
}

uint64_t
sess_now_ms(void)
{
	return 1000000;
}

int
listen_socket_live(const char *path)
{
	(void)path;
	return 1;
}

void
log_msg(int prio, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	(void)prio;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
}

/* ---- the harness ---- */

static void
load_error(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "fuzz_ctl: %s\n", msg);
}

static void
setup(void)
{
	char path[] = "/tmp/fuzz_ctl.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, policy_text, sizeof policy_text - 1) !=
	    (ssize_t)(sizeof policy_text - 1))
		abort();
	close(fd);
	fz_policy = pol_load(path, load_error, NULL);
	unlink(path);
	if (fz_policy == NULL)
		abort();
	fz_store = store_memory_new(64);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[CTL_LINE + 1], out[STATS_LINE + 8];
	size_t n = size < CTL_LINE ? size : CTL_LINE, len;
	const char *q;

	if (fz_policy == NULL)
		setup();
	memcpy(line, data, n);
	line[n] = '\0';
	memset(out, 'Z', sizeof out);
	ctl_command(line, out);
	if ((len = strnlen(out, sizeof out)) >= STATS_LINE ||
	    (strncmp(out, "ok ", 3) != 0 && strncmp(out, "error ", 6) != 0))
		abort();
	for (q = out; *q != '\0'; q++)
		if (!isprint((unsigned char)*q))
			abort();
	return 0;
}
