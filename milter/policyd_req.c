/* policyd_req.c: the policy protocol's request parser; see policyd_req.h. */
#include <string.h>

#include "policyd_req.h"

size_t
pd_req_frame(const char *buf, size_t len)
{
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i == start || (i == start + 1 && buf[start] == '\r'))
			return i + 1;
		start = i + 1;
	}
	return 0;
}

size_t
pd_req_skip(const char *buf, size_t len, size_t *linelen)
{
	size_t i;

	/* *linelen: 0 nothing on this line yet, 1 only a CR, 2 more */
	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			*linelen = *linelen == 0 && buf[i] == '\r' ? 1 : 2;
		else if (*linelen < 2) {
			*linelen = 0;
			return i + 1;
		} else
			*linelen = 0;
	}
	return 0;
}

/* The field an attribute name fills, or NULL for one we ignore. */
static const char **
req_field(struct pd_req *r, const char *name)
{
	static const struct { const char *name; size_t off; } tab[] = {
#define F(n) { #n, offsetof(struct pd_req, n) }
		F(request), F(protocol_state), F(client_address),
		F(client_name), F(client_port), F(server_port), F(helo_name),
		F(sender), F(recipient), F(sasl_username), F(queue_id),
		F(instance), F(size), F(policy_context),
#undef F
	};
	size_t i;

	for (i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (strcmp(name, tab[i].name) == 0)
			return (const char **)(void *)((char *)r + tab[i].off);
	return NULL;
}

/* One "name=value" line (NUL-terminated, CR dropped); -1 with why. */
static int
req_line(struct pd_req *r, char *line, const char **why)
{
	char *eq = strchr(line, '=');
	const char **field;

	if (eq == NULL || eq == line) {
		*why = eq == NULL ? "a line without \"=\"" : "an attribute without a name";
		return -1;
	}
	*eq = '\0';
	if (strlen(eq + 1) > PD_VALUE_MAX) {
		*why = "a value longer than 2048 bytes";
		return -1;
	}
	if (++r->nattrs > PD_ATTRS_MAX) {
		*why = "more than 256 attributes";
		return -1;
	}
	if ((field = req_field(r, line)) != NULL)
		*field = eq + 1;
	return 0;
}

int
pd_req_parse(char *buf, size_t len, struct pd_req *r, const char **why)
{
	char *line = buf, *nl, *end = buf + len;

	memset(r, 0, sizeof *r);
	if (memchr(buf, '\0', len) != NULL) {
		*why = "a NUL byte";
		return -1;
	}
	for (; line < end && (nl = memchr(line, '\n', end - line)) != NULL;
	    line = nl + 1) {
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (line[0] == '\0')
			break;		/* the empty line: the end */
		if (req_line(r, line, why) < 0)
			return -1;
	}
	if (r->request == NULL) {
		*why = "no request attribute";
		return -1;
	}
	if (strcmp(r->request, "smtpd_access_policy") != 0) {
		*why = "a request other than smtpd_access_policy";
		return -1;
	}
	return 0;
}
