/* fuzz_state: any bytes as a state file: loaded or refused as corrupt,
 * never a crash; a loaded store still answers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz_state.XXXXXX", err[256];
	struct store *s = store_memory_new(1000);
	struct store_req q = { .id = "k", .idlen = 1, .kind = STORE_GCRA,
	    .window_ms = 1000, .rate = 1, .burst = 1, .units = 1 };
	struct store_res res;
	int fd = mkstemp(path);

	if (fd >= 0 && write(fd, data, size) == (ssize_t)size) {
		close(fd);
		if (store_memory_load(s, path, 5000, 1700000000000LL, err,
		    sizeof err) == STORE_LOAD_OK)
			store_take(s, &q, 5000, &res);
	} else if (fd >= 0)
		close(fd);
	unlink(path);
	store_free(s);
	return 0;
}
