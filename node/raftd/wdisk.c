/*
 * wdisk.c: the built-in disk port, over the store's writer threads
 * (stor_writer: group commit off the loop, storage.h).
 *
 * Each port write becomes one stor_wreq (a write larger than the
 * writer's batch bound is split, the hard state riding on the last part)
 * and takes the next sequence number as its gate; the writer completes
 * requests in submission order, so the highest completed number is the
 * durable mark. raft's entries are borrowed only until its next step, so
 * a request carries a copy of them (one allocation: request, entries,
 * data). When the writer's queue is full (ERR_AGAIN), requests wait in an
 * overflow list, in order, and are submitted as completions make room;
 * its length is bounded by raft's own bounds (uncommitted bytes on a
 * leader, the leader's in-flight window on a follower).
 *
 * Completion callbacks run inside stor_writer_reap and only record what
 * completed; raftd reads the mark afterwards (raftd.c, pump), so no
 * callback steps raft in the middle of carrying out an update.
 *
 * A direct write (a truncation alone, a snapshot install, the
 * configuration record) must follow every earlier write, so it first
 * waits for the writer to finish all of them: a blocking poll of the
 * writer's descriptor on the owner's thread. Those are rare (a conflict
 * repaired, a snapshot received, a membership change) and cost at most
 * the fsyncs already in flight.
 */
#include "node/raftd/raftd_int.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"

/* Poll period while draining; only bounds one wait, not the drain. */
#define DRAIN_POLL_MS 1000

struct wreq {
	struct stor_wreq req;
	struct raftd_wdisk *w;
	uint64_t seq;
	struct stor_hard_state hs;
	struct wreq *next; /* the overflow list */
	struct stor_entry e[];
};

struct raftd_wdisk {
	struct stor_writer *sw;
	uint64_t issued; /* the last sequence number given */
	uint64_t done;	 /* completed (durable) up to this one */
	uint64_t inflight;
	int err; /* the first failed request's status */
	struct wreq *ovf_head, *ovf_tail;
};

static void on_done(struct stor_wreq *req, int status)
{
	struct wreq *r = req->data;
	struct raftd_wdisk *w = r->w;

	ASSERT(w->inflight > 0);
	w->inflight--;
	if (status != 0 && w->err == 0)
		w->err = status;
	if (status == 0 && w->err == 0) {
		ASSERT(r->seq > w->done);
		w->done = r->seq;
	}
	free(r);
}

static struct wreq *wreq_new(struct raftd_wdisk *w, const struct stor_entry *e,
			     size_t n, const struct stor_hard_state *hs)
{
	size_t bytes = sizeof(struct wreq) + n * sizeof(struct stor_entry);
	struct wreq *r;
	uint8_t *p;

	for (size_t i = 0; i < n; i++)
		bytes += e[i].len;
	r = malloc(bytes);
	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	p = (uint8_t *)&r->e[n];
	for (size_t i = 0; i < n; i++) {
		r->e[i] = e[i];
		r->e[i].data = p;
		if (e[i].len > 0)
			memcpy(p, e[i].data, e[i].len);
		p += e[i].len;
	}
	r->w = w;
	r->req.entries = r->e;
	r->req.n = n;
	if (hs != NULL) {
		r->hs = *hs;
		r->req.hs = &r->hs;
	}
	r->req.cb = on_done;
	r->req.data = r;
	return r;
}

/* Submits overflowed requests, in order, while the writer takes them. */
static int submit_overflow(struct raftd_wdisk *w)
{
	while (w->ovf_head != NULL) {
		struct wreq *r = w->ovf_head;
		int rv = stor_writer_submit(w->sw, &r->req);

		if (rv == ERR_AGAIN)
			return 0;
		w->ovf_head = r->next;
		if (w->ovf_head == NULL)
			w->ovf_tail = NULL;
		if (rv != 0) {
			free(r);
			return rv;
		}
		w->inflight++;
	}
	return 0;
}

static int issue(struct raftd_wdisk *w, const struct stor_entry *e, size_t n,
		 const struct stor_hard_state *hs)
{
	struct wreq *r = wreq_new(w, e, n, hs);
	int rv;

	if (r == NULL)
		return ERR_NOMEM;
	r->seq = ++w->issued;
	if (w->ovf_head == NULL) {
		rv = stor_writer_submit(w->sw, &r->req);
		if (rv == 0) {
			w->inflight++;
			return 0;
		}
		if (rv != ERR_AGAIN) {
			free(r);
			return rv;
		}
	}
	if (w->ovf_tail != NULL)
		w->ovf_tail->next = r;
	else
		w->ovf_head = r;
	w->ovf_tail = r;
	return 0;
}

static int port_write(void *ctx, const struct stor_entry *e, size_t n,
		      const struct stor_hard_state *hs, uint64_t *gate)
{
	struct raftd_wdisk *w = ctx;
	int rv = w->err;

	while (rv == 0 && n > STOR_WRITER_BATCH_MAX) {
		rv = issue(w, e, STOR_WRITER_BATCH_MAX, NULL);
		e += STOR_WRITER_BATCH_MAX;
		n -= STOR_WRITER_BATCH_MAX;
	}
	rv = rv ? rv : issue(w, e, n, hs);
	*gate = w->issued;
	return rv;
}

int raftd__wdisk_mark(const struct raftd_wdisk *w, uint64_t *mark)
{
	*mark = w->done;
	return w->err;
}

int raftd__wdisk_reap(struct raftd_wdisk *w, uint64_t *mark)
{
	int rv;

	stor_writer_reap(w->sw);
	rv = submit_overflow(w);
	if (rv != 0 && w->err == 0)
		w->err = rv;
	*mark = w->done;
	return w->err;
}

static int port_direct_begin(void *ctx, int boot)
{
	struct raftd_wdisk *w = ctx;
	uint64_t mark;

	(void)boot;
	while (w->err == 0 && (w->inflight > 0 || w->ovf_head != NULL)) {
		struct pollfd p = {stor_writer_fd(w->sw), POLLIN, 0};

		(void)poll(&p, 1, DRAIN_POLL_MS);
		(void)raftd__wdisk_reap(w, &mark);
	}
	return w->err;
}

static void port_direct_end(void *ctx, uint64_t *gate)
{
	struct raftd_wdisk *w = ctx;

	/* Drained before, synced by the store itself: durable with
	 * everything issued so far. */
	*gate = w->issued;
}

int raftd__wdisk_fd(const struct raftd_wdisk *w)
{
	return stor_writer_fd(w->sw);
}

int raftd__wdisk_start(struct raftd *d)
{
	struct raftd_wdisk *w = calloc(1, sizeof(*w));
	int rv;

	if (w == NULL)
		return ERR_NOMEM;
	rv = stor_writer_start(d->st, &w->sw);
	if (rv != 0) {
		free(w);
		return rv;
	}
	d->wd = w;
	d->port = (struct raftd_disk){w, port_write, port_direct_begin,
				      port_direct_end};
	return 0;
}

void raftd__wdisk_stop(struct raftd *d)
{
	struct raftd_wdisk *w = d->wd;

	if (w == NULL)
		return;
	stor_writer_stop(w->sw); /* finishes and reaps what was submitted */
	while (w->ovf_head != NULL) {
		struct wreq *r = w->ovf_head;

		w->ovf_head = r->next;
		free(r);
	}
	free(w);
	d->wd = NULL;
}
