/* fuzz_addr: the address and IP helpers and the matchers on any string:
 * the first line is a pattern, the rest a value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *value, out[512], err[256];
	unsigned char ip[16];
	int af, mapped;
	enum match_kind k;

	memcpy(s, data, size);
	s[size] = '\0';
	value = strchr(s, '\n');
	if (value != NULL)
		*value++ = '\0';
	else
		value = s;
	addr_domain(value);
	addr_is_routed(value);
	addr_ip_normalise(value, out, sizeof out);
	addr_normalise(value, out, sizeof out);
	addr_unbracket(value, out, sizeof out);
	addr_ip_parse(value, strlen(value), &af, ip, &mapped);
	for (k = MATCH_CLIENT; k <= MATCH_STRING; k++) {
		struct match_list *l = match_list_new(k);

		if (match_add(l, s, err, sizeof err) == 0) {
			match_list_finish(l);
			match_find(l, value);
		}
		match_list_free(l);
	}
	free(s);
	return 0;
}
