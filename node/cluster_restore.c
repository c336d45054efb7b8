/*
 * cluster_restore.c: `clusterd restore`, a new cluster from a backup
 * (node/snapfile.h), as `consul snapshot restore` gives a cluster its
 * data back, but offline and into an empty data dir.
 *
 * Order, so that a bad file writes nothing and a crash leaves no cluster:
 *   1. the caller checks the whole file first (cluster_restore_check):
 *      framing and checksum, before the data dir is even created;
 *   2. a new identity, then the store: the file's chunks go through
 *      stor_snap_writer (a fresh state generation); the checksum is
 *      checked again at the end of this second read, and only then does
 *      stor_snap_writer_finish make the state current, at the file's
 *      index and term;
 *   3. the log continues after that point (stor_log_reset), and, as
 *      init does, the changes that make it a new cluster are written as
 *      log entries in the snapshot's term, with a hard state that votes
 *      for this node: a configuration entry with this node as the one
 *      voter (raft takes the log's latest configuration at once), the
 *      deletion of every old member record, this node's record, a fresh
 *      admin and join token. The first election commits them; state only
 *      changes by applying the log, here as everywhere;
 *   4. the cluster file (a new secret) last: without it the data dir is
 *      not a cluster, and a restore cut short is refused next time (the
 *      store is not empty) with a message to remove the directory.
 * The cluster id stays the one the file names (the state holds it, set
 * once); the new secret is what separates the new cluster from the old
 * one's nodes, whose keys no member record lists any more.
 */
#include "node/cluster_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/err.h"
#include "node/snapfile.h"

int cluster_restore_check(const char *from, char *errmsg, size_t errsz)
{
	struct snapfile_header h;
	char err[SNAPFILE_ERR_MAX];
	FILE *f = fopen(from, "rb");
	int rv;

	if (f == NULL) {
		snprintf(errmsg, errsz, "cannot open %s: %s", from, strerror(errno));
		return ERR_IO;
	}
	rv = snapfile_read(f, &h, NULL, NULL, err, sizeof(err));
	fclose(f);
	if (rv != 0)
		snprintf(errmsg, errsz, "%s is refused: %s", from, err);
	return rv;
}

static int feed_chunk(void *arg, const uint8_t *p, size_t n)
{
	return stor_snap_writer_chunk(arg, p, n);
}

/* Step 2: the file's state, current only once its checksum matched. */
static int install(struct stor *st, const char *from,
		   struct snapfile_header *h, char *errmsg, size_t errsz)
{
	struct stor_snap_writer *w;
	char err[SNAPFILE_ERR_MAX];
	FILE *f;
	int rv = stor_snap_writer_open(st, &w);

	if (rv != 0) {
		snprintf(errmsg, errsz, "cannot start the install: %s",
			 err_str(rv));
		return rv;
	}
	f = fopen(from, "rb");
	if (f == NULL) {
		stor_snap_writer_abort(w);
		snprintf(errmsg, errsz, "cannot open %s: %s", from, strerror(errno));
		return ERR_IO;
	}
	rv = snapfile_read(f, h, feed_chunk, w, err, sizeof(err));
	fclose(f);
	if (rv != 0) {
		stor_snap_writer_abort(w);
		snprintf(errmsg, errsz, "%s is refused: %s", from, err);
		return rv;
	}
	rv = stor_snap_writer_finish(w);
	if (rv == 0 && (stor_applied_index(st) != h->index ||
			stor_applied_term(st) != h->term))
		rv = ERR_CORRUPT;
	if (rv != 0)
		snprintf(errmsg, errsz,
			 "cannot install %s: %s (its header says index %llu "
			 "term %llu)", from, err_str(rv),
			 (unsigned long long)h->index,
			 (unsigned long long)h->term);
	return rv;
}

/* Entry index: this node as the one voter. */
static int append_conf(struct stor *st, uint64_t index, uint64_t term,
		       uint64_t self)
{
	struct raft_configuration conf;
	struct stor_entry e;
	struct mp_writer w;
	int rv;

	memset(&conf, 0, sizeof(conf));
	conf.n = 1;
	conf.servers[0].id = self;
	conf.servers[0].role = RAFT_VOTER;
	mp_writer_init(&w, STOR_CONF_MAX);
	raft_conf_encode(&conf, &w);
	rv = mp_writer_error(&w);
	if (rv == 0) {
		e = (struct stor_entry){index, term, STOR_ENTRY_CONFIG,
					(uint8_t *)(uintptr_t)mp_writer_data(&w),
					mp_writer_len(&w)};
		rv = stor_log_append(st, &e, 1);
	}
	mp_writer_free(&w);
	return rv;
}

/* Deletes every member record of the old cluster; *next is the index of
 * the next entry. */
