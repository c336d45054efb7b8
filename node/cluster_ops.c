/*
 * cluster_ops.c: operations that need the leader, from wherever they
 * start.
 *
 * An operation (a write, a read barrier, a membership change, a
 * leadership transfer) is driven by one function, cl_op_drive: on the
 * leader it goes to our raftd; on a follower it is forwarded to the leader
 * over the RPC channel (rpc.h), and the leader runs it as a "remote"
 * operation whose end is sent back; with no leader known it waits, and is
 * driven again when one is (cl_role_changed) or every CL_RETRY_MS.
 *
 * Writes are retried until their deadline, because every write carries a
 * client session (storage/session.h, Raft thesis 6.3): the command is
 * wrapped once with a (client, seq), the node's own session or an HTTP
 * client's Idempotency-Key, and every retry proposes the same bytes. If
 * an earlier attempt did commit, the state machine answers the retry from
 * the session record and does not apply it again. So a write forwarded to
 * a leader that fell is sent again to the next leader (cl_role_changed),
 * a forward left unanswered for CL_FWD_RESEND_MS is sent again
 * (cl_sessions_tick), and ERR_NOTLEADER, ERR_AGAIN or ERR_TIMEOUT from
 * the leader send it again. The answer's index and result are read back
 * from the session record on this node (the ORIGINAL entry's, for a
 * deduplicated retry), so a repeated write reports the revision of the
 * attempt that applied.
 *
 * The node's session acknowledges results it holds (ack = its lowest seq
 * still in flight), so its record stays about as long as its writes in
 * flight; if a write stays in flight while STOR_SESS_WINDOW_MAX newer ones
 * pass it, the node starts a new session (a new nonce) rather than let the
 * record forget a seq that may still be retried.
 *
 * A read forwarded to the leader comes back with a read index; the
 * operation then waits until this node has applied that index
 * (CL_OP_WAIT_APPLY) and ends there, so the local state it then reads is
 * linearizable (Raft thesis 6.4).
 */
#include "node/cluster_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <sodium.h>

#include "base/assert.h"
#include "base/err.h"

struct cl_op *cl_op_new(struct cluster *c, uint8_t kind, uint64_t deadline_ms,
			cl_op_cb cb, void *arg)
{
	struct cl_op *op;

	if (c->ops_n >= CL_OPS_MAX || c->stopping)
		return NULL;
	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return NULL;
	op->id = c->next_op++;
	op->kind = kind;
	op->state = CL_OP_WAIT_LEADER;
	op->deadline_ms = deadline_ms;
	op->cb = cb;
	op->arg = arg;
	op->next = c->ops;
	if (c->ops)
		c->ops->prev = op;
	c->ops = op;
	c->ops_n++;
	return op;
}

static struct cl_op *op_find(struct cluster *c, uint64_t id)
{
	for (struct cl_op *op = c->ops; op; op = op->next)
		if (op->id == id)
			return op;
	return NULL;
}

static struct cl_op *op_find_req(struct cluster *c, uint64_t req)
{
	struct cl_op *op = op_find(c, req);

	return op && !op->remote ? op : NULL;
}

static void op_unlink(struct cluster *c, struct cl_op *op)
{
	if (op->prev)
		op->prev->next = op->next;
	else
		c->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	c->ops_n--;
	free(op->data);
	free(op);
}

/* A testing hook for the end-to-end test of exactly-once writes: while
 * the file $CLUSTERD_TEST_DROP_WRITE_ANSWERS names exists, this node (as
 * leader) applies forwarded writes but never answers them, as if every
 * answer were lost on the way; the asking node's retries must then be
 * deduplicated. Unset in production: one getenv per answer. */
static int test_drop_answer(void)
{
	const char *p = getenv("CLUSTERD_TEST_DROP_WRITE_ANSWERS");
	struct stat st;

	return p != NULL && p[0] != '\0' && stat(p, &st) == 0;
}

/* A remote operation's end goes back to the node that asked. */
static void answer_remote(struct cluster *c, struct cl_op *op, int status,
			  uint64_t index, int result)
{
	struct rpc_msg m = {.req_id = op->from_req, .from = c->ident.id,
			    .a = rpc_status_put(status), .b = index};

	if (op->kind == CL_OP_WRITE && status == 0 && test_drop_answer())
		return;

	if (op->kind == CL_OP_READ) {
		m.type = RPC_READ_INDEX;
	} else {
		m.type = RPC_RESULT;
		m.c = rpc_status_put(result);
	}
	(void)cl_send_rpc(c, op->from, &m);
	c->fwd_served++;
}

