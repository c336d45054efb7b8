/*
 * snapshot.c: backups of the replicated state.
 *   GET /api/v1/snapshot[?stale=1]   the bytes of a snapshot file
 *        (node/snapfile.h), streamed in chunked transfer encoding, with
 *        X-Clusterd-Snapshot-Index and -Term naming the point of the log
 *        it holds. Admin tokens only: the file holds every token's hash.
 *        Linearizable by default (the file holds every write acknowledged
 *        before the request); stale=1 takes this node's state as it is.
 * A failure after the first byte cuts the connection, so a client never
 * mistakes a partial file for a whole one (it also checks the checksum).
 */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/api/api_int.h"

struct snap_op {
	struct api_op op; /* first */
	struct core_snap *snap;
};

static int snap_pull(void *arg, const uint8_t **p, size_t *len, int *done)
{
	struct snap_op *s = arg;
	struct core *core = &s->op.api->core;

	return core->ops->snapshot_next(core->ctx, s->snap, p, len, done);
}

static void snap_close(void *arg)
{
	struct snap_op *s = arg;
	struct core *core = &s->op.api->core;

	core->ops->snapshot_close(core->ctx, s->snap);
	free(s);
}

static void snap_opened(void *arg, int status, struct core_snap *snap,
			const struct core_snap_info *info)
{
	struct snap_op *s = arg;
	struct http_reply *rep = http_async_reply(s->op.async);
	struct http_stream_src src = {snap_pull, snap_close, s};

	if (status != 0) {
		if (status == ERR_NOTFOUND)
			api_error(rep, 503, "this node keeps no replica of the "
					    "state; ask a Raft member");
		else
			api_core_error(rep, status, "snapshot");
		api_op_finish(&s->op);
		return;
	}
	s->snap = snap;
	rep->status = 200;
	rep->content_type = "application/octet-stream";
	http_reply_header(rep, "X-Clusterd-Snapshot-Index", "%llu",
			  (unsigned long long)info->index);
	http_reply_header(rep, "X-Clusterd-Snapshot-Term", "%llu",
			  (unsigned long long)info->term);
	/* The stream owns s from here: snap_close frees it. */
	http_async_stream(s->op.async, &src);
}

int api_snapshot(struct api_req *r, struct http_reply *rep)
{
	const struct core_ops *ops = r->api->core.ops;
	struct snap_op *s;
	char v[8];
	size_t vl;
	int stale = 0, rc;

	if (r->role != CORE_ROLE_ADMIN)
		return api_error(rep, 403, "a snapshot needs an admin token");
	if (ops->snapshot_open == NULL)
		return api_error(rep, 501, "this node cannot make snapshots");
	rc = api_query(r->http, "stale", v, sizeof(v), &vl);
	if (rc == ERR_MALFORMED || (rc == 0 && strcmp(v, "0") != 0 &&
				    strcmp(v, "1") != 0 && vl != 0))
		return api_error(rep, 400, "stale must be 0 or 1");
	stale = rc == 0 && strcmp(v, "0") != 0;
	s = api_op_new(r, rep, sizeof(*s));
	if (s == NULL)
		return 0;
	rc = ops->snapshot_open(r->api->core.ctx, stale,
				api_deadline(r->api), snap_opened, s);
	if (rc != 0) {
		if (rc == ERR_NOTFOUND) {
			snap_opened(s, rc, NULL, NULL);
			return HTTP_PENDING;
		}
		return api_op_fail(&s->op, rc, "snapshot");
	}
	return HTTP_PENDING;
}
