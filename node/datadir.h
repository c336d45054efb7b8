/*
 * datadir.h: the node's data directory: its lock and its identity.
 *
 * One process owns a data directory at a time. The lock is an flock() on
 * <dir>/LOCK, which the kernel releases when the process dies however it
 * dies (kill -9 included), so a crashed node never leaves a stale lock
 * that blocks its restart. The file also records the owner's pid, for the
 * error message a second node prints.
 */
#ifndef CLUSTERD_NODE_DATADIR_H
#define CLUSTERD_NODE_DATADIR_H

#include <stddef.h>

/* A node id: 16 random bytes from libsodium, as 32 hex characters. */
#define NODE_ID_HEX 33

struct node_datadir {
	int lock_fd; /* -1 when not held */
	char node_id[NODE_ID_HEX];
};

/* Creates dir if missing, checks it is writable, takes the lock and loads
 * (or on first start creates) the node id. ERR_BUSY if another process
 * holds the lock, ERR_IO/ERR_PERM otherwise; errmsg says which. */
int node_datadir_open(struct node_datadir *d, const char *dir, char *errmsg,
		      size_t errmsg_size);
/* Releases the lock. */
void node_datadir_close(struct node_datadir *d);

#endif
