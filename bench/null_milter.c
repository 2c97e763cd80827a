/*
 * null_milter: the baseline of make bench.  Every callback registered,
 * every step asked for, every answer "continue": what any milter costs the
 * MTA before it decides anything.  With -N it asks the MTA not to wait for
 * an answer to any step but the end of the message (SMFIP_NR_*): what those
 * flags could save a milter that has nothing to say at a step.  With
 * -S KB libmilter's threads get stacks of KB kibibytes, as
 * milter.thread_stack gives milter-policy's, instead of the default
 * (the stack ulimit, 8 MiB): what the stack size alone changes.
 *
 *   bench/null_milter [-N] [-S KB] -p unix:/path/to.sock
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

/* What every step but the end of the message answers. */
static sfsistat step_answer = SMFIS_CONTINUE;

static sfsistat
on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx; (void)host; (void)addr;
	return step_answer;
}

static sfsistat
on_str(SMFICTX *ctx, char *s)
{
	(void)ctx; (void)s;
	return step_answer;
}

static sfsistat
on_unknown(SMFICTX *ctx, const char *s)
{
	(void)ctx; (void)s;
	return step_answer;
}

static sfsistat
on_argv(SMFICTX *ctx, char **argv)
{
	(void)ctx; (void)argv;
	return step_answer;
}

static sfsistat
on_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx; (void)name; (void)value;
	return step_answer;
}

static sfsistat
on_ctx(SMFICTX *ctx)
{
	(void)ctx;
	return step_answer;
}

/* The end of the message is always answered. */
static sfsistat
on_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

/* -N: no answer to any step but the end of the message; an MTA that
 * cannot do without them is refused. */
static sfsistat
on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	const unsigned long nr = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL |
	    SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_HDR |
	    SMFIP_NR_EOH | SMFIP_NR_BODY;

	(void)ctx; (void)f0; (void)f2; (void)f3;
	if ((f1 & nr) != nr)
		return SMFIS_REJECT;	/* the MTA cannot do it: say so */
	*pf0 = *pf2 = *pf3 = 0;
	*pf1 = nr;
	return SMFIS_CONTINUE;
}

static sfsistat
on_body(SMFICTX *ctx, unsigned char *b, size_t len)
{
	(void)ctx; (void)b; (void)len;
	return step_answer;
}

static struct smfiDesc desc = {
	.xxfi_name = "null-milter", .xxfi_version = SMFI_VERSION,
	.xxfi_connect = on_connect, .xxfi_helo = on_str,
	.xxfi_envfrom = on_argv, .xxfi_envrcpt = on_argv,
	.xxfi_header = on_header, .xxfi_eoh = on_ctx, .xxfi_body = on_body,
	.xxfi_eom = on_eom, .xxfi_abort = on_eom, .xxfi_close = on_eom,
	.xxfi_unknown = on_unknown, .xxfi_data = on_ctx,
};

/* The stack of every thread started from now on, libmilter's included. */
static int
stack_set(const char *kb)
{
	pthread_attr_t a;
	int e;

	pthread_attr_init(&a);
	e = pthread_attr_setstacksize(&a, strtoul(kb, NULL, 10) * 1024);
	if (e == 0)
		e = pthread_setattr_default_np(&a);
	pthread_attr_destroy(&a);
	if (e != 0)
		fprintf(stderr, "null_milter: -S %s: %s\n", kb, strerror(e));
	return e;
}

int
main(int argc, char **argv)
{
	const char *sock = NULL;
	int c;

	while ((c = getopt(argc, argv, "NS:p:")) != -1)
		if (c == 'p')
			sock = optarg;
		else if (c == 'S' && stack_set(optarg) != 0)
			return 2;
		else if (c == 'N') {
			step_answer = SMFIS_NOREPLY;
			desc.xxfi_negotiate = on_negotiate;
		}
	if (sock == NULL) {
		fprintf(stderr, "usage: null_milter [-N] [-S KB] -p SOCKET\n");
		return 2;
	}
	if (strncmp(sock, "unix:", 5) == 0)
		unlink(sock + 5);
	if (smfi_setconn((char *)sock) == MI_FAILURE ||
	    smfi_register(desc) == MI_FAILURE) {
		fprintf(stderr, "null_milter: cannot use %s\n", sock);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