/* A write that applied: the session record on this node says which entry
 * applied it and what it answered (the original one for a retry that was
 * deduplicated). The record is there: this node applied index, and the
 * node's ack moves past seq only after this op ends. (An HTTP client that
 * pushed 64 newer seqs through meanwhile evicted it: then the entry's own
 * answer stands.) */
static void session_answer(struct cluster *c, struct cl_op *op,
			   uint64_t *index, int *result)
{
	uint64_t idx = 0;
	int res = 0;

	if (!op->sess_wrapped ||
	    stor_sess_lookup(c->st, op->sess_client, op->sess_client_len,
			     op->sess_seq, &idx, &res) != 0)
		return;
	/* A later entry: the session expired (leaders' clocks far apart)
	 * and a stale copy applied anew; this attempt's own answer holds. */
	if (idx > *index)
		return;
	if (idx != *index)
		c->writes_dedup_seen++;
	*index = idx;
	*result = res;
}

/* Ends an operation: answers its origin and frees it. */
static void op_end(struct cluster *c, struct cl_op *op, int status,
		   uint64_t index, int result)
{
	if (status == 0 && op->kind == CL_OP_WRITE && !op->remote)
		session_answer(c, op, &index, &result);
	if (op->remote)
		answer_remote(c, op, status, index, result);
	else if (op->cb)
		op->cb(c, op, status, index, result);
	op_unlink(c, op);
}

static void op_wait_apply(struct cluster *c, struct cl_op *op, uint64_t index,
			  int status, int result)
{
	struct raftd_status st;

	raftd_status(c->rd, &st);
	if (st.applied >= index) {
		op_end(c, op, status, index, result);
		return;
	}
	op->state = CL_OP_WAIT_APPLY;
	op->wait_index = index;
	op->wait_status = status;
	op->wait_result = result;
}

/* The lowest seq of the node's current session still in flight, or seq
 * when none is older. */
static uint64_t own_ack(const struct cluster *c, uint64_t seq)
{
	uint64_t ack = seq;

	for (const struct cl_op *op = c->ops; op; op = op->next)
		if (op->kind == CL_OP_WRITE && op->sess_own &&
		    op->sess_wrapped && op->sess_epoch == c->sess_epoch &&
		    op->sess_seq < ack)
			ack = op->sess_seq;
	return ack;
}

static void new_node_session(struct cluster *c)
{
	uint64_t nonce;
	int n;

	randombytes_buf(&nonce, sizeof(nonce));
	n = snprintf(c->sess_node, sizeof(c->sess_node),
		     "node:%016" PRIx64 ":%016" PRIx64, c->ident.id, nonce);
	ASSERT(n > 0 && (size_t)n < sizeof(c->sess_node));
	c->sess_node_len = (uint8_t)n;
	c->sess_epoch++;
	c->sess_next = 1;
}

/* Wraps a write's command in the node's own session, once (a command
 * with an HTTP client's Idempotency-Key arrives wrapped already). */
static int session_wrap(struct cluster *c, struct cl_op *op)
{
	uint64_t seq, ack;
	uint8_t *out;
	size_t len;
	int rv;

	ASSERT(op->sess_client_len == 0);
	if (c->sess_node_len == 0 ||
	    c->sess_next - own_ack(c, c->sess_next) >= STOR_SESS_WINDOW_MAX)
		new_node_session(c);
	seq = c->sess_next;
	ack = own_ack(c, seq);
	rv = stor_sess_encode(c->sess_node, c->sess_node_len, seq,
			      cl_wall_ms(), ack, STOR_SESS_WINDOW_MAX,
			      op->data, op->len, &out, &len);
	if (rv != 0)
		return rv;
	c->sess_next++;
	free(op->data);
	op->data = out;
	op->len = len;
	memcpy(op->sess_client, c->sess_node, c->sess_node_len + 1u);
	op->sess_client_len = c->sess_node_len;
	op->sess_own = 1;
	op->sess_epoch = c->sess_epoch;
	op->sess_seq = seq;
	op->sess_wrapped = 1;
	return 0;
}

/* A write whose attempt may or may not have applied goes again, with the
 * same session and seq. */
