/* fuzz_list: any bytes as a "file:" list, through the public load path:
 * a policy next to it names the list for a condition of every pattern kind
 * (client, host, address, domain, string, header), so each line is parsed
 * as each kind.  An error per bad line or a policy, never a crash or a
 * leak; a loaded policy then answers a session whose values are the
 * list's first line (cut to 256 bytes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy_text[] =
"rules = (\n"
" { name = \"c\"; when = { client = \"file:list\"; }; action = \"reject\"; },\n"
" { name = \"n\"; when = { client_name = \"file:list\"; daemon = \"file:list\"; };\n"
"   action = \"reject\"; },\n"
" { name = \"h\"; when = { helo = \"file:list\"; }; action = \"reject\"; },\n"
" { name = \"s\"; when = { sender = \"file:list\"; sender_domain = \"file:list\";\n"
"   auth_user = \"file:list\"; }; action = \"reject\"; },\n"
" { name = \"r\"; when = { rcpt = \"file:list\"; rcpt_domain = \"file:list\"; };\n"
"   action = \"reject\"; },\n"
" { name = \"x\"; when = { header = { name = \"Subject\"; match = \"file:list\"; }; };\n"
"   action = \"reject\"; }\n"
");\n";

static char dir[64];
static char conf_path[64], list_path[64];

static void
ignore(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static int
put(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "w");
	int rc;

	if (fp == NULL)
		return -1;
	rc = fwrite(p, 1, n, fp) == n ? 0 : -1;
	return fclose(fp) == 0 ? rc : -1;
}

static void
cleanup(void)
{
	unlink(list_path);
	unlink(conf_path);
	rmdir(dir);
}

static void
setup(void)
{
	snprintf(dir, sizeof dir, "%s/fuzz_list.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(conf_path, sizeof conf_path, "%s/policy.conf", dir);
	snprintf(list_path, sizeof list_path, "%s/list", dir);
	if (put(conf_path, policy_text, sizeof policy_text - 1) < 0)
		abort();
	atexit(cleanup);
}

static void
session(struct policy *p, const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t n = nl ? (size_t)(nl - data) : size;
	char v[257];
	struct pol_env env = { .client_addr = v, .client_name = v, .helo = v,
	    .daemon = v, .sender = v, .auth_user = v };
	struct pol_conn *c = pol_conn_new(p, NULL);
	struct pol_verdict vd;
	int s;

	n = n > 256 ? 256 : n;
	memcpy(v, data, n);
	v[n] = '\0';
	for (s = POL_CONNECT; s <= POL_RCPT; s++) {
		env.rcpt = s == POL_RCPT ? v : NULL;
		pol_eval(c, (enum pol_stage)s, &env, 1000, &vd);
	}
	env.rcpt = NULL;
	env.hdr_name = "Subject";
	env.hdr_value = v;
	pol_eval(c, POL_HEADER, &env, 1000, &vd);
	pol_msg_end(c, 0, 1000);
	pol_conn_free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p;

	if (conf_path[0] == '\0')
		setup();
	if (put(list_path, data, size) < 0)
		return 0;
	if ((p = pol_load(conf_path, ignore, NULL)) != NULL) {
		session(p, data, size);
		pol_unref(p);
	}
	return 0;
}
