/* fuzz_dupes: a body fed whole and fed in chunks cut where the first byte
 * says gives the same fingerprint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dupes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char a[DUP_FP_LEN], b[DUP_FP_LEN];
	struct dup_body whole, parts;
	size_t step, i;

	if (size < 1)
		return 0;
	step = data[0] % 17 + 1;
	data++;
	size--;
	dup_body_init(&whole);
	dup_body_add(&whole, data, size);
	dup_body_final(&whole, a);
	dup_body_init(&parts);
	for (i = 0; i < size; i += step)
		dup_body_add(&parts, data + i, size - i < step ? size - i : step);
	dup_body_final(&parts, b);
	if (memcmp(a, b, sizeof a) != 0)
		abort();
	return 0;
}