static int drop_members(struct stor *st, uint64_t term, uint64_t *next,
			uint64_t *dropped)
{
	struct stor_cl_member *all = calloc(STOR_CL_MEMBERS_MAX, sizeof(*all));
	struct stor_cl_cmd cmd;
	size_t n = 0;
	int rv;

	if (all == NULL)
		return ERR_NOMEM;
	rv = stor_cl_members(st, all, STOR_CL_MEMBERS_MAX, &n);
	for (size_t i = 0; rv == 0 && i < n; i++) {
		memset(&cmd, 0, sizeof(cmd));
		cmd.op = STOR_CL_MEMBER_DEL;
		cmd.member.id = all[i].id;
		rv = cl_append_cmd(st, (*next)++, term, &cmd);
	}
	*dropped = n;
	free(all);
	return rv;
}

/* Step 3: the entries that make the state a new cluster's. */
static int new_cluster_log(struct stor *st, struct cluster_restore *in,
			   const struct node_identity *id, uint64_t wall_ms)
{
	uint64_t i = in->index, t = in->term, next = i + 2;
	struct stor_hard_state hs = {.term = t, .vote = id->id, .commit = i};
	struct stor_cl_cmd cmd;
	int rv = stor_log_reset(st, i, t);

	rv = rv ? rv : append_conf(st, i + 1, t, id->id);
	rv = rv ? rv : drop_members(st, t, &next, &in->members_dropped);
	if (rv != 0)
		return rv;
	cl_member_cmd(&cmd, id, in->name, in->bind, in->http_addr);
	rv = cl_append_cmd(st, next++, t, &cmd);
	if (rv != 0)
		return rv;
	cl_new_token(&cmd, STOR_CL_TOKEN_API, "admin (clusterd restore)",
		     wall_ms, 0, in->admin_token);
	rv = cl_append_cmd(st, next++, t, &cmd);
	if (rv != 0)
		return rv;
	cl_new_token(&cmd, STOR_CL_TOKEN_JOIN, "join (clusterd restore)",
		     wall_ms, CORE_JOIN_TOKEN_TTL_MS, in->join_token);
	rv = cl_append_cmd(st, next++, t, &cmd);
	return rv ? rv : stor_hs_save(st, &hs);
}

static int open_empty_store(const char *dir, struct stor **st, char *errmsg,
			    size_t errsz)
{
	struct stor_hard_state hs;
	struct stor_options o;
	char path[1100], err[256] = "";
	int rv;

	snprintf(path, sizeof(path), "%s/db", dir);
	stor_options_default(&o);
	o.dir = path;
	o.open_err = err;
	o.open_err_size = sizeof(err);
	rv = stor_open(&o, st);
	if (rv != 0) {
		snprintf(errmsg, errsz, "cannot open the store in %s: %s", path,
			 err[0] ? err : err_str(rv));
		return rv;
	}
	rv = stor_hs_load(*st, &hs);
	if (rv == 0 && (stor_log_last(*st) != 0 ||
			stor_applied_index(*st) != 0 || hs.term != 0)) {
		snprintf(errmsg, errsz,
			 "%s already holds a store (an interrupted init or "
			 "restore?); remove the directory and restore again",
			 dir);
		rv = ERR_EXISTS;
	}
	if (rv != 0)
		stor_close(*st);
	return rv;
}

int cluster_restore(struct cluster_restore *in, uint64_t wall_ms,
		    char *errmsg, size_t errsz)
{
	struct node_cluster_secret sec;
	struct snapfile_header h;
	struct node_identity id;
	struct stor *st;
	int rv = identity_cluster_load(in->data_dir, &sec, errmsg, errsz);

	if (rv == 0) {
		snprintf(errmsg, errsz,
			 "%s already belongs to cluster %s; restore into an "
			 "empty data dir", in->data_dir, sec.cluster_id);
		return ERR_EXISTS;
	}
	if (rv != ERR_NOTFOUND)
		return rv;
	rv = identity_load_or_create(in->data_dir, &id, errmsg, errsz);
	rv = rv ? rv : open_empty_store(in->data_dir, &st, errmsg, errsz);
	if (rv != 0)
		return rv;
	rv = install(st, in->from, &h, errmsg, errsz);
	if (rv == 0) {
		in->index = h.index;
		in->term = h.term;
		rv = new_cluster_log(st, in, &id, wall_ms);
		if (rv != 0)
			snprintf(errmsg, errsz, "cannot write the new cluster's "
				 "first entries: %s", err_str(rv));
	}
	stor_close(st);
	if (rv != 0)
		return rv;
	tp_secret_new(sec.secret);
	snapfile_id_hex(h.cluster_id, sec.cluster_id);
	memcpy(in->cluster_id, sec.cluster_id, sizeof(in->cluster_id));
	rv = identity_cluster_save(in->data_dir, &sec, errmsg, errsz);
	sodium_memzero(&sec, sizeof(sec));
	if (rv == 0)
		in->node_id = id.id;
	return rv;
}
