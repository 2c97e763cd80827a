/*
 * mem_snapshot.h: the memory store's state file: a shard set written to a
 * file and read back, so counters survive a restart.
 *
 * Format, little-endian:
 *	header	 "MPSTORE\n", u32 version (2), u32 record size (48),
 *		 16-byte SipHash key, i64 wall-clock ms at save	    (40 bytes)
 *	records	 u64 k0, u64 k1, i64 t as wall-clock ms, u32 count,
 *		 u32 flags (MC_FLAGS only), u64 rate, u64 window_ms:
 *		 the rate a GCRA counter's TAT is in, 0 0 for a window
 *		 or an unknown rate				    (48 each)
 *	trailer	 u64 number of records, 32-byte BLAKE2b of all before it
 * Times are saved as wall-clock ms and loaded against the caller's clock,
 * so a counter keeps the time it had left; expired ones are not kept.
 * Version 1 (the release before counters kept their count across a
 * change of limit) had 32-byte records without the two rate fields; it
 * is still read, its counters taken as written under the rate in force
 * when each is next used.
 *
 * A save writes a temporary file beside path, fsyncs it and renames it
 * over path, so a failed save leaves the old file whole.  The temporary
 * file is a new one (mkstemp), never one found there.  A load opens path
 * without following a symbolic link or waiting on a FIFO, and reads only
 * a regular file; it checks the sizes and the checksum before it reads a
 * record.  Both refuse a directory whose mode lets others write there:
 * every user (the sticky bit does not help: a planted state file would
 * bring its own hash key), or a group other than root's and this
 * process's.
 *
 * Threads: snap_save copies each shard under its lock and writes outside
 * it; callers serialise saves.  snap_load replaces the set's key and
 * contents: call it before the set is shared.
 */
#ifndef MEM_SNAPSHOT_H
#define MEM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "mem_shard.h"
#include "store.h"

/* Write every live slot of set to path; STORE_ERROR with err on failure. */
enum store_result snap_save(struct shard_set *set, const char *path,
    uint64_t now_ms, int64_t wall_ms, char *err, size_t errsz);

/* Empty set and load path into it (store.h's store_memory_load). */
enum store_load snap_load(struct shard_set *set, const char *path,
    uint64_t now_ms, int64_t wall_ms, char *err, size_t errsz);

#endif
