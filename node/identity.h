/*
 * identity.h: what a node keeps about itself and its cluster in its data
 * directory, outside the replicated state.
 *
 *   DIR/identity   the node's Raft id and its static X25519 key pair (the
 *                  transport authenticates the node with it). Created at
 *                  `init` or at the first `run` of an unjoined node.
 *   DIR/cluster    the cluster secret and the cluster id. Present once the
 *                  node created a cluster (`init`) or joined one; its
 *                  absence is what makes a node "unjoined".
 *
 * Both are text files of "key value" lines, mode 0600, written to a
 * temporary file, fsynced and renamed into place, so a crash leaves either
 * the old file or the new one. A node that leaves its cluster deletes both
 * (identity_forget): it joins again later as a new member with new keys,
 * and its old keys stay refused.
 */
#ifndef CLUSTERD_NODE_IDENTITY_H
#define CLUSTERD_NODE_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#define IDENTITY_KEY_BYTES 32
#define IDENTITY_CLUSTER_ID_MAX 40

struct node_identity {
	uint64_t id; /* Raft id, nonzero */
	uint8_t pk[IDENTITY_KEY_BYTES];
	uint8_t sk[IDENTITY_KEY_BYTES];
};

struct node_cluster_secret {
	uint8_t secret[IDENTITY_KEY_BYTES];
	char cluster_id[IDENTITY_CLUSTER_ID_MAX]; /* 32 hex characters */
};

/* Loads DIR/identity, or creates it with a fresh id and key pair when
 * absent. ERR_CORRUPT (with errmsg naming the file and the line) when it
 * exists but does not parse, ERR_IO when it cannot be written. */
int identity_load_or_create(const char *dir, struct node_identity *out,
			    char *errmsg, size_t errsz);

/* Loads DIR/cluster: 0, ERR_NOTFOUND when absent (an unjoined node),
 * ERR_CORRUPT when it does not parse. */
int identity_cluster_load(const char *dir, struct node_cluster_secret *out,
			  char *errmsg, size_t errsz);
/* Writes DIR/cluster atomically (0600). */
int identity_cluster_save(const char *dir, const struct node_cluster_secret *c,
			  char *errmsg, size_t errsz);
/* Draws a fresh secret and cluster id. */
void identity_cluster_new(struct node_cluster_secret *out);

/* Deletes DIR/cluster and DIR/identity (after a leave). */
int identity_forget(const char *dir, char *errmsg, size_t errsz);

/* Writes `text` to DIR/name atomically with the given mode (temporary
 * file, fsync, rename, fsync of the directory). Shared by the files the
 * node keeps beside its database. */
int identity_write_file(const char *dir, const char *name, const char *text,
			unsigned mode, char *errmsg, size_t errsz);

#endif
