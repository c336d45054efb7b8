/*
 * cluster_init.c: `clusterd init` (a new cluster in an empty data dir)
 * and forgetting a cluster after a leave.
 *
 * init writes, without any network and before any node runs:
 *   - the identity (Raft id, static key pair) and the cluster file
 *     (secret, cluster id), both mode 0600;
 *   - the Raft log: entry 1 is the configuration with this node as the
 *     one voter (raftd_bootstrap); entries 2.. are the first commands of
 *     the state: the cluster id, this node's member record, an admin API
 *     token and a join token, then (issue 13) the user "admin" with the
 *     admin role, whom the admin token belongs to. They are appended in
 *     term 1 with a hard
 *     state of term 1, as a leader of term 1 would have appended them, so
 *     the first election (term 2) commits them with its barrier, and
 *     every node that joins later receives them through the log like any
 *     other entry. Nothing is applied here: state only ever changes by
 *     applying the log.
 * The cluster file is written last: a data dir without it is not a
 * cluster, and an init that crashed before it is refused (ERR_EXISTS on
 * the non-empty log) with a message to remove the directory.
 */
#include "node/cluster_int.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "base/err.h"
#include "storage/udomain.h"

int cl_append_cmd(struct stor *st, uint64_t index, uint64_t term,
		  const struct stor_cl_cmd *cmd)
{
	struct stor_entry e = {.index = index, .term = term,
			       .type = STOR_ENTRY_COMMAND};
	int rv = stor_cl_encode(cmd, &e.data, &e.len);

	if (rv != 0)
		return rv;
	rv = stor_log_append(st, &e, 1);
	free(e.data);
	return rv;
}

void cl_member_cmd(struct stor_cl_cmd *cmd, const struct node_identity *id,
		   const char *name, const char *addr, const char *http)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->op = STOR_CL_MEMBER_PUT;
	cmd->member.id = id->id;
	snprintf(cmd->member.name, sizeof(cmd->member.name), "%s", name);
	snprintf(cmd->member.addr, sizeof(cmd->member.addr), "%s", addr);
	snprintf(cmd->member.http, sizeof(cmd->member.http), "%s", http);
	memcpy(cmd->member.pk, id->pk, sizeof(cmd->member.pk));
}

void cl_new_token(struct stor_cl_cmd *cmd, uint8_t kind, const char *name,
		  uint64_t wall_ms, uint64_t ttl_ms, char *str)
{
	struct core_token t;

	memset(cmd, 0, sizeof(*cmd));
	memset(&t, 0, sizeof(t));
	core_token_new(&t, str);
	cmd->op = STOR_CL_TOKEN_ADD;
	memcpy(cmd->token.id, t.id, sizeof(cmd->token.id));
	memcpy(cmd->token.hash, t.hash, sizeof(cmd->token.hash));
	cmd->token.kind = kind;
	cmd->token.role = 0; /* admin */
	snprintf(cmd->token.name, sizeof(cmd->token.name), "%s", name);
	cmd->token.created_ms = wall_ms;
	cmd->token.expires_ms = ttl_ms ? wall_ms + ttl_ms : 0;
}

/* The user the admin token of init belongs to (issue 13). */
#define INIT_USER "admin"

static int append_admin_user(struct stor *st, uint64_t index, uint64_t term)
{
	struct stor_user_cmd uc;
	struct stor_entry e = {.index = index, .term = term,
			       .type = STOR_ENTRY_COMMAND};
	int rv;

	memset(&uc, 0, sizeof(uc));
	uc.op = STOR_USER_CREATE;
	snprintf(uc.user.name, sizeof(uc.user.name), INIT_USER);
	uc.user.nroles = 1;
	snprintf(uc.user.roles[0], sizeof(uc.user.roles[0]), "admin");
	rv = stor_user_encode(&uc, &e.data, &e.len);
	if (rv != 0)
		return rv;
	rv = stor_log_append(st, &e, 1);
	free(e.data);
	return rv;
}

