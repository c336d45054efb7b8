/*
 * cluster_join.c: a node joining a cluster (both sides), leaving it, and
 * `clusterd init`.
 *
 * Join, as docs/design.md tells it:
 *  1. The joiner J (unjoined: no secret) dials the peer P in the
 *     transport's join mode, keyed with the join token's PSK, and sends
 *     who it is (rpc_join_req). The transport has already checked that J
 *     knows the token and authenticated J's static key and address.
 *  2. P commits MEMBER_JOIN (the domain checks, at apply, that the token
 *     is a join token, unrevoked and unexpired at P's clock), then adds J
 *     to Raft as a learner. Both go to the leader like any operation.
 *  3. Only then P answers with the secret and the member list. J saves
 *     them, starts Raft (an empty follower the leader fills, by snapshot
 *     when its log was compacted) and gossip, and reports success once it
 *     sees a live peer in gossip.
 * The member record comes first so that every node accepts J's key
 * before J's first Raft message arrives.
 */
#include "node/cluster_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "base/assert.h"
#include "base/err.h"

/* ---- the serving side (P) ---- */

struct srv_join {
	struct tp_join_req *jr;
	struct stor_cl_member m;
	uint64_t deadline_ms;
};

static void join_answer(struct cluster *c, struct srv_join *sj, int status,
			const char *error)
{
	struct rpc_join_resp *r = calloc(1, sizeof(*r));
	struct mp_writer w;

	if (r == NULL) {
		tp_join_refuse(sj->jr, ERR_NOMEM);
		goto out;
	}
	r->status = status;
	snprintf(r->error, sizeof(r->error), "%s", error ? error : "");
	if (status == 0) {
		memcpy(r->secret, c->sec.secret, sizeof(r->secret));
		snprintf(r->cluster_id, sizeof(r->cluster_id), "%s",
			 c->sec.cluster_id);
		for (size_t i = 0; i < c->members_n &&
				   r->n_members < RPC_JOIN_MEMBERS_MAX; i++) {
			const struct stor_cl_member *m = &c->members[i];
			struct rpc_member *o = &r->members[r->n_members++];

			o->id = m->id;
			snprintf(o->name, sizeof(o->name), "%s", m->name);
			snprintf(o->addr, sizeof(o->addr), "%s", m->addr);
			snprintf(o->http, sizeof(o->http), "%s", m->http);
			memcpy(o->pk, m->pk, sizeof(o->pk));
		}
	}
	mp_writer_init(&w, 1u << 20);
	rpc_join_resp_encode(r, &w);
	if (mp_writer_error(&w) == 0)
		tp_join_reply(sj->jr, mp_writer_data(&w), mp_writer_len(&w));
	else
		tp_join_refuse(sj->jr, mp_writer_error(&w));
	mp_writer_free(&w);
	sodium_memzero(r->secret, sizeof(r->secret));
	free(r);
	if (status == 0)
		c->joins_served++;
	else
		c->joins_refused++;
out:
	free(sj);
}

static int conf_has(const struct cluster *c, raft_id id)
{
	return c->rd && raft_conf_get(raftd_configuration(c->rd), id) != NULL;
}

static void learner_added(struct cluster *c, struct cl_op *op, int status,
			  uint64_t index, int result)
{
	struct srv_join *sj = op->arg;

	(void)index;
	(void)result;
	/* A repeat of a change that already committed is refused as
	 * invalid: the learner is there, which is what we wanted. */
	if (status == ERR_INVAL && conf_has(c, sj->m.id))
		status = 0;
	if (status != 0) {
		TRACE_W(c->log, "join", "adding %s as a learner failed: %s",
			sj->m.name, err_str(status));
		join_answer(c, sj, status, "the cluster could not add this node "
					   "to Raft; try again");
		return;
	}
	TRACE_I(c->log, "join", "%s (%016llx) joined as a learner",
		sj->m.name, (unsigned long long)sj->m.id);
	c->members_dirty = 1;
	cl_members_reload(c);
	join_answer(c, sj, 0, NULL);
}

