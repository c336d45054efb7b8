/*
 * writer.c: the log writer, so the event loop never waits on fsync (issue
 * 4), with group commit pipelined against the disk.
 *
 * Group commit: every request queued while the disk was busy goes out in
 * the next batch, so one fsync acknowledges up to N proposers' appends and
 * the disk's fsync rate bounds batches per second, not entries.
 *
 * Pipelining (docs/decisions.md, "Group commit pipelined"): building and
 * writing a batch (our encoding, RocksDB's WriteBatch, memtable insert,
 * the WAL record handed to the OS) costs about half an fsync of CPU here.
 * Done in series with the fsync, the disk idles for that time. So a batch
 * is written unsynced, and a separate sync (RocksDB's FlushWAL(true))
 * makes durable everything written before it began, while the next batch
 * is being written. Two workers share both jobs: whoever is free syncs
 * what is written (first) or builds what is queued; one request at a time
 * thus costs no more handoffs than a single thread, and under load one
 * worker keeps the disk busy syncing while the other builds.
 *
 * The invariants, and why they hold:
 *   - A request is acknowledged only after an fsync that began after its
 *     data was written. A request joins the written list only once its
 *     batch's rocksdb_write returned; with manual_wal_flush off RocksDB
 *     has then handed the WAL record to the OS (log::Writer::AddRecord
 *     flushes). A sync takes the whole written list under mu and only
 *     then calls FlushWAL(true), i.e. DBImpl::SyncWAL, which fdatasyncs
 *     every live WAL file up to the current one (older files after a
 *     memtable switch included; RocksDB 7.7 or later, see kv_rocks.c);
 *     only the requests it took are acknowledged by it. The unit test test_writer_pipeline_acks checks
 *     this with a sync slowed until another batch is written during it.
 *   - Durability follows submission order. One worker builds at a time
 *     (building), taking from the head of the queue, so batches enter
 *     RocksDB in submission order and their WAL records follow each other
 *     in that order. Recovery (kPointInTimeRecovery, kv_rocks.c) replays
 *     the WAL up to its first bad record: what survives a crash is always
 *     a prefix of the writes, never a later one without an earlier one;
 *     and walscan.c refuses a WAL where intact records follow damage.
 *   - Callbacks run in submission order: syncs run one at a time
 *     (syncing), each takes the written list in order and appends it to
 *     the done list in order.
 *   - A failed sync fails every request it took and makes the store fail
 *     (stor_fail is sticky), so no later sync can acknowledge anything
 *     written after data whose sync failed.
 * Note: the log's end (stor_log_last) moves when a batch is written, as
 * RocksDB makes the entries readable then; durability is what the
 * callbacks report.
 *
 * The owner thread queues requests (bounded: ERR_AGAIN when full, the
 * caller pushes back on its proposers); written but unsynced entries are
 * bounded too (the builder waits). Finished requests go on a done list and
 * an eventfd becomes readable; the owner reaps the done list on its own
 * thread, where the callbacks run.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/err.h"
#include "storage/stor_int.h"

#define WRITER_WORKERS 2

struct stor_writer {
	struct stor *s;
	pthread_t th[WRITER_WORKERS];
	pthread_mutex_t mu;
	pthread_cond_t cv; /* work for a worker, or stop */
	struct stor_wreq *qhead, *qtail; /* waiting, in submit order */
	size_t qlen;
	/* Written (readable, maybe not durable), waiting for a sync. */
	struct stor_wreq *whead, *wtail;
	size_t wentries;
	struct stor_wreq *dhead, *dtail; /* done, not yet reaped */
	int building; /* a worker is writing a batch: one at a time */
	int syncing;  /* a worker is syncing: one at a time */
	int stop;
	int efd;
	uint64_t batches, entries;
	struct kv_batch batch; /* the building worker's, reused */
	struct stor_writer_hooks hooks;
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

/* Writes one group as one unsynced batch; sets each request's status. */
static void write_group(struct stor_writer *w, struct stor_wreq *group)
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
	rc = w->batch.count > 0 ? stor_write(s, &w->batch, 0, "log append")
				: 0;
	if (rc == 0 && entries > 0)
		stor_log_set_end(s, last, last_term);
	pthread_mutex_unlock(&s->wmu);
	for (struct stor_wreq *r = group; r != NULL; r = r->next)
		if (r->status == 0)
			r->status = rc;
}