static void retry_write(struct cluster *c, struct cl_op *op)
{
	ASSERT(op->kind == CL_OP_WRITE && op->sess_wrapped && !op->remote);
	op->state = CL_OP_WAIT_LEADER;
	c->writes_retried++;
	cl_kick_later(c, CL_RETRY_MS);
}

static int propose_local(struct cluster *c, struct cl_op *op)
{
	uint64_t now = cl_now(c);

	switch (op->kind) {
	case CL_OP_WRITE:
		return raftd_propose(c->rd, now, op->data, op->len, op->id);
	case CL_OP_READ:
		return raftd_read_index(c->rd, now, op->id);
	case CL_OP_CHANGE:
		return raftd_change(c->rd, now, op->change_op, op->change_id,
				    op->id);
	case CL_OP_TRANSFER:
		return raftd_transfer(c->rd, now, op->change_id);
	}
	return ERR_INVAL;
}

static void forward(struct cluster *c, struct cl_op *op)
{
	struct rpc_msg m = {.req_id = op->id, .from = c->ident.id};
	uint64_t now = cl_now(c);

	switch (op->kind) {
	case CL_OP_WRITE:
		m.type = RPC_WRITE;
		m.data = op->data;
		m.len = op->len;
		break;
	case CL_OP_READ:
		m.type = RPC_READ;
		break;
	case CL_OP_CHANGE:
		m.type = RPC_CHANGE;
		m.b = op->change_id;
		break;
	case CL_OP_TRANSFER:
		m.type = RPC_TRANSFER;
		m.b = op->change_id;
		break;
	}
	if (op->kind == CL_OP_CHANGE)
		m.a = op->change_op;
	else if (op->kind != CL_OP_TRANSFER)
		m.a = op->deadline_ms > now ? op->deadline_ms - now : 0;
	if (cl_send_rpc(c, c->leader, &m) == 0) {
		op->state = CL_OP_SENT;
		op->sent_to = c->leader;
		op->sent_ms = now;
		c->fwd_sent++;
	}
}

void cl_op_drive(struct cluster *c, struct cl_op *op)
{
	int rv;

	if (c->rd == NULL || c->failed) {
		op_end(c, op, c->failed ? c->failed : ERR_NOTLEADER, 0, 0);
		return;
	}
	if (op->kind == CL_OP_WRITE && !op->remote && !op->sess_wrapped &&
	    (rv = session_wrap(c, op)) != 0) {
		op_end(c, op, rv, 0, 0);
		return;
	}
	if (c->role == RAFT_LEADER) {
		/* raftd may end it inside the call (a read on a single
		 * voter): mark it proposed first, so its callback finds it. */
		uint64_t id = op->id;

		op->state = CL_OP_PROPOSED;
		op->sent_to = c->ident.id;
		rv = propose_local(c, op);
		if (op_find(c, id) == NULL)
			return; /* ended inside the call */
		if (rv == 0 && op->kind == CL_OP_TRANSFER && op->remote) {
			op_end(c, op, 0, 0, 0); /* the asker watches */
			return;
		}
		if (rv == 0) {
			/* A transfer has no callback of its own: it ends when
			 * the leader changes (cl_role_changed). */
			op->state = op->kind == CL_OP_TRANSFER ? CL_OP_SENT
							       : CL_OP_PROPOSED;
			op->sent_to = c->ident.id;
			return;
		}
		if (rv == ERR_NOTLEADER || rv == ERR_AGAIN || rv == ERR_BUSY) {
			op->state = CL_OP_WAIT_LEADER; /* retried */
			cl_kick_later(c, CL_RETRY_MS);
			return;
		}
		op_end(c, op, rv, 0, 0);
		return;
	}
	if (op->remote) {
		/* We lost leadership while it waited: tell the asker, who
		 * drives it again towards the new leader. */
		op_end(c, op, ERR_NOTLEADER, 0, 0);
		return;
	}
	if (c->leader != 0 && c->leader != c->ident.id)
		forward(c, op);
	else
		op->state = CL_OP_WAIT_LEADER;
}

void cl_ops_drive_waiting(struct cluster *c)
{
	struct cl_op *op = c->ops, *next;
	int waiting = 0;

	for (; op; op = next) {
		next = op->next;
		if (op->state == CL_OP_WAIT_LEADER) {
			cl_op_drive(c, op);
			waiting = 1;
		}
	}
	/* Still waiting: look again soon (a leader may appear, a queue may
	 * drain). */
	if (waiting)
		cl_kick_later(c, CL_RETRY_MS);
}