static void member_added(struct cluster *c, struct cl_op *op, int status,
			 uint64_t index, int result)
{
	struct srv_join *sj = op->arg;
	struct cl_op *next;

	(void)index;
	if (status != 0 || result != 0) {
		const char *why = status != 0
					  ? "no leader could commit the join"
					  : result == ERR_AUTH
						    ? "the join token is unknown, "
						      "expired or revoked"
						    : "the cluster refused the member";
		TRACE_W(c->log, "join", "refused %s: %s (%s)", sj->m.name, why,
			err_str(status != 0 ? status : result));
		join_answer(c, sj, status != 0 ? status : result, why);
		return;
	}
	c->members_dirty = 1;
	if (c->rd && raftd_configuration(c->rd)->n >= RAFT_NODES_MAX) {
		/* Raft is full: the node stays a gossip member that forwards
		 * (docs/design.md, Membership). */
		TRACE_I(c->log, "join", "%s joined as a gossip member only: Raft "
			"has %d servers already", sj->m.name, RAFT_NODES_MAX);
		cl_members_reload(c);
		join_answer(c, sj, 0, NULL);
		return;
	}
	next = cl_op_new(c, CL_OP_CHANGE, sj->deadline_ms, learner_added, sj);
	if (next == NULL) {
		join_answer(c, sj, ERR_AGAIN, "the node is overloaded");
		return;
	}
	next->change_op = RAFT_ADD_LEARNER;
	next->change_id = sj->m.id;
	cl_kick(c); /* we may be inside raftd's callback: drive it later */
}

/* 0 if the joiner may take this name and id, else why not. */
static const char *join_conflict(const struct cluster *c,
				 const struct stor_cl_member *m)
{
	for (size_t i = 0; i < c->members_n; i++) {
		if (c->members[i].id == m->id)
			return "a member with this node's id exists already";
		if (strcmp(c->members[i].name, m->name) == 0)
			return "a member with this name exists already";
	}
	return NULL;
}

