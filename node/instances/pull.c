/*
 * pull.c: core.h's http_pull, the streaming sibling of forward.c: a GET
 * to another node's API whose answer body (a save of any size) comes
 * back a buffer at a time with bounded memory.
 *
 * libcurl's easy interface runs on a thread of its own (a download
 * lasts as long as the client reads, too long to hold one of libuv's
 * four pool threads). Between that thread and the loop is a ring of
 * PULL_SLOTS buffers of PULL_SLOT bytes: curl's write callback fills
 * the slot after the ready ones and, when every slot is full, waits on
 * a condition variable until the loop hands one back. That wait is the
 * back-pressure: a slow client slows the owner's socket, and a pull
 * never holds more than PULL_SLOTS * PULL_SLOT bytes. The loop learns
 * of progress through a uv_async_t; a closed pull aborts the transfer
 * from curl's write or progress callback and is freed once its thread
 * has ended.
 */
#include "node/instances/pull.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "base/assert.h"
#include "base/err.h"

/* 256 KiB slots, four of them: 1 MiB per download in flight, enough to
 * keep a loopback or LAN link busy while the client's socket drains. */
#define PULL_SLOT (256u * 1024)
#define PULL_SLOTS 4
/* A peer that sends nothing for this long is given up. */
#define PULL_CONNECT_MS 5000L
#define PULL_STALL_S 60L

/* Downloads proxied at once by this process: each holds a thread and
 * PULL_SLOTS * PULL_SLOT bytes. A process-wide bound, as the threads
 * are a process-wide resource. */
static atomic_uint pulls_running;

struct core_pull {
	uv_loop_t *loop;
	uv_async_t async;
	uv_thread_t thread;
	uv_mutex_t mu;
	uv_cond_t cond;
	char url[256];
	char auth[512];
	/* Under mu. Ready slots are head .. head+count-1 (mod PULL_SLOTS);
	 * the writer fills slot head+count; the consumer may hold head. */
	uint8_t *slot[PULL_SLOTS];
	size_t fill[PULL_SLOTS];
	unsigned head, count;
	int lent;
	int head_known;
	long code;
	int64_t length;
	int finished;
	int status;
	int abort;
	/* Loop thread only. */
	void (*wake)(void *arg);
	void *arg;
	int closed;
	int joined;
};

unsigned inst_pulls_running(void)
{
	return atomic_load(&pulls_running);
}

/* Under mu: the answer's status line and headers are in. 1 the first
 * time. */
static int note_head(struct core_pull *p, CURL *e)
{
	curl_off_t len = -1;

	if (p->head_known)
		return 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &p->code);
	if (curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) !=
	    CURLE_OK)
		len = -1;
	p->length = len;
	p->head_known = 1;
	return 1;
}

struct writer {
	struct core_pull *p;
	CURL *e;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct writer *w = ud;
	struct core_pull *p = w->p;
	size_t n = size * nmemb, off = 0;

	uv_mutex_lock(&p->mu);
	if (note_head(p, w->e))
		uv_async_send(&p->async); /* the loop may answer the head */
	while (off < n && !p->abort) {
		unsigned s;
		size_t k;

		if (p->count == PULL_SLOTS) {
			uv_cond_wait(&p->cond, &p->mu);
			continue;
		}
		s = (p->head + p->count) % PULL_SLOTS;
		ASSERT(p->fill[s] < PULL_SLOT);
		k = PULL_SLOT - p->fill[s];
		if (k > n - off)
			k = n - off;
		memcpy(p->slot[s] + p->fill[s], ptr + off, k);
		p->fill[s] += k;
		off += k;
		if (p->fill[s] == PULL_SLOT) {
			p->count++;
			uv_async_send(&p->async);
		}
	}
	uv_mutex_unlock(&p->mu);
	return p->abort ? 0 : n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c,
		       curl_off_t d)
{
	struct core_pull *p = ud;
	int stop;

	(void)a, (void)b, (void)c, (void)d;
	uv_mutex_lock(&p->mu);
	stop = p->abort;
	uv_mutex_unlock(&p->mu);
	return stop;
}

