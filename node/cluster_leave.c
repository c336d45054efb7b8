/*
 * cluster_leave.c: a graceful leave, in the order that keeps the cluster
 * available at every step:
 *  1. a leader hands leadership over first (thesis 3.10), so the removal
 *     below is committed by a leader that stays;
 *  2. this node is removed from the Raft configuration;
 *  3. its member record is deleted: from then on every node refuses its
 *     static key (a node that left cannot come back with its old keys);
 *  4. it announces its departure in gossip and keeps gossiping for a
 *     second so the news spreads, then asks its process to stop.
 * The node then forgets its identity and the cluster (node.c), so that it
 * can join again, as a new member with new keys.
 */
#include "node/cluster_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* How long the departure is gossiped before the process stops: five
 * gossip rounds at the default 200 ms. */
#define LEAVE_GOSSIP_MS 1000

enum leave_phase {
	LEAVE_TRANSFER = 1,
	LEAVE_REMOVE,
	LEAVE_FORGET,
	LEAVE_GOSSIP,
};

struct cl_leave {
	core_done_cb cb;
	void *arg;
	uint64_t deadline_ms;
	uint8_t phase;
	uint8_t op_running;
	uint64_t gossip_until_ms;
};

static void leave_done(struct cluster *c, int status, const char *msg)
{
	struct cl_leave *l = c->leave;

	if (l == NULL)
		return;
	c->leave = NULL;
	l->cb(l->arg, status, msg);
	free(l);
	if (status == 0)
		cl_exit(c, CLUSTER_EXIT_LEFT);
}

static void leave_step_done(struct cluster *c, struct cl_op *op, int status,
			    uint64_t index, int result)
{
	struct cl_leave *l = c->leave;

	(void)op;
	(void)index;
	if (l == NULL)
		return;
	l->op_running = 0;
	if (l->phase == LEAVE_REMOVE && status == ERR_INVAL &&
	    (c->rd == NULL ||
	     raft_conf_get(raftd_configuration(c->rd), c->ident.id) == NULL))
		status = 0; /* a repeat of a removal that committed */
	if (l->phase == LEAVE_FORGET && status == 0 && result == ERR_NOTFOUND)
		result = 0; /* already forgotten */
	if (status != 0 || result != 0) {
		leave_done(c, status != 0 ? status : result,
			   l->phase == LEAVE_TRANSFER
				   ? "could not hand leadership over"
			   : l->phase == LEAVE_REMOVE
				   ? "could not remove this node from Raft (the "
				     "last voter cannot leave: stop it instead)"
				   : "could not delete this node's member record");
		return;
	}
	l->phase++;
	cl_kick(c);
}

static int start_op(struct cluster *c, struct cl_leave *l)
{
	struct stor_cl_cmd cmd;
	struct cl_op *op;
	uint8_t *data;
	size_t len;

	switch (l->phase) {
	case LEAVE_TRANSFER:
		op = cl_op_new(c, CL_OP_TRANSFER, l->deadline_ms,
			       leave_step_done, NULL);
		break;
	case LEAVE_REMOVE:
		op = cl_op_new(c, CL_OP_CHANGE, l->deadline_ms, leave_step_done,
			       NULL);
		if (op) {
			op->change_op = RAFT_REMOVE;
			op->change_id = c->ident.id;
		}
		break;
	default:
		memset(&cmd, 0, sizeof(cmd));
		cmd.op = STOR_CL_MEMBER_DEL;
		cmd.member.id = c->ident.id;
		if (stor_cl_encode(&cmd, &data, &len) != 0)
			return ERR_NOMEM;
		op = cl_op_new(c, CL_OP_WRITE, l->deadline_ms, leave_step_done,
			       NULL);
		if (op == NULL) {
			free(data);
			break;
		}
		op->data = data;
		op->len = len;
		/* Removed from Raft in the step before, this node will not
		 * receive the entry: the leader's answer is the end. */
		op->no_apply_wait = 1;
		break;
	}
	if (op == NULL)
		return ERR_AGAIN;
	l->op_running = 1;
	cl_op_drive(c, op);
	return 0;
}

void cl_leave_tick(struct cluster *c)
{
	struct cl_leave *l = c->leave;
	uint64_t now;

	if (l == NULL || l->op_running)
		return;
	now = cl_now(c);
	if (l->phase == LEAVE_TRANSFER && c->role != RAFT_LEADER)
		l->phase = LEAVE_REMOVE;
	if (l->phase == LEAVE_GOSSIP) {
		if (l->gossip_until_ms == 0) {
			l->gossip_until_ms = now + LEAVE_GOSSIP_MS;
			if (c->gd)
				(void)gossipd_leave(c->gd, now);
		}
		if (now >= l->gossip_until_ms)
			leave_done(c, 0, NULL);
		else
			cl_kick_later(c, 100);
		return;
	}
	if (now >= l->deadline_ms) {
		leave_done(c, ERR_TIMEOUT, "the leave did not finish in time");
		return;
	}
	if (start_op(c, l) != 0)
		cl_kick_later(c, CL_RETRY_MS);
}

int cl_leave_start(struct cluster *c, uint64_t deadline_ms, core_done_cb cb,
		   void *arg)
{
	if (!c->joined)
		return ERR_INVAL;
	if (c->leave)
		return ERR_BUSY;
	c->leave = calloc(1, sizeof(*c->leave));
	if (c->leave == NULL)
		return ERR_NOMEM;
	c->leave->cb = cb;
	c->leave->arg = arg;
	c->leave->deadline_ms = deadline_ms;
	c->leave->phase = LEAVE_TRANSFER;
	TRACE_I(c->log, "leave", "leaving the cluster");
	cl_kick(c);
	return 0;
}

void cl_leave_fail_all(struct cluster *c, int status)
{
	struct cl_leave *l = c->leave;

	if (l == NULL)
		return;
	c->leave = NULL;
	l->cb(l->arg, status, "the node is shutting down");
	free(l);
}
