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
/* The longest data directory path, with its NUL (config.h's NODE_PATH_MAX). */
#define NODE_DATADIR_PATH_MAX 1024

struct node_datadir {
	int lock_fd; /* -1 when not held */
	char node_id[NODE_ID_HEX];
};

/* Creates dir and its missing parents, checks it is writable, takes the
 * lock and loads (or on first start creates) the node id. Returns ERR_BUSY
 * if another process holds the lock, ERR_CORRUPT if the node-id file is
 * not 32 hex characters, ERR_PERM if a directory cannot be created or
 * written for lack of permission, ERR_INVAL for an empty or too long path,
 * ERR_IO otherwise; errmsg says which and names the path. */
int node_datadir_open(struct node_datadir *d, const char *dir, char *errmsg,
		      size_t errmsg_size);
/* Releases the lock. */
void node_datadir_close(struct node_datadir *d);

#endif
