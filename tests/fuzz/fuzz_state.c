/* fuzz_state: state files through the public load path: loaded or refused
 * as corrupt, never a crash; a loaded store still answers, and what it
 * saves loads again with the same counters.
 *
 * Most inputs are wrapped in a valid snapshot (magic, version, record size,
 * key, saved wall clock, the record count and the BLAKE2b checksum), so the
 * records reach the parser instead of stopping at the checksum.  The format
 * is written here, not borrowed from store_memory.c, so the harness follows
 * only the file format.  Input:
 *   byte 0   flags: RAW the rest is the whole file; BADCOUNT a wrong count;
 *            REL record expiry times are small offsets from the saved
 *            wall clock (live counters), not raw 64-bit times; the top
 *            four bits choose max_keys (small: eviction at load)
 *   1..16    the SipHash key
 *   17..24   the saved wall clock
 *   25..     records, 32 bytes each (a partial tail is dropped) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "store.h"

#define F_RAW		1u
#define F_BADCOUNT	2u
#define F_REL		4u

#define HDR	40
#define REC	32
#define SUM	32
#define NOW	5000
#define WALL	1700000000000LL
#define MAXREC	4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
put32(unsigned char *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* A snapshot around the fuzzed records into buf; its length. */
static size_t
wrap(unsigned char *buf, const uint8_t *data, size_t size, unsigned flags)
{
	size_t nrec = (size - 25) / REC, i, len;
	uint64_t saved = get64(data + 17);
	unsigned char *r;

	if (nrec > MAXREC)
		nrec = MAXREC;
	memcpy(buf, "MPSTORE\n", 8);
	put32(buf + 8, 1);
	put32(buf + 12, REC);
	memcpy(buf + 16, data + 1, 16);
	put64(buf + 32, saved);
	memcpy(buf + HDR, data + 25, nrec * REC);
	for (i = 0; (flags & F_REL) && i < nrec; i++) {
		r = buf + HDR + i * REC + 16;
		put64(r, saved + (uint64_t)(int64_t)(int32_t)get64(r));
	}
	len = HDR + nrec * REC;
	put64(buf + len, nrec + ((flags & F_BADCOUNT) ? 1 : 0));
	len += 8;
	crypto_generichash(buf + len, SUM, buf, len, NULL, 0);
	return len + SUM;
}

/* Files on tmpfs when there is one: the save's fsync costs nothing there. */
static void
tmp_path(char *path, size_t size)
{
	snprintf(path, size, "%s/fuzz_state.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
}

static int
put_file(char *path, const void *p, size_t n)
{
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	if (write(fd, p, n) != (ssize_t)n) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

/* Use the loaded store, save it, load the save: the same counters. */
static void
round_trip(struct store *s, size_t max_keys)
{
	char path[64], err[256];
	struct store_req q = { .id = "k", .idlen = 1, .kind = STORE_GCRA,
	    .window_ms = 1000, .rate = 1, .burst = 1, .units = 1 };
	struct store_res res;
	struct store *t;
	int fd;

	store_take(s, &q, NOW, &res);
	q.kind = STORE_WINDOW;
	q.id = "w";
	store_take(s, &q, NOW, &res);
	tmp_path(path, sizeof path);
	if ((fd = mkstemp(path)) < 0)
		return;
	close(fd);
	if (store_save(s, path, NOW, WALL, err, sizeof err) != STORE_OK) {
		unlink(path);
		return;
	}
	t = store_memory_new(max_keys);
	if (store_memory_load(t, path, NOW + 1, WALL, err, sizeof err) !=
	    STORE_LOAD_OK || store_count(t) != store_count(s)) {
		fprintf(stderr, "fuzz_state: a saved store did not load back "
		    "(%zu counters, then %zu): %s\n", store_count(s),
		    store_count(t), err);
		abort();
	}
	unlink(path);
	store_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char buf[HDR + MAXREC * REC + 8 + SUM];
	char path[64], err[256];
	unsigned flags = size > 0 ? data[0] : F_RAW;
	size_t max_keys = (flags >> 4) == 0 ? 1000 : (flags >> 4);
	struct store *s;
	const void *file = data + 1;
	size_t len = size > 0 ? size - 1 : 0;

	if (sodium_init() < 0)
		abort();
	if (!(flags & F_RAW) && size >= 25) {
		len = wrap(buf, data, size, flags);
		file = buf;
	}
	tmp_path(path, sizeof path);
	if (put_file(path, file, len) < 0)
		return 0;
	s = store_memory_new(max_keys);
	if (store_memory_load(s, path, NOW, WALL, err, sizeof err) ==
	    STORE_LOAD_OK)
		round_trip(s, max_keys);
	unlink(path);
	store_free(s);
	return 0;
}