static void run(void *arg)
{
	struct core_pull *p = arg;
	struct curl_slist *h = NULL;
	struct writer w = {p, curl_easy_init()};
	char hdr[600];
	CURLcode rc = CURLE_FAILED_INIT;

	if (w.e != NULL) {
		snprintf(hdr, sizeof(hdr), "Authorization: %s", p->auth);
		h = curl_slist_append(h, hdr);
		h = curl_slist_append(h, CORE_FORWARDED_HEADER ": 1");
		curl_easy_setopt(w.e, CURLOPT_URL, p->url);
		curl_easy_setopt(w.e, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(w.e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(w.e, CURLOPT_CONNECTTIMEOUT_MS, PULL_CONNECT_MS);
		curl_easy_setopt(w.e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(w.e, CURLOPT_LOW_SPEED_TIME, PULL_STALL_S);
		curl_easy_setopt(w.e, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(w.e, CURLOPT_WRITEDATA, &w);
		curl_easy_setopt(w.e, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(w.e, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(w.e, CURLOPT_XFERINFODATA, p);
		rc = curl_easy_perform(w.e);
	}
	uv_mutex_lock(&p->mu);
	if (rc == CURLE_OK) {
		(void)note_head(p, w.e);
		/* The writer's partial slot is the last piece. */
		if (p->count < PULL_SLOTS &&
		    p->fill[(p->head + p->count) % PULL_SLOTS] > 0)
			p->count++;
	}
	p->status = rc == CURLE_OK ? 0
		    : rc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT
		    : p->abort ? ERR_CANCELED
			       : ERR_IO;
	p->finished = 1;
	/* Under the lock: the loop frees p only after it saw finished and
	 * joined this thread, so this send never reaches freed memory. */
	uv_async_send(&p->async);
	uv_mutex_unlock(&p->mu);
	curl_slist_free_all(h);
	if (w.e != NULL)
		curl_easy_cleanup(w.e);
}

static void on_closed(uv_handle_t *h)
{
	struct core_pull *p = h->data;

	for (size_t i = 0; i < PULL_SLOTS; i++)
		free(p->slot[i]);
	uv_mutex_destroy(&p->mu);
	uv_cond_destroy(&p->cond);
	sodium_memzero(p->auth, sizeof(p->auth));
	free(p);
	atomic_fetch_sub(&pulls_running, 1);
}

/* Frees p once it is closed and its thread ended. */
static void maybe_free(struct core_pull *p)
{
	int finished;

	uv_mutex_lock(&p->mu);
	finished = p->finished;
	uv_mutex_unlock(&p->mu);
	if (!p->closed || !finished || p->joined)
		return;
	p->joined = 1;
	uv_thread_join(&p->thread);
	uv_close((uv_handle_t *)&p->async, on_closed);
}

static void on_async(uv_async_t *a)
{
	struct core_pull *p = a->data;

	if (!p->closed && p->wake != NULL)
		p->wake(p->arg);
	maybe_free(p);
}

int inst_http_pull(uv_loop_t *loop, const char *http_addr, const char *path,
		   const char *auth, void (*wake)(void *arg), void *arg,
		   struct core_pull **out)
{
	struct core_pull *p;
	int rv = ERR_NOMEM;

	if (atomic_fetch_add(&pulls_running, 1) >= INST_PULLS_MAX) {
		atomic_fetch_sub(&pulls_running, 1);
		return ERR_AGAIN;
	}
	p = calloc(1, sizeof(*p));
	for (size_t i = 0; p != NULL && i < PULL_SLOTS; i++)
		if ((p->slot[i] = malloc(PULL_SLOT)) == NULL)
			goto err_free;
	if (p == NULL)
		goto err_count;
	rv = ERR_INVAL;
	if ((size_t)snprintf(p->url, sizeof(p->url), "http://%s%s", http_addr,
			     path) >= sizeof(p->url) ||
	    strlen(auth) >= sizeof(p->auth))
		goto err_free;
	snprintf(p->auth, sizeof(p->auth), "%s", auth);
	p->loop = loop;
	p->wake = wake;
	p->arg = arg;
	p->length = -1;
	uv_mutex_init(&p->mu);
	uv_cond_init(&p->cond);
	uv_async_init(loop, &p->async, on_async);
	p->async.data = p;
	rv = uv_thread_create(&p->thread, run, p);
	if (rv != 0) {
		p->closed = 1;
		p->joined = 1;
		uv_close((uv_handle_t *)&p->async, on_closed);
		return rv; /* on_closed frees and uncounts */
	}
	*out = p;
	return 0;
err_free:
	for (size_t i = 0; p != NULL && i < PULL_SLOTS; i++)
		free(p->slot[i]);
	free(p);
err_count:
	atomic_fetch_sub(&pulls_running, 1);
	return rv;
}

int inst_pull_head(struct core_pull *p, int *code, int64_t *length)
{
	int rv = ERR_AGAIN;

	uv_mutex_lock(&p->mu);
	if (p->head_known) {
		*code = (int)p->code;
		*length = p->length;
		rv = 0;
	} else if (p->finished) {
		rv = p->status != 0 ? p->status : ERR_IO;
	}
	uv_mutex_unlock(&p->mu);
	return rv;
}

int inst_pull_next(struct core_pull *p, const uint8_t **data, size_t *len,
		   int *done)
{
	int rv = ERR_AGAIN;

	ASSERT(!p->closed);
	uv_mutex_lock(&p->mu);
	ASSERT(p->count <= PULL_SLOTS && (!p->lent || p->count > 0));
	if (p->lent) {
		/* The previous piece went out: its slot is free again. */
		p->fill[p->head] = 0;
		p->head = (p->head + 1) % PULL_SLOTS;
		p->count--;
		p->lent = 0;
		uv_cond_signal(&p->cond);
	}
	*len = 0;
	*done = 0;
	if (p->finished && p->status != 0) {
		rv = p->status;
	} else if (p->count > 0) {
		*data = p->slot[p->head];
		*len = p->fill[p->head];
		*done = p->finished && p->count == 1;
		p->lent = 1;
		rv = 0;
	} else if (p->finished) {
		*data = p->slot[p->head];
		*done = 1;
		rv = 0;
	}
	uv_mutex_unlock(&p->mu);
	return rv;
}

void inst_pull_close(struct core_pull *p)
{
	ASSERT(!p->closed);
	uv_mutex_lock(&p->mu);
	p->abort = 1;
	uv_cond_signal(&p->cond);
	uv_mutex_unlock(&p->mu);
	p->closed = 1;
	p->wake = NULL;
	maybe_free(p);
}