/* Builds and writes the next group; called and returns with mu held. */
static void build_next(struct stor_writer *w)
{
	struct stor_wreq *group = take_group(w), *r, *last = NULL;
	size_t n = 0;

	w->building = 1;
	pthread_mutex_unlock(&w->mu);
	write_group(w, group);
	for (r = group; r != NULL; r = r->next) {
		if (w->hooks.written != NULL)
			w->hooks.written(w->hooks.ctx, r);
		n += r->n;
		last = r;
	}
	pthread_mutex_lock(&w->mu);
	w->building = 0;
	if (w->wtail != NULL)
		w->wtail->next = group;
	else
		w->whead = group;
	w->wtail = last;
	w->wentries += n;
}

/* Syncs everything on the written list and completes it; called and
 * returns with mu held. */
static void sync_written(struct stor_writer *w)
{
	struct stor_wreq *group = w->whead, *r, *last = NULL;
	uint64_t one = 1;
	size_t entries = 0;
	int need = 0, rc = 0;

	/* Taken before the sync begins: only these were written before it. */
	w->whead = w->wtail = NULL;
	w->wentries = 0;
	w->syncing = 1;
	if (w->qhead != NULL && !w->building)
		pthread_cond_signal(&w->cv); /* the other worker builds */
	pthread_mutex_unlock(&w->mu);
	for (r = group; r != NULL; r = r->next)
		need |= r->status == 0;
	if (w->hooks.sync_begin != NULL)
		w->hooks.sync_begin(w->hooks.ctx);
	if (need)
		rc = stor_sync(w->s, "log sync");
	if (w->hooks.sync_end != NULL)
		w->hooks.sync_end(w->hooks.ctx, rc);
	for (r = group; r != NULL; r = r->next) {
		if (r->status == 0)
			r->status = rc;
		if (r->status == 0)
			entries += r->n;
		last = r;
	}
	pthread_mutex_lock(&w->mu);
	w->syncing = 0;
	w->batches += entries > 0;
	w->entries += entries;
	if (w->dtail != NULL)
		w->dtail->next = group;
	else
		w->dhead = group;
	w->dtail = last;
	/* A full counter (never, in practice) still leaves it readable,
	 * which is all the owner needs. */
	if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		TRACE_E(w->s->tr, TRACE_MOD, "writer eventfd: errno %d", errno);
}

/* A worker: syncs what is written (first: the disk is the bottleneck),
 * else builds what is queued, else waits. Whichever job a worker finishes,
 * it looks again itself, so no work waits on a wake-up; a wake-up is only
 * needed when work appears for an idle worker (submit, or a sync starting
 * while requests are queued). */
static void *worker_main(void *arg)
{
	struct stor_writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (w->whead != NULL && !w->syncing)
			sync_written(w);
		else if (w->qhead != NULL && !w->building &&
			 w->wentries < STOR_WRITER_BATCH_MAX)
			build_next(w);
		else if (w->stop && w->qhead == NULL && w->whead == NULL)
			break; /* a batch in another worker's hands: it syncs
				  it itself */
		else
			pthread_cond_wait(&w->cv, &w->mu);
	}
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Stops the workers started so far (start's error path and stop). */
static void stop_workers(struct stor_writer *w, int started)
{
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < started; i++)
		ASSERT(pthread_join(w->th[i], NULL) == 0);
}

int stor_writer_start(struct stor *s, struct stor_writer **out)
{
	struct stor_writer *w = calloc(1, sizeof(*w));
	int rc = 0, started;

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
	for (started = 0; started < WRITER_WORKERS; started++) {
		rc = pthread_create(&w->th[started], NULL, worker_main, w);
		if (rc != 0)
			break;
	}
	if (rc != 0) {
		rc = -rc;
		goto err_stop;
	}
	s->writer_running = 1;
	*out = w;
	return 0;

err_stop:
	stop_workers(w, started);
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

void stor_debug_writer_hooks(struct stor_writer *w,
			     const struct stor_writer_hooks *h)
{
	pthread_mutex_lock(&w->mu);
	w->hooks = *h;
	pthread_mutex_unlock(&w->mu);
}

void stor_writer_stop(struct stor_writer *w)
{
	if (w == NULL)
		return;
	ASSERT(w->s->writer_running);
	stop_workers(w, WRITER_WORKERS);
	stor_writer_reap(w);
	ASSERT(w->qhead == NULL && w->whead == NULL && w->dhead == NULL);
	close(w->efd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	kv_batch_free(&w->batch);
	w->s->writer_running = 0;
	free(w);
}