void cl_on_join(void *ctx, struct tp_join_req *jr, const uint8_t *buf,
		size_t len)
{
	struct cluster *c = ctx;
	struct stor_cl_cmd cmd;
	struct rpc_join_req req;
	struct srv_join *sj;
	const char *conflict;
	struct cl_op *op;
	uint8_t *data;
	size_t data_len;
	int rv;

	sj = calloc(1, sizeof(*sj));
	if (sj == NULL) {
		tp_join_refuse(jr, ERR_NOMEM);
		return;
	}
	sj->jr = jr;
	if (!c->joined || c->stopping) {
		join_answer(c, sj, ERR_INVAL, "this node is not part of a cluster");
		return;
	}
	if (rpc_join_req_decode(buf, len, &req) != 0) {
		join_answer(c, sj, ERR_MALFORMED, "malformed join request");
		return;
	}
	sj->m.id = req.self.id;
	snprintf(sj->m.name, sizeof(sj->m.name), "%s", req.self.name);
	/* The address and key the handshake authenticated, not the ones the
	 * request claims. */
	snprintf(sj->m.addr, sizeof(sj->m.addr), "%s", tp_join_req_addr(jr));
	snprintf(sj->m.http, sizeof(sj->m.http), "%s", req.self.http);
	memcpy(sj->m.pk, tp_join_req_static_pk(jr), sizeof(sj->m.pk));
	conflict = join_conflict(c, &sj->m);
	if (conflict) {
		join_answer(c, sj, ERR_EXISTS, conflict);
		return;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.op = STOR_CL_MEMBER_JOIN;
	cmd.member = sj->m;
	snprintf(cmd.token.id, sizeof(cmd.token.id), "%s",
		 tp_join_req_token_id(jr));
	cmd.now_ms = cl_wall_ms();
	sj->deadline_ms = cl_now(c) + 20000;
	rv = stor_cl_encode(&cmd, &data, &data_len);
	if (rv != 0) {
		join_answer(c, sj, ERR_INVAL, "the join request is out of bounds");
		return;
	}
	op = cl_op_new(c, CL_OP_WRITE, sj->deadline_ms, member_added, sj);
	if (op == NULL) {
		free(data);
		join_answer(c, sj, ERR_AGAIN, "the node is overloaded");
		return;
	}
	op->data = data;
	op->len = data_len;
	TRACE_I(c->log, "join", "%s (%s) asks to join", sj->m.name, sj->m.addr);
	cl_op_drive(c, op);
}

int cl_join_psk(void *ctx, const char *token_id, uint8_t psk[TP_KEY_LEN])
{
	struct cluster *c = ctx;
	struct stor_cl_token t;

	if (!c->joined)
		return ERR_NOTFOUND;
	if (stor_cl_token_get(c->st, token_id, &t) != 0) {
		/* Just started (no leader yet) or still applying its log, the
		 * node may not have the token's record yet: the joiner is told
		 * to try again rather than that its token is wrong. */
		if (!cl_caught_up(c)) {
			TRACE_I(c->log, "join", "join token %s not known yet: "
				"this node is catching up", token_id);
			return ERR_AGAIN;
		}
		return ERR_NOTFOUND;
	}
	if (t.kind != STOR_CL_TOKEN_JOIN || t.revoked ||
	    (t.expires_ms != 0 && t.expires_ms <= cl_wall_ms()))
		return ERR_AUTH;
	tp_token_psk(token_id, t.hash, psk);
	return 0;
}

/* ---- the joining side (J) ---- */

/* A join dialled again after the peer said it cannot check the token
 * yet waits this long first: a few Raft heartbeats (50 ms), enough for a
 * just-started peer to elect itself (250-500 ms) within a few tries. */
#define JOIN_RETRY_MS 200

struct cl_join {
	core_done_cb cb;
	void *arg;
	uint64_t deadline_ms;
	char peer[TP_ADDR_MAX];
	char token_id[CORE_TOKEN_ID_LEN + 1];
	uint8_t token_hash[CORE_HASH_LEN];
	uint64_t retry_at_ms; /* 0: no retry pending */
	uint32_t retries;     /* ERR_AGAIN answers so far */
	int started; /* the reply came; waiting to see a live peer */
};

static int join_dial(struct cluster *c);

static void join_done(struct cluster *c, int status, const char *msg)
{
	struct cl_join *j = c->join;

	if (j == NULL)
		return;
	c->join = NULL;
	j->cb(j->arg, status, msg);
	sodium_memzero(j->token_hash, sizeof(j->token_hash));
	free(j);
}

static int save_join(struct cluster *c, const struct rpc_join_resp *r,
		     char *err, size_t errsz)
{
	struct stor_cl_member *list = calloc(r->n_members ? r->n_members : 1,
					     sizeof(*list));
	int rv;

	if (list == NULL)
		return ERR_NOMEM;
	for (uint32_t i = 0; i < r->n_members; i++) {
		list[i].id = r->members[i].id;
		snprintf(list[i].name, sizeof(list[i].name), "%s",
			 r->members[i].name);
		snprintf(list[i].addr, sizeof(list[i].addr), "%s",
			 r->members[i].addr);
		snprintf(list[i].http, sizeof(list[i].http), "%s",
			 r->members[i].http);
		memcpy(list[i].pk, r->members[i].pk, sizeof(list[i].pk));
	}
	rv = stor_local_put(c->st, "join_members", list,
			    r->n_members * sizeof(*list));
	free(list);
	if (rv != 0) {
		snprintf(err, errsz, "cannot store the member list: %s",
			 err_str(rv));
		return rv;
	}
	memcpy(c->sec.secret, r->secret, sizeof(c->sec.secret));
	snprintf(c->sec.cluster_id, sizeof(c->sec.cluster_id), "%s",
		 r->cluster_id);
	return identity_cluster_save(c->dir, &c->sec, err, errsz);
}

static void on_join_reply(void *arg, int status, const uint8_t *reply,
			  size_t len)
{
	struct cluster *c = arg;
	struct rpc_join_resp *r;
	char err[512] = "";
	int rv;

	if (c->join == NULL || c->stopping)
		return;
	if (status == ERR_AGAIN && cl_now(c) + JOIN_RETRY_MS <
					   c->join->deadline_ms) {
		c->join->retries++;
		c->join->retry_at_ms = cl_now(c) + JOIN_RETRY_MS;
		TRACE_I(c->log, "join", "the peer is catching up; joining again "
			"in %d ms", JOIN_RETRY_MS);
		cl_kick_later(c, JOIN_RETRY_MS);
		return;
	}
	if (status != 0) {
		join_done(c, status,
			  status == ERR_AGAIN
				  ? "the peer was still catching up with its "
				    "cluster; try again"
			  : status == ERR_AUTH
				  ? "the peer refused the join token (wrong, "
				    "expired or revoked)"
				  : "the join handshake failed");
		return;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL || rpc_join_resp_decode(reply, len, r) != 0) {
		free(r);
		join_done(c, ERR_MALFORMED, "the peer sent a malformed answer");
		return;
	}
	if (r->status != 0) {
		snprintf(err, sizeof(err), "the cluster refused: %s",
			 r->error[0] ? r->error : err_str(r->status));
		join_done(c, r->status, err);
		free(r);
		return;
	}
	rv = save_join(c, r, err, sizeof(err));
	sodium_memzero(r->secret, sizeof(r->secret));
	free(r);
	if (rv == 0)
		rv = cl_start_joined(c, err, sizeof(err));
	if (rv != 0) {
		join_done(c, rv, err);
		return;
	}
	TRACE_I(c->log, "join", "joined cluster %s as a learner",
		c->sec.cluster_id);
	c->join->started = 1;
	cl_kick(c);
}

/* Dials c->join's peer with its join request; 0 or an error (then no
 * reply comes). */
static int join_dial(struct cluster *c)
{
	struct cl_join *j = c->join;
	struct rpc_join_req req;
	struct mp_writer w;
	int rv;

	ASSERT(j != NULL && !j->started);
	j->retry_at_ms = 0;
	memset(&req, 0, sizeof(req));
	req.self.id = c->ident.id;
	snprintf(req.self.name, sizeof(req.self.name), "%s", c->name);
	snprintf(req.self.addr, sizeof(req.self.addr), "%s", c->advertise);
	snprintf(req.self.http, sizeof(req.self.http), "%s", c->http);
	memcpy(req.self.pk, c->ident.pk, sizeof(req.self.pk));
	mp_writer_init(&w, 4096);
	rpc_join_req_encode(&req, &w);
	rv = mp_writer_error(&w);
	if (rv == 0)
		rv = tp_join_hashed(c->tp, j->peer, j->token_id, j->token_hash,
				    mp_writer_data(&w), mp_writer_len(&w),
				    on_join_reply, c);
	mp_writer_free(&w);
	return rv;
}

int cl_join_start(struct cluster *c, const char *peer, const char *token,
		  uint64_t deadline_ms, core_done_cb cb, void *arg)
{
	struct cl_join *j;
	int rv;

	if (c->joined)
		return ERR_EXISTS;
	if (c->join)
		return ERR_BUSY;
	if (strlen(peer) >= sizeof(j->peer))
		return ERR_INVAL;
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return ERR_NOMEM;
	if (core_token_parse(token, strlen(token), j->token_id,
			     j->token_hash) != 0) {
		sodium_memzero(j->token_hash, sizeof(j->token_hash));
		free(j);
		return ERR_INVAL;
	}
	snprintf(j->peer, sizeof(j->peer), "%s", peer);
	j->cb = cb;
	j->arg = arg;
	j->deadline_ms = deadline_ms;
	c->join = j;
	rv = join_dial(c);
	if (rv != 0) {
		c->join = NULL;
		sodium_memzero(j->token_hash, sizeof(j->token_hash));
		free(j);
	}
	return rv;
}

static int sees_live_peer(struct cluster *c)
{
	struct gossipd_member m[8];
	uint32_t total = 0;

	if (c->gd == NULL || gossipd_members(c->gd, m, 8, &total) != 0)
		return 0;
	for (uint32_t i = 0; i < total && i < 8; i++)
		if (!m[i].self && m[i].status == GOSSIP_ALIVE)
			return 1;
	return 0;
}

void cl_join_tick(struct cluster *c)
{
	if (c->join == NULL)
		return;
	if (c->join->started && sees_live_peer(c)) {
		join_done(c, 0, NULL);
		return;
	}
	if (cl_now(c) >= c->join->deadline_ms) {
		join_done(c, ERR_TIMEOUT,
			  c->join->started
				  ? "joined, but no other member is alive in "
				    "gossip yet"
			  : c->join->retries > 0
				  ? "the peer was still catching up with its "
				    "cluster at the deadline"
				  : "the peer did not answer in time");
		return;
	}
	if (c->join->retry_at_ms != 0 && cl_now(c) >= c->join->retry_at_ms) {
		int rv = join_dial(c);

		if (rv != 0) {
			join_done(c, rv, "the join could not be sent again");
			return;
		}
	}
	cl_kick_later(c, 100);
}

void cl_join_fail_all(struct cluster *c, int status)
{
	join_done(c, status, "the node is shutting down");
}
