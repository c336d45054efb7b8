/*
 * cluster_snap.c: backups served by any node (core.h, snapshot_open):
 * the bytes of a snapshot file (node/snapfile.h) made from the store's
 * snapshot stream (storage.h, stor_snap_reader_*).
 *
 * Consistency: a read barrier first (ReadIndex, as a linearizable read),
 * then the reader pins a RocksDB snapshot of the applied state, so the
 * file holds every write acknowledged before the request and is one
 * point of the log (the header's index and term), while the node keeps
 * applying. Memory: one chunk of the stream plus its frame, whatever the
 * state's size; the HTTP layer pulls the next piece only once the
 * previous one was written to the socket.
 *
 * Lifetime: open streams are listed on the cluster. cluster_stop closes
 * their readers before the store closes (cl_snaps_detach) and detaches
 * them: next then answers ERR_SHUTDOWN and close only frees, so a stream
 * may outlive the cluster it came from (the HTTP server stops after it).
 */
#include "node/cluster_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/snapfile.h"

enum { SNAP_HEADER = 0, SNAP_FRAMES, SNAP_END, SNAP_DONE };

struct core_snap {
	struct core_snap *next, *prev;
	struct cluster *c; /* NULL once detached */
	struct stor_snap_reader *r;
	struct snapfile_enc enc;
	struct snapfile_header hdr;
	int stage;
	uint8_t *buf; /* the piece handed out */
	size_t cap;
};

/* What snapshot_open waits for: the barrier. */
struct snap_open {
	core_snap_cb cb;
	void *arg;
};

static void snap_unlink(struct core_snap *s)
{
	struct cluster *c = s->c;

	if (c == NULL)
		return;
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		c->snaps = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->c = NULL;
}

static void snap_free(struct core_snap *s)
{
	snap_unlink(s);
	stor_snap_reader_close(s->r);
	free(s->buf);
	free(s);
}

void cl_snaps_detach(struct cluster *c)
{
	while (c->snaps != NULL) {
		struct core_snap *s = c->snaps;

		stor_snap_reader_close(s->r);
		s->r = NULL;
		snap_unlink(s);
	}
}

/* Opens the reader and fills the header from the state it pinned. */
static int snap_make(struct cluster *c, struct core_snap **out)
{
	struct core_snap *s = calloc(1, sizeof(*s));
	uint8_t cid[STOR_CL_ID_LEN];
	int rv;

	if (s == NULL)
		return ERR_NOMEM;
	rv = stor_snap_reader_open(c->st, SNAPFILE_CHUNK, &s->r);
	if (rv != 0) {
		free(s);
		return rv;
	}
	/* The applied point as of the pinned snapshot: nothing applies
	 * between the reader's open and these reads (one thread). */
	s->hdr.version = SNAPFILE_VERSION;
	s->hdr.index = stor_applied_index(c->st);
	s->hdr.term = stor_applied_term(c->st);
	s->hdr.created_ms = cl_wall_ms();
	if (stor_cl_cluster_id(c->st, cid) == 0)
		memcpy(s->hdr.cluster_id, cid, SNAPFILE_ID_LEN);
	snapfile_enc_init(&s->enc);
	s->c = c;
	s->next = c->snaps;
	if (c->snaps != NULL)
		c->snaps->prev = s;
	c->snaps = s;
	*out = s;
	return 0;
}

/* After the barrier: the stream, or why not, to the caller. */
static void snap_opened(struct cluster *c, struct snap_open *o, int status)
{
	struct core_snap *s = NULL;
	struct core_snap_info info = {0, 0};

	if (status == 0 && c->stopping)
		status = ERR_SHUTDOWN;
	if (status == 0)
		status = snap_make(c, &s);
	if (status == 0) {
		info.index = s->hdr.index;
		info.term = s->hdr.term;
		TRACE_I(c->log, "snapshot", "backup stream opened at index %llu "
			"(term %llu)", (unsigned long long)info.index,
			(unsigned long long)info.term);
	}
	o->cb(o->arg, status, s, status == 0 ? &info : NULL);
	free(o);
}

static void snap_read_done(struct cluster *c, struct cl_op *op, int status,
			   uint64_t index, int result)
{
	(void)index;
	(void)result;
	snap_opened(c, op->arg, status);
}

int cl_snap_open(void *ctx, int stale, uint64_t deadline_ms,
		 core_snap_cb cb, void *arg)
{
	struct cluster *c = ctx;
	struct snap_open *o;
	struct cl_op *op;

	if (!c->joined || c->rd == NULL || c->stopping)
		return ERR_NOTLEADER;
	if (raft_conf_get(raftd_configuration(c->rd), c->ident.id) == NULL)
		return ERR_NOTFOUND; /* a gossip-only member keeps no state */
	o = malloc(sizeof(*o));
	if (o == NULL)
		return ERR_NOMEM;
	o->cb = cb;
	o->arg = arg;
	if (stale) {
		snap_opened(c, o, 0);
		return 0;
	}
	op = cl_op_new(c, CL_OP_READ, deadline_ms, snap_read_done, o);
	if (op == NULL) {
		free(o);
		return ERR_AGAIN;
	}
	cl_op_drive(c, op);
	return 0;
}

static int snap_reserve(struct core_snap *s, size_t n)
{
	uint8_t *p;

	if (n <= s->cap)
		return 0;
	p = realloc(s->buf, n);
	if (p == NULL)
		return ERR_NOMEM;
	s->buf = p;
	s->cap = n;
	return 0;
}

/* The next frame: a chunk of the store's stream behind its length. */
static int snap_frame(struct core_snap *s, size_t *len)
{
	const uint8_t *chunk;
	size_t n;
	int done = 0, rv = stor_snap_reader_next(s->r, &chunk, &n, &done);

	if (rv != 0)
		return rv;
	if (n == 0 || n > SNAPFILE_FRAME_MAX)
		return ERR_TOOBIG;
	rv = snap_reserve(s, n + 4);
	if (rv != 0)
		return rv;
	snapfile_enc_frame(&s->enc, n, s->buf);
	memcpy(s->buf + 4, chunk, n);
	snapfile_enc_bytes(&s->enc, chunk, n);
	*len = n + 4;
	if (done)
		s->stage = SNAP_END;
	return 0;
}

int cl_snap_next(void *ctx, struct core_snap *s, const uint8_t **p,
		     size_t *len, int *done)
{
	int rv = 0;

	(void)ctx;
	*done = 0;
	if (s->c == NULL)
		return ERR_SHUTDOWN;
	ASSERT(s->stage != SNAP_DONE);
	switch (s->stage) {
	case SNAP_HEADER:
		rv = snap_reserve(s, SNAPFILE_HEADER_LEN);
		if (rv == 0)
			snapfile_enc_header(&s->enc, &s->hdr, s->buf);
		*len = SNAPFILE_HEADER_LEN;
		s->stage = SNAP_FRAMES;
		break;
	case SNAP_FRAMES:
		rv = snap_frame(s, len);
		break;
	default:
		rv = snap_reserve(s, 4 + SNAPFILE_SUM_LEN);
		if (rv == 0)
			snapfile_enc_end(&s->enc, s->buf);
		*len = 4 + SNAPFILE_SUM_LEN;
		s->stage = SNAP_DONE;
		*done = 1;
		break;
	}
	if (rv != 0)
		return rv;
	*p = s->buf;
	return 0;
}

void cl_snap_close(void *ctx, struct core_snap *s)
{
	(void)ctx;
	if (s != NULL)
		snap_free(s);
}
