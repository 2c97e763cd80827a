/* mem_snapshot.c: the memory store's state file; see mem_snapshot.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "mem_counter.h"
#include "mem_rate.h"
#include "mem_snapshot.h"
#include "text.h"
#include "xmalloc.h"

#define SNAP_MAGIC	"MPSTORE\n"
#define SNAP_VERSION	2
#define SNAP_HDR	40
#define SNAP_REC	48	/* version 2 */
#define SNAP_REC_V1	32	/* version 1: no rate; still read */
#define SNAP_SUM	32
#define SNAP_TRAILER	(8 + SNAP_SUM)
#define SNAP_CHUNK	2048	/* records per read or write */

/* A snapshot being written: buffered, hashed, first error kept. */
struct out {
	int fd;
	int err;
	size_t len;
	crypto_generichash_state hs;
	unsigned char buf[SNAP_CHUNK * SNAP_REC];
};

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

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- saving ---- */

static void
out_flush(struct out *o)
{
	size_t off = 0;
	ssize_t n;

	while (o->err == 0 && off < o->len) {
		n = write(o->fd, o->buf + off, o->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			o->err = n < 0 ? errno : ENOSPC;
		else
			off += (size_t)n;
	}
	o->len = 0;
}

/* Append p (hashed unless it is the checksum itself). */
static void
out_put(struct out *o, const unsigned char *p, size_t n, int hash)
{
	if (hash)
		crypto_generichash_update(&o->hs, p, n);
	if (o->len + n > sizeof o->buf)
		out_flush(o);
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static int64_t
wall_of(uint64_t t, uint64_t now, int64_t wall)
{
	__int128 w = (__int128)wall + (t - now);

	return w > INT64_MAX ? INT64_MAX : (int64_t)w;
}

static void
save_header(const struct shard_set *set, struct out *o, int64_t wall)
{
	unsigned char h[SNAP_HDR];

	memcpy(h, SNAP_MAGIC, 8);
	put32(h + 8, SNAP_VERSION);
	put32(h + 12, SNAP_REC);
	memcpy(h + 16, set->key, 16);
	put64(h + 32, (uint64_t)wall);
	out_put(o, h, sizeof h, 1);
}

/* Count, flags and the rate a GCRA slot's TAT is in (0, 0 for a window
 * or an unknown rate) into rec. */
static void
rec_rate(const struct slot *sl, unsigned char *rec)
{
	uint64_t rate = 0, window = 0;

	if (!(sl->flags & MC_WINDOW) &&
	    mr_find(MC_TAG(sl->flags), &rate, &window) != 0)
		rate = window = 0;
	put32(rec + 24, sl->count);
	put32(rec + 28, sl->flags & MC_FLAGS);
	put64(rec + 32, rate);
	put64(rec + 40, window);
}

/* Write every live slot; how many. */
static uint64_t
save_records(struct shard_set *set, struct out *o, uint64_t now, int64_t wall)
{
	struct slot *buf = NULL;
	unsigned char rec[SNAP_REC];
	size_t bufcap = 0, cap, i, j;
	uint64_t n = 0;

	for (i = 0; i < set->nshards; i++) {
		cap = shard_copy(&set->shards[i], &buf, &bufcap);
		for (j = 0; j < cap; j++) {
			if (slot_empty(&buf[j]) || buf[j].t <= now)
				continue;
			put64(rec, buf[j].k0);
			put64(rec + 8, buf[j].k1);
			put64(rec + 16, (uint64_t)wall_of(buf[j].t, now, wall));
			rec_rate(&buf[j], rec);
			out_put(o, rec, sizeof rec, 1);
			n++;
		}
	}
	free(buf);
	return n;
}

static void
save_trailer(struct out *o, uint64_t n)
{
	unsigned char cnt[8], sum[SNAP_SUM];

	put64(cnt, n);
	out_put(o, cnt, sizeof cnt, 1);
	crypto_generichash_final(&o->hs, sum, sizeof sum);
	out_put(o, sum, sizeof sum, 0);
	out_flush(o);
}

/* The directory path is in; the caller frees it. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash == NULL ? xstrdup(".") :
	    xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* Best effort: make the rename durable. */
static void
sync_dir(const char *path)
{
	char *dir = dir_of(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

/*
 * Who the mode of dir (st is its stat) lets write there besides its owner:
 * every user, or a group other than root's and this process's; else NULL.
 * Such a writer could plant the state file before a start, with counters
 * and a hash key of their choosing, or take it: even with the sticky bit,
 * so /tmp is refused too.  The owner is not judged: root and the milter's
 * user (milter.user) are the usual ones, and `try`, run as root, reads the
 * directory the milter's user owns.
 */
static const char *
dir_writer(const struct stat *st)
{
	if (st->st_mode & S_IWOTH)
		return "every user";
	if ((st->st_mode & S_IWGRP) && st->st_gid != 0 &&
	    st->st_gid != getegid())
		return "another group";
	return NULL;
}

/* 0, or -1 when others may write path's directory (err says what to do).
 * A directory that cannot be looked at is left to open() to report. */
static int
dir_check(const char *path, char *err, size_t errsz)
{
	char *dir = dir_of(path);
	const char *who;
	struct stat st;
	int rc = 0;

	if (stat(dir, &st) == 0 && (who = dir_writer(&st)) != NULL)
		rc = text_err(err, errsz, "the state directory %s can be "
		    "written by %s: run chmod go-w %s (mode %04o, uid %u, gid "
		    "%u; a writer could replace the counters or read their hash "
		    "key)", dir, who, dir, (unsigned)(st.st_mode & 07777),
		    (unsigned)st.st_uid, (unsigned)st.st_gid);
	free(dir);
	return rc;
}

/* Write the snapshot to fd; errno of the first failure, or 0. */
static int
save_fd(struct shard_set *set, int fd, uint64_t now, int64_t wall)
{
	struct out *o = xmalloc(sizeof *o);
	int err;

	o->fd = fd;
	o->err = fchmod(fd, 0600) < 0 ? errno : 0;
	o->len = 0;
	crypto_generichash_init(&o->hs, NULL, 0, SNAP_SUM);
	save_header(set, o, wall);
	save_trailer(o, save_records(set, o, now, wall));
	if (o->err == 0 && fsync(fd) < 0)
		o->err = errno;
	err = o->err;
	free(o);
	return err;
}

/*
 * A new temporary file beside path, made by this call (mkstemp: O_EXCL,
 * mode 0600): a file or link someone planted there never receives the
 * counters or their key.  Its name is in *tmp; -1 with errno on failure.
 */
static int
tmp_create(const char *path, char **tmp)
{
	size_t len = strlen(path);

	*tmp = xmalloc(len + sizeof ".tmp-XXXXXX");
	memcpy(*tmp, path, len);
	memcpy(*tmp + len, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
	return mkostemp(*tmp, O_CLOEXEC);
}

enum store_result
snap_save(struct shard_set *set, const char *path, uint64_t now_ms,
    int64_t wall_ms, char *err, size_t errsz)
{
	char *tmp;
	int fd, e;

	if (dir_check(path, err, errsz) < 0)
		return STORE_ERROR;
	fd = tmp_create(path, &tmp);
	e = fd < 0 ? errno : save_fd(set, fd, now_ms, wall_ms);
	if (fd >= 0 && close(fd) < 0 && e == 0)
		e = errno;
	if (e == 0 && rename(tmp, path) < 0)
		e = errno;
	if (e != 0 && fd >= 0)
		unlink(tmp);
	if (e == 0)
		sync_dir(path);
	else if (fd < 0)	/* the caller names path: say which file failed */
		text_err(err, errsz, "cannot create a temporary file %s: %s",
		    tmp, strerror(e));
	else
		text_err(err, errsz, "%s", strerror(e));
	free(tmp);
	return e == 0 ? STORE_OK : STORE_ERROR;
}

/* ---- loading ---- */

/* Read exactly n bytes at off: 0, or -1 (errno set; 0 at end of file). */
static int
read_at(int fd, void *buf, size_t n, off_t off)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = 0;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

static int
read_fail(int e, char *err, size_t errsz)
{
	if (e != 0)
		return text_err(err, errsz, "read: %s", strerror(e));
	return text_err(err, errsz, "truncated");
}

/* Check the header and the size against the record count; 0 or -1. */
static int
load_header(int fd, uint64_t size, unsigned char *hdr, uint64_t *nrec,
    size_t *recsz, char *err, size_t errsz)
{
	unsigned char cnt[8];

	if (size == 0)
		return text_err(err, errsz, "empty file");
	if (size < 8)
		return text_err(err, errsz, "truncated");
	if (read_at(fd, hdr, size < SNAP_HDR ? 8 : SNAP_HDR, 0) < 0)
		return read_fail(errno, err, errsz);
	if (memcmp(hdr, SNAP_MAGIC, 8) != 0)
		return text_err(err, errsz, "bad magic");
	if (size < SNAP_HDR + SNAP_TRAILER)
		return text_err(err, errsz, "truncated");
	if (get32(hdr + 8) != SNAP_VERSION && get32(hdr + 8) != 1)
		return text_err(err, errsz, "version %u not supported (this "
		    "release reads versions 1 and 2; start the release that "
		    "wrote it, or move the file aside to start with no "
		    "counters)", get32(hdr + 8));
	*recsz = get32(hdr + 8) == 1 ? SNAP_REC_V1 : SNAP_REC;
	if (get32(hdr + 12) != *recsz)
		return text_err(err, errsz, "record size %u not supported",
		    get32(hdr + 12));
	*nrec = (size - SNAP_HDR - SNAP_TRAILER) / *recsz;
	if ((size - SNAP_HDR - SNAP_TRAILER) % *recsz != 0)
		return text_err(err, errsz, "truncated");
	if (read_at(fd, cnt, sizeof cnt, (off_t)(size - SNAP_TRAILER)) < 0)
		return read_fail(errno, err, errsz);
	if (get64(cnt) != *nrec)
		return text_err(err, errsz, "truncated");
	return 0;
}

/* Compare the BLAKE2b of everything before the sum with the sum. */
static int
load_checksum(int fd, uint64_t size, char *err, size_t errsz)
{
	crypto_generichash_state hs;
	unsigned char *buf = xmalloc(SNAP_CHUNK * SNAP_REC);
	unsigned char sum[SNAP_SUM], want[SNAP_SUM];
	uint64_t off = 0, end = size - SNAP_SUM, n;
	int rc = 0, e;

	crypto_generichash_init(&hs, NULL, 0, SNAP_SUM);
	for (; off < end && rc == 0; off += n) {
		n = end - off < SNAP_CHUNK * SNAP_REC ? end - off :
		    SNAP_CHUNK * SNAP_REC;
		if ((rc = read_at(fd, buf, n, (off_t)off)) == 0)
			crypto_generichash_update(&hs, buf, n);
	}
	if (rc == 0)
		rc = read_at(fd, want, sizeof want, (off_t)end);
	e = errno;
	free(buf);
	if (rc < 0)
		return read_fail(e, err, errsz);
	crypto_generichash_final(&hs, sum, sizeof sum);
	if (sodium_memcmp(sum, want, sizeof sum) != 0)
		return text_err(err, errsz, "checksum mismatch");
	return 0;
}

/*
 * Insert one saved record unless expired; -1 if it is malformed.  A
 * version 1 record has no rate: its TAT is read under the rate in force
 * the first time the counter is used (what it meant when it was written,
 * unless the limit changed across the upgrade).
 */
static int
load_record(struct shard_set *set, const unsigned char *p, size_t recsz,
    uint64_t now, int64_t wall)
{
	struct slot sl = { get64(p), get64(p + 8), 0, get32(p + 24),
	    get32(p + 28) };
	__int128 d = (__int128)(int64_t)get64(p + 16) - wall;
	uint64_t rate = recsz == SNAP_REC ? get64(p + 32) : 0;
	uint64_t window = recsz == SNAP_REC ? get64(p + 40) : 0;
	struct shard *sh;
	size_t i;

	if (slot_empty(&sl) || (sl.flags & ~MC_FLAGS) != 0 ||
	    ((sl.flags & MC_WINDOW) && (rate | window) != 0) ||
	    (rate == 0) != (window == 0))
		return -1;
	if (rate != 0)
		sl.flags |= mr_tag(rate, window) << MC_TAG_SHIFT;
	if (d <= 0)
		return 0;
	sl.t = (__int128)now + d > (__int128)UINT64_MAX ? UINT64_MAX :
	    now + (uint64_t)d;
	sh = shard_set_of(set, &(struct hkey){ sl.k0, sl.k1 });
	pthread_mutex_lock(&sh->lock);
	if ((i = shard_find(sh, &(struct hkey){ sl.k0, sl.k1 })) !=
	    SHARD_NOTFOUND)
		sh->slots[i] = sl;
	else {
		shard_room(sh, now);
		shard_place(sh, &sl);
	}
	pthread_mutex_unlock(&sh->lock);
	return 0;
}

static int
load_records(struct shard_set *set, int fd, uint64_t nrec, size_t recsz,
    uint64_t now, int64_t wall, char *err, size_t errsz)
{
	unsigned char *buf = xmalloc(SNAP_CHUNK * SNAP_REC);
	uint64_t done = 0, n, j;
	int rc = 0;

	for (; done < nrec && rc == 0; done += n) {
		n = nrec - done < SNAP_CHUNK ? nrec - done : SNAP_CHUNK;
		if (read_at(fd, buf, n * recsz,
		    (off_t)(SNAP_HDR + done * recsz)) < 0) {
			rc = read_fail(errno, err, errsz);
			break;
		}
		for (j = 0; j < n && rc == 0; j++)
			if (load_record(set, buf + j * recsz, recsz, now,
			    wall) < 0)
				rc = text_err(err, errsz, "bad record %llu",
				    (unsigned long long)(done + j));
	}
	free(buf);
	return rc;
}

static enum store_load
load_fd(struct shard_set *set, int fd, uint64_t now, int64_t wall, char *err,
    size_t errsz)
{
	unsigned char hdr[SNAP_HDR];
	struct stat st;
	uint64_t nrec = 0;
	size_t recsz = SNAP_REC;

	if (fstat(fd, &st) < 0) {
		text_err(err, errsz, "%s", strerror(errno));
		return STORE_LOAD_CORRUPT;
	}
	if (!S_ISREG(st.st_mode)) {
		text_err(err, errsz, "not a regular file");
		return STORE_LOAD_CORRUPT;
	}
	if (load_header(fd, (uint64_t)st.st_size, hdr, &nrec, &recsz, err,
	    errsz) < 0 ||
	    load_checksum(fd, (uint64_t)st.st_size, err, errsz) < 0)
		return STORE_LOAD_CORRUPT;
	memcpy(set->key, hdr + 16, sizeof set->key);
	if (load_records(set, fd, nrec, recsz, now, wall, err, errsz) < 0)
		return STORE_LOAD_CORRUPT;
	return STORE_LOAD_OK;
}

enum store_load
snap_load(struct shard_set *set, const char *path, uint64_t now_ms,
    int64_t wall_ms, char *err, size_t errsz)
{
	enum store_load rc;
	int fd;

	shard_set_clear(set);
	if (dir_check(path, err, errsz) < 0)
		return STORE_LOAD_UNSAFE;
	/* Never follow a link, never wait on a FIFO: load_fd wants a file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return STORE_LOAD_MISSING;
	if (fd < 0 && errno == ELOOP) {
		text_err(err, errsz, "a symbolic link, not a regular file");
		return STORE_LOAD_CORRUPT;
	}
	if (fd < 0) {
		text_err(err, errsz, "%s", strerror(errno));
		return STORE_LOAD_CORRUPT;
	}
	rc = load_fd(set, fd, now_ms, wall_ms, err, errsz);
	close(fd);
	if (rc != STORE_LOAD_OK)
		shard_set_clear(set);
	return rc;
}
