/*
 * writer.c: the log writer thread, so the event loop never waits on
 * fsync (issue 4), and group commit: every request queued while the
 * previous batch was being synced goes out in the next batch, under one
 * fsync. With N proposers waiting, one fsync acknowledges up to N
 * appends; the disk's fsync rate bounds batches per second, not entries.
 *
 * The owner thread queues requests (bounded: ERR_AGAIN when full, the
 * caller pushes back on its proposers). The thread writes and syncs, puts
 * finished requests on a done list and makes an eventfd readable; the
 * owner reaps the done list on its own thread, where the callbacks run.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/err.h"
#include "storage/stor_int.h"

struct stor_writer {
	struct stor *s;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct stor_wreq *qhead, *qtail; /* waiting, in submit order */
	size_t qlen;
	struct stor_wreq *dhead, *dtail; /* done, not yet reaped */
	int stop;
	int efd;
	uint64_t batches, entries;
	struct kv_batch batch; /* writer thread only, reused */
};

/* Takes requests off the queue up to the batch bound (at least one). */
static struct stor_wreq *take_group(struct stor_writer *w)
{
	struct stor_wreq *head = w->qhead, *tail = head;
	size_t n = head->n;

	w->qlen--;
	while (tail->next != NULL && n + tail->next->n <= STOR_WRITER_BATCH_MAX) {
		tail = tail->next;
		n += tail->n;
		w->qlen--;
	}
	w->qhead = tail->next;
	if (w->qhead == NULL)
		w->qtail = NULL;
	tail->next = NULL;
	return head;
}

static int batch_hard_state(struct kv_batch *b,
			    const struct stor_hard_state *hs)
{
	uint64_t v[3] = {hs->term, hs->vote, hs->commit};

	return stor_batch_meta(b, META_HARD_STATE, v, 3);
}

/* Writes one group as one synced batch; sets each request's status. */
static size_t write_group(struct stor_writer *w, struct stor_wreq *group)
{
	struct stor *s = w->s;
	uint64_t last, last_term;
	size_t entries = 0;
	int rc;

	kv_batch_clear(&w->batch);
	pthread_mutex_lock(&s->wmu);
	pthread_mutex_lock(&s->mu);
	last = s->last;
	last_term = s->last_term;
	pthread_mutex_unlock(&s->mu);
	for (struct stor_wreq *r = group; r != NULL; r = r->next) {
		size_t mark_len = w->batch.buf.len, mark_count = w->batch.count;
		uint64_t mark_last = last, mark_term = last_term;

		/* A bad request fails alone, taking back whatever of it was
		 * already in the batch; the ones after it that relied on it
		 * fail their own index check. */
		r->status = r->n > 0 ? stor_log_batch_append(s, &w->batch,
							     r->entries, r->n,
							     &last, &last_term)
				     : 0;
		if (r->status == 0 && r->hs != NULL)
			r->status = batch_hard_state(&w->batch, r->hs);
		if (r->status != 0) {
			w->batch.buf.len = mark_len;
			w->batch.count = mark_count;
			last = mark_last;
			last_term = mark_term;
			continue;
		}
		entries += r->n;
	}
	rc = w->batch.count > 0 ? stor_write(s, &w->batch, 1, "log append")
				: 0;
	if (rc == 0 && entries > 0)
		stor_log_set_end(s, last, last_term);
	pthread_mutex_unlock(&s->wmu);
	for (struct stor_wreq *r = group; r != NULL; r = r->next)
		if (r->status == 0)
			r->status = rc;
	return rc == 0 ? entries : 0;
}

static void *writer_main(void *arg)
{
	struct stor_writer *w = arg;
	struct stor_wreq *group, *last;
	uint64_t one = 1;
	size_t entries;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->qhead == NULL && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->qhead == NULL)
			break;
		group = take_group(w);
		pthread_mutex_unlock(&w->mu);
		entries = write_group(w, group);
		pthread_mutex_lock(&w->mu);
		w->batches += entries > 0;
		w->entries += entries;
		for (last = group; last->next != NULL; last = last->next)
			;
		if (w->dtail != NULL)
			w->dtail->next = group;
		else
			w->dhead = group;
		w->dtail = last;
		/* A full counter (never, in practice) still leaves it
		 * readable, which is all the owner needs. */
		if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			TRACE_E(w->s->tr, TRACE_MOD, "writer eventfd: errno %d",
				errno);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int stor_writer_start(struct stor *s, struct stor_writer **out)
{
	struct stor_writer *w = calloc(1, sizeof(*w));
	int rc;

	if (s->writer_running) {
		free(w);
		return ERR_BUSY; /* one writer per store: it orders the log */
	}
	if (w == NULL)
		return ERR_NOMEM;
	w->s = s;
	kv_batch_init(&w->batch);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		rc = -errno;
		goto err_free;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	rc = pthread_create(&w->th, NULL, writer_main, w);
	if (rc != 0) {
		rc = -rc;
		goto err_close_fd;
	}
	s->writer_running = 1;
	*out = w;
	return 0;

err_close_fd:
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	close(w->efd);
err_free:
	kv_batch_free(&w->batch);
	free(w);
	return rc;
}

int stor_writer_submit(struct stor_writer *w, struct stor_wreq *req)
{
	int rc = stor_check_write(w->s);

	if (rc != 0)
		return rc;
	if ((req->n == 0 && req->hs == NULL) ||
	    req->n > STOR_WRITER_BATCH_MAX || req->cb == NULL)
		return ERR_INVAL;
	pthread_mutex_lock(&w->mu);
	if (w->stop) {
		rc = ERR_SHUTDOWN;
	} else if (w->qlen >= STOR_WRITER_QUEUE_MAX) {
		rc = ERR_AGAIN;
	} else {
		req->next = NULL;
		req->status = 0;
		if (w->qtail != NULL)
			w->qtail->next = req;
		else
			w->qhead = req;
		w->qtail = req;
		w->qlen++;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int stor_writer_fd(struct stor_writer *w)
{
	return w->efd;
}

size_t stor_writer_reap(struct stor_writer *w)
{
	struct stor_wreq *r, *next;
	uint64_t cnt;
	size_t n = 0;

	/* Clear the fd before taking the list: a completion that lands
	 * after this read makes it readable again, so none is missed. */
	if (read(w->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		TRACE_E(w->s->tr, TRACE_MOD, "writer eventfd read: errno %d",
			errno);
	pthread_mutex_lock(&w->mu);
	r = w->dhead;
	w->dhead = w->dtail = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; r != NULL; r = next) {
		next = r->next;
		r->next = NULL;
		r->cb(r, r->status);
		n++;
	}
	return n;
}

void stor_writer_stats(struct stor_writer *w, uint64_t *batches,
		       uint64_t *entries)
{
	pthread_mutex_lock(&w->mu);
	*batches = w->batches;
	*entries = w->entries;
	pthread_mutex_unlock(&w->mu);
}

void stor_writer_stop(struct stor_writer *w)
{
	if (w == NULL)
		return;
	ASSERT(w->s->writer_running);
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	ASSERT(pthread_join(w->th, NULL) == 0);
	stor_writer_reap(w);
	ASSERT(w->qhead == NULL && w->dhead == NULL);
	close(w->efd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	kv_batch_free(&w->batch);
	w->s->writer_running = 0;
	free(w);
}