/* The first commands of the state, as entries 2.. of the log. */
static int seed_log(struct stor *st, struct cluster_init *in,
		    const struct node_identity *id, const uint8_t cid[16],
		    uint64_t wall_ms)
{
	struct stor_cl_cmd cmd;
	struct stor_hard_state hs = {.term = 1, .vote = id->id, .commit = 0};
	int rv;

	memset(&cmd, 0, sizeof(cmd));
	cmd.op = STOR_CL_SET_ID;
	memcpy(cmd.cluster_id, cid, STOR_CL_ID_LEN);
	rv = cl_append_cmd(st, 2, 1, &cmd);
	if (rv)
		return rv;
	cl_member_cmd(&cmd, id, in->name, in->bind, in->http_addr);
	rv = cl_append_cmd(st, 3, 1, &cmd);
	if (rv)
		return rv;
	cl_new_token(&cmd, STOR_CL_TOKEN_API, "admin (clusterd init)", wall_ms, 0,
		  in->admin_token);
	cmd.token.nroles = 1;
	snprintf(cmd.token.roles[0], sizeof(cmd.token.roles[0]), "admin");
	snprintf(cmd.token.user, sizeof(cmd.token.user), "%s", INIT_USER);
	rv = cl_append_cmd(st, 4, 1, &cmd);
	if (rv)
		return rv;
	cl_new_token(&cmd, STOR_CL_TOKEN_JOIN, "join (clusterd init)", wall_ms,
		  CORE_JOIN_TOKEN_TTL_MS, in->join_token);
	rv = cl_append_cmd(st, 5, 1, &cmd);
	if (rv)
		return rv;
	rv = append_admin_user(st, 6, 1);
	if (rv)
		return rv;
	return stor_hs_save(st, &hs);
}

static int bootstrap(struct cluster_init *in, const struct node_identity *id,
		     const uint8_t cid[16], uint64_t wall_ms, char *errmsg,
		     size_t errsz)
{
	struct raft_configuration conf;
	struct stor_options o;
	struct stor *st;
	char path[1100], err[256] = "";
	int rv;

	snprintf(path, sizeof(path), "%s/db", in->data_dir);
	stor_options_default(&o);
	o.dir = path;
	o.open_err = err;
	o.open_err_size = sizeof(err);
	rv = stor_open(&o, &st);
	if (rv != 0) {
		snprintf(errmsg, errsz, "cannot open the store in %s: %s", path,
			 err[0] ? err : err_str(rv));
		return rv;
	}
	memset(&conf, 0, sizeof(conf));
	conf.n = 1;
	conf.servers[0].id = id->id;
	conf.servers[0].role = RAFT_VOTER;
	rv = raftd_bootstrap(st, &conf);
	if (rv == ERR_EXISTS)
		snprintf(errmsg, errsz,
			 "%s already holds a Raft log (an interrupted init?); "
			 "remove the directory and run init again",
			 in->data_dir);
	else if (rv == 0)
		rv = seed_log(st, in, id, cid, wall_ms);
	if (rv != 0 && rv != ERR_EXISTS)
		snprintf(errmsg, errsz, "cannot write the first log entries: %s",
			 err_str(rv));
	stor_close(st);
	return rv;
}

int cluster_init(struct cluster_init *in, uint64_t wall_ms, char *errmsg,
		 size_t errsz)
{
	struct node_cluster_secret sec;
	struct node_identity id;
	uint8_t cid[STOR_CL_ID_LEN];
	int rv;

	rv = identity_cluster_load(in->data_dir, &sec, errmsg, errsz);
	if (rv == 0) {
		snprintf(errmsg, errsz,
			 "%s already belongs to cluster %s; run 'clusterd run "
			 "--data-dir %s' to start it",
			 in->data_dir, sec.cluster_id, in->data_dir);
		return ERR_EXISTS;
	}
	if (rv != ERR_NOTFOUND)
		return rv;
	rv = identity_load_or_create(in->data_dir, &id, errmsg, errsz);
	if (rv != 0)
		return rv;
	randombytes_buf(cid, sizeof(cid));
	rv = bootstrap(in, &id, cid, wall_ms, errmsg, errsz);
	if (rv != 0)
		return rv;
	tp_secret_new(sec.secret);
	sodium_bin2hex(sec.cluster_id, sizeof(sec.cluster_id), cid, sizeof(cid));
	memcpy(in->cluster_id, sec.cluster_id, sizeof(in->cluster_id));
	rv = identity_cluster_save(in->data_dir, &sec, errmsg, errsz);
	sodium_memzero(&sec, sizeof(sec));
	if (rv != 0)
		return rv;
	in->node_id = id.id;
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int cluster_forget(const char *data_dir, char *errmsg, size_t errsz)
{
	char path[1100];
	int rv = identity_forget(data_dir, errmsg, errsz);

	if (rv != 0)
		return rv;
	snprintf(path, sizeof(path), "%s/db", data_dir);
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 &&
	    errno != ENOENT) {
		snprintf(errmsg, errsz, "cannot delete %s: %s", path,
			 strerror(errno));
		return ERR_IO;
	}
	return 0;
}