void cl_ops_expire(struct cluster *c)
{
	uint64_t now = cl_now(c);
	struct cl_op *op, *next;

	for (op = c->ops; op; op = next) {
		next = op->next;
		if (op->deadline_ms != 0 && now >= op->deadline_ms)
			op_end(c, op, ERR_TIMEOUT, 0, 0);
	}
}

void cl_ops_fail_all(struct cluster *c, int status)
{
	while (c->ops)
		op_end(c, c->ops, status, 0, 0);
}

void cl_ops_applied(struct cluster *c, raft_index applied)
{
	struct cl_op *op, *next;

	for (op = c->ops; op; op = next) {
		next = op->next;
		if (op->state == CL_OP_WAIT_APPLY && op->wait_index <= applied)
			op_end(c, op, op->wait_status, op->wait_index,
			       op->wait_result);
	}
}

/* raftd: a proposal or change ended. Called inside raftd: no raftd call
 * here, retries go through the kick. */
void cl_on_result(void *ctx, uint64_t cookie, int status, raft_index index,
		  int result)
{
	struct cluster *c = ctx;
	struct cl_op *op = op_find(c, cookie);

	if (op == NULL || op->state != CL_OP_PROPOSED)
		return; /* it expired meanwhile */
	if (status == ERR_NOTLEADER && !op->remote) {
		/* Certainly not applied: another entry took its index. */
		op->state = CL_OP_WAIT_LEADER;
		cl_kick(c);
		return;
	}
	if (status == ERR_TIMEOUT && op->kind == CL_OP_WRITE && !op->remote) {
		/* A snapshot replaced the log: maybe applied; the session
		 * makes asking again safe. */
		retry_write(c, op);
		return;
	}
	op_end(c, op, status, index, result);
}

void cl_on_read(void *ctx, uint64_t cookie, int status, raft_index index)
{
	struct cluster *c = ctx;
	struct cl_op *op = op_find(c, cookie);

	if (op == NULL || op->state != CL_OP_PROPOSED)
		return;
	if ((status == ERR_NOTLEADER || status == ERR_AGAIN) && !op->remote) {
		op->state = CL_OP_WAIT_LEADER;
		cl_kick_later(c, CL_RETRY_MS);
		return;
	}
	op_end(c, op, status, index, 0);
}

/* A request from another node, to run as its leader. */
static void serve_remote(struct cluster *c, const struct rpc_msg *m)
{
	static const uint8_t kinds[RPC_TYPE_MAX_] = {
		[RPC_WRITE] = CL_OP_WRITE, [RPC_READ] = CL_OP_READ,
		[RPC_CHANGE] = CL_OP_CHANGE, [RPC_TRANSFER] = CL_OP_TRANSFER};
	/* A forwarded deadline is capped: a peer cannot pin an operation
	 * here for longer than a client could. */
	uint64_t wait = m->a < 30000 ? m->a : 30000;
	struct cl_op *op;

	op = cl_op_new(c, kinds[m->type], 0, NULL, NULL);
	if (op == NULL) {
		struct cl_op tmp = {.remote = 1, .kind = kinds[m->type],
				    .from = m->from, .from_req = m->req_id};

		answer_remote(c, &tmp, ERR_AGAIN, 0, 0);
		return;
	}
	op->remote = 1;
	op->from = m->from;
	op->from_req = m->req_id;
	if (m->type == RPC_CHANGE) {
		op->change_op = (uint8_t)m->a;
		op->change_id = m->b;
		wait = 30000;
	} else if (m->type == RPC_TRANSFER) {
		op->change_id = m->b;
		wait = 30000;
	}
	op->deadline_ms = cl_now(c) + wait;
	if (m->len > 0) {
		op->data = malloc(m->len);
		if (op->data == NULL) {
			op_end(c, op, ERR_NOMEM, 0, 0);
			return;
		}
		memcpy(op->data, m->data, m->len);
		op->len = m->len;
	}
	cl_op_drive(c, op);
}

