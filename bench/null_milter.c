/*
 * null_milter: the baseline of make bench.  Every callback registered,
 * every step asked for, every answer "continue": what any milter costs the
 * MTA before it decides anything.
 *
 *   bench/null_milter -p unix:/path/to.sock
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static sfsistat
on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx; (void)host; (void)addr;
	return SMFIS_CONTINUE;
}

static sfsistat
on_str(SMFICTX *ctx, char *s)
{
	(void)ctx; (void)s;
	return SMFIS_CONTINUE;
}

static sfsistat
on_unknown(SMFICTX *ctx, const char *s)
{
	(void)ctx; (void)s;
	return SMFIS_CONTINUE;
}

static sfsistat
on_argv(SMFICTX *ctx, char **argv)
{
	(void)ctx; (void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
on_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx; (void)name; (void)value;
	return SMFIS_CONTINUE;
}

static sfsistat
on_ctx(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
on_body(SMFICTX *ctx, unsigned char *b, size_t len)
{
	(void)ctx; (void)b; (void)len;
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = "null-milter", .xxfi_version = SMFI_VERSION,
	.xxfi_connect = on_connect, .xxfi_helo = on_str,
	.xxfi_envfrom = on_argv, .xxfi_envrcpt = on_argv,
	.xxfi_header = on_header, .xxfi_eoh = on_ctx, .xxfi_body = on_body,
	.xxfi_eom = on_ctx, .xxfi_abort = on_ctx, .xxfi_close = on_ctx,
	.xxfi_unknown = on_unknown, .xxfi_data = on_ctx,
};

int
main(int argc, char **argv)
{
	const char *sock = NULL;
	int c;

	while ((c = getopt(argc, argv, "p:")) != -1)
		if (c == 'p')
			sock = optarg;
	if (sock == NULL) {
		fprintf(stderr, "usage: null_milter -p SOCKET\n");
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
