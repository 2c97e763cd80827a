/*
 * conf_overrides.c: the parser of a limit rule's overrides file (see
 * overrides.h for the format): one "KEY LIMIT" a line, '#' to the end of a
 * line a comment.  Part of the loader: every bad line is reported with its
 * number and what to write instead, and loading goes on, so -t shows them
 * all.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "conf.h"
#include "overrides.h"
#include "xmalloc.h"

#define OV_LINE_MAX	1024

struct ov_parse {
	struct ov_table *t;
	ov_error_fn *err;
	void *arg;
	int line, nerrors;
};

static void
ov_bad(struct ov_parse *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ov_bad(struct ov_parse *ps, const char *fmt, ...)
{
	char msg[ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ps->nerrors++;
	ps->err(ps->arg, ps->line, msg);
}

/* "500/1d", "0" or "unlimited" into *l; 0, or -1 (reported). */
static int
ov_limit_parse(struct ov_parse *ps, const char *v, struct ov_limit *l)
{
	unsigned long n;
	char *slash;

	memset(l, 0, sizeof *l);
	if (strcmp(v, "unlimited") == 0) {
		l->kind = OV_UNLIMITED;
		return 0;
	}
	if (strcmp(v, "0") == 0) {
		l->kind = OV_ZERO;
		return 0;
	}
	errno = 0;
	n = strtoul(v, &slash, 10);
	if (!isdigit((unsigned char)v[0]) || *slash != '/' || n == 0 ||
	    errno == ERANGE ||
	    conf_parse_duration(slash + 1, &l->window_ms) < 0 ||
	    l->window_ms == 0) {
		ov_bad(ps, "limit \"%.64s\": expected N/DURATION with N at "
		    "least 1 and a unit of s, m, h or d (\"500/1d\"), 0 (refuse "
		    "all) or unlimited", v);
		return -1;
	}
	l->kind = OV_RATE;
	l->rate = n;
	return 0;
}

/* ADDR or ADDR/LEN into the table; 0, or -1 when key is not an IP
 * network at all (a name); 1 when it is one but bad (reported). */
static int
ov_net_add(struct ov_parse *ps, char *key, const struct ov_limit *l)
{
	unsigned char a[16], m[16];
	char *slash = strchr(key, '/'), *end, text[INET6_ADDRSTRLEN];
	long plen;
	int af, max, i;

	if (addr_ip_parse(key, slash ? (size_t)(slash - key) : strlen(key), &af,
	    a, NULL) < 0)
		return -1;
	max = af == AF_INET ? 32 : 128;
	plen = max;
	if (slash != NULL) {
		plen = strtol(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end != '\0' ||
		    plen > max) {
			ov_bad(ps, "network \"%.64s\": the prefix length must be "
			    "0 to %d for IPv%d", key, max, af == AF_INET ? 4 : 6);
			return 1;
		}
	}
	memset(m, 0, sizeof m);
	for (i = 0; i < plen / 8; i++)
		m[i] = a[i];
	if (plen % 8)
		m[i] = a[i] & (unsigned char)(0xff00 >> (plen % 8));
	if (memcmp(m, a, 16) != 0) {
		inet_ntop(af, m, text, sizeof text);
		ov_bad(ps, "network \"%.64s\" has host bits set: write "
		    "%s/%ld", key, text, plen);
		return 1;
	}
	if (ov_add_net(ps->t, af, a, (int)plen, l) < 0)
		ov_bad(ps, "\"%.64s\" is already in the table: keep one line "
		    "for it", key);
	return 1;
}

static int
ov_name_ok(const char *key)
{
	size_t i;

	for (i = 0; key[i] != '\0'; i++)
		if ((unsigned char)key[i] < 0x21 || key[i] == 0x7f)
			return 0;
	return i > 0 && i <= 256;
}