/* The leader's answer to one of our forwarded operations. */
static void answered(struct cluster *c, const struct rpc_msg *m,
		     uint64_t from)
{
	struct cl_op *op = op_find_req(c, m->req_id);
	int status = rpc_status_get(m->a);
	int result = rpc_status_get(m->c);

	if (op == NULL || op->state != CL_OP_SENT || op->sent_to != from)
		return; /* expired, or an answer from a leader we left */
	if (status == ERR_MALFORMED || result == ERR_MALFORMED) {
		c->rpc_malformed++;
		return;
	}
	if (status == ERR_NOTLEADER || status == ERR_AGAIN) {
		op->state = CL_OP_WAIT_LEADER; /* not proposed: retry */
		cl_kick_later(c, CL_RETRY_MS);
		return;
	}
	if (op->kind == CL_OP_WRITE &&
	    (status == ERR_TIMEOUT || status == ERR_SHUTDOWN)) {
		retry_write(c, op); /* maybe applied: the session decides */
		return;
	}
	if (op->kind == CL_OP_TRANSFER && status == 0)
		return; /* started; ends when the leader changes */
	if (status == 0 && !op->no_apply_wait &&
	    (op->kind == CL_OP_WRITE || op->kind == CL_OP_READ)) {
		/* Serve what follows from a state that includes it. */
		op_wait_apply(c, op, m->b, 0, result);
		return;
	}
	op_end(c, op, status, m->b, result);
}

void cl_on_rpc(struct cluster *c, const struct tp_peer *from,
	       const uint8_t *buf, size_t len)
{
	struct rpc_msg m;

	if (rpc_decode(buf, len, &m) != 0 || m.from != from->id) {
		c->rpc_malformed++;
		return;
	}
	switch (m.type) {
	case RPC_WRITE:
	case RPC_READ:
	case RPC_CHANGE:
	case RPC_TRANSFER:
		serve_remote(c, &m);
		break;
	case RPC_RESULT:
	case RPC_READ_INDEX:
		answered(c, &m, from->id);
		break;
	case RPC_METRICS_GET:
	case RPC_METRICS:
		cl_metrics_rpc(c, &m);
		break;
	default:
		c->rpc_malformed++;
	}
}

void cl_role_changed(struct cluster *c)
{
	struct cl_op *op, *next;

	for (op = c->ops; op; op = next) {
		next = op->next;
		if (op->state != CL_OP_SENT || op->sent_to == c->leader)
			continue;
		if (op->kind == CL_OP_TRANSFER) {
			if (c->leader != 0 &&
			    (op->change_id == 0 || op->change_id == c->leader))
				op_end(c, op, 0, 0, 0);
			continue;
		}
		/* A read or a membership change may go again (a change
		 * that did commit is refused as a repeat, ERR_INVAL). A
		 * write may have been replicated before the leader fell;
		 * its session makes the retry safe: applied at most once,
		 * answered with the first outcome. */
		if (op->kind == CL_OP_WRITE)
			retry_write(c, op);
		else
			op->state = CL_OP_WAIT_LEADER;
	}
}

/* The leader proposes "expire sessions idle for CL_SESS_TTL_MS" with its
 * wall clock; nobody waits for the answer. */
static void propose_expiry(struct cluster *c, uint64_t now)
{
	uint8_t *d;
	size_t n;

	if (c->sess_expire_ms == 0)
		c->sess_expire_ms = now + CL_SESS_EXPIRE_EVERY_MS;
	if (now < c->sess_expire_ms)
		return;
	c->sess_expire_ms = now + CL_SESS_EXPIRE_EVERY_MS;
	if (stor_sess_expire_encode(cl_wall_ms(), CL_SESS_TTL_MS, &d, &n) != 0)
		return;
	/* Refused (back-pressure, lost leadership): the next period tries
	 * again; expiry is housekeeping. */
	(void)raftd_propose(c->rd, now, d, n, CL_COOKIE_NONE);
	free(d);
}

void cl_sessions_tick(struct cluster *c, uint64_t now)
{
	struct cl_op *op;
	int resent = 0;

	for (op = c->ops; op; op = op->next) {
		if (op->kind != CL_OP_WRITE || op->remote ||
		    op->state != CL_OP_SENT ||
		    now < op->sent_ms + CL_FWD_RESEND_MS)
			continue;
		c->writes_resent++;
		op->state = CL_OP_WAIT_LEADER;
		resent = 1;
	}
	if (resent)
		cl_kick(c);
	if (c->role == RAFT_LEADER && c->rd != NULL)
		propose_expiry(c, now);
	else
		c->sess_expire_ms = 0;
}
