/* fuzz_policyd: the policy service's request parser (milter/policyd_req.c)
 * on any bytes, as the server feeds it: requests framed one after another,
 * and a request too big to keep skipped in pieces of any size. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policyd_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every field the parser set points inside the request it parsed. */
static void
check_fields(const struct pd_req *r, const char *buf, size_t n)
{
	const char *const f[] = {
		r->request, r->protocol_state, r->client_address, r->client_name,
		r->client_port, r->server_port, r->helo_name, r->sender,
		r->recipient, r->sasl_username, r->queue_id, r->instance,
		r->size, r->policy_context,
	};
	size_t i;

	for (i = 0; i < sizeof f / sizeof f[0]; i++)
		assert(f[i] == NULL || (f[i] >= buf && f[i] + strlen(f[i]) < buf + n));
	assert(r->nattrs <= PD_ATTRS_MAX);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	size_t off = 0, n, line = 0, step;
	struct pd_req r;
	const char *why;

	memcpy(buf, data, size);
	buf[size] = '\0';
	while ((n = pd_req_frame(buf + off, size - off)) > 0) {
		assert(off + n <= size);
		if (pd_req_parse(buf + off, n, &r, &why) == 0)
			check_fields(&r, buf + off, n);
		else
			assert(why != NULL && why[0] != '\0');
		off += n;
	}
	/* the rest, skipped as a request too big to keep, in uneven reads */
	step = size > 0 ? (size_t)data[0] % 7 + 1 : 1;
	for (; off < size; off += n) {
		n = size - off < step ? size - off : step;
		if ((n = pd_req_skip(buf + off, n, &line)) == 0)
			n = size - off < step ? size - off : step;
		assert(line <= 2);
	}
	free(buf);
	return 0;
}