/* One line, NUL-terminated and without its newline. */
static void
ov_line(struct ov_parse *ps, char *s)
{
	char *key, *lim, *extra, *save = NULL, *hash = strchr(s, '#');
	struct ov_limit l;

	if (hash != NULL)
		*hash = '\0';
	if ((key = strtok_r(s, " \t\r\f\v", &save)) == NULL)
		return;		/* blank or a comment */
	lim = strtok_r(NULL, " \t\r\f\v", &save);
	extra = lim ? strtok_r(NULL, " \t\r\f\v", &save) : NULL;
	if (lim == NULL || extra != NULL) {
		ov_bad(ps, "expected KEY LIMIT, e.g. \"alice@example.com "
		    "5000/1d\", \"example.net 0\" or \"192.0.2.0/24 unlimited\"");
		return;
	}
	if (ov_limit_parse(ps, lim, &l) < 0 || ov_net_add(ps, key, &l) >= 0)
		return;
	if (strchr(key, '/') != NULL || !ov_name_ok(key))
		ov_bad(ps, "key \"%.64s\": expected an address, a domain, a "
		    "name, or an IP network written ADDR/LEN", key);
	else if (ov_add_name(ps->t, key, &l) < 0)
		ov_bad(ps, "\"%.64s\" is already in the table: keep one line "
		    "for it", key);
}

struct ov_table *
ov_parse(const char *buf, size_t len, ov_error_fn *err, void *arg,
    int *nerrors)
{
	struct ov_parse ps = { ov_new(), err, arg, 0, 0 };
	char line[OV_LINE_MAX + 1];
	size_t i = 0, n;

	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);

		n = nl ? (size_t)(nl - (buf + i)) : len - i;
		ps.line++;
		if (n > OV_LINE_MAX)
			ov_bad(&ps, "a line longer than %d bytes", OV_LINE_MAX);
		else if (memchr(buf + i, '\0', n) != NULL)
			ov_bad(&ps, "a NUL byte: this is not a text file");
		else {
			memcpy(line, buf + i, n);
			line[n] = '\0';
			ov_line(&ps, line);
		}
		i += n + 1;
	}
	*nerrors = ps.nerrors;
	return ps.t;
}

/* ---- limit = { overrides = "file:PATH"; } ---- */

#define OV_FILE_MAX	(256u << 20)	/* a bigger file is a mistake */

struct ov_report {
	struct conf *cf;
	const char *path;
};

static void
ov_report(void *arg, int line, const char *msg)
{
	struct ov_report *r = arg;
	char out[ERR_MAX + 512];

	snprintf(out, sizeof out, "%s:%d: %s", r->path, line, msg);
	r->cf->nerrors++;
	r->cf->errfn(r->cf->arg, out);
}

/* The whole file, malloc'd, or NULL with errno set. */
static char *
ov_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (fp == NULL)
		return NULL;
	do {
		if (*len == cap) {
			cap = cap ? 2 * cap : 65536;
			buf = xrealloc(buf, cap);
		}
		n = fread(buf + *len, 1, cap - *len, fp);
		*len += n;
	} while (n > 0 && *len < OV_FILE_MAX);
	if (ferror(fp) || *len >= OV_FILE_MAX) {
		free(buf);
		buf = NULL;
		errno = ferror(fp) ? EIO : EFBIG;
	}
	fclose(fp);
	return buf;
}

void
conf_overrides(struct conf *cf, const config_setting_t *s,
    struct ov_table **out)
{
	const char *v = config_setting_get_string(s), *path = v + 5;
	char *full = NULL, *buf;
	struct ov_report r = { cf, NULL };
	size_t len;
	int nerr = 0;

	if (strncmp(v, "file:", 5) != 0 || v[5] == '\0') {
		conf_error(cf, s, "overrides \"%s\": expected \"file:PATH\", a "
		    "file of KEY LIMIT lines", v);
		return;
	}
	if (path[0] != '/' && strrchr(cf->path, '/') != NULL &&
	    asprintf(&full, "%.*s/%s", (int)(strrchr(cf->path, '/') - cf->path),
	    cf->path, path) < 0)
		full = NULL;
	r.path = full ? full : path;
	if ((buf = ov_read(r.path, &len)) == NULL)
		conf_error(cf, s, "cannot read overrides file %s: %s", r.path,
		    strerror(errno));
	else {
		ov_free(*out);
		*out = ov_parse(buf, len, ov_report, &r, &nerr);
	}
	free(buf);
	free(full);
}
