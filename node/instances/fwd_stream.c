/*
 * fwd_stream.c: a GET to another node's API whose answer is a live stream
 * (an instance's log followed through a node that does not run it). The
 * request runs with libcurl on a thread of its own, not libuv's pool: a
 * follow lasts as long as the client wants, and would hold a pool thread
 * that file system work needs. The thread appends what arrives to a
 * buffer (bounded: it waits while the buffer is full, so a slow client
 * slows the peer down through TCP instead of growing memory) and wakes
 * the loop with a uv_async; the loop hands the bytes on. Cancelling sets
 * a flag that the transfer's progress callback checks (libcurl calls it
 * at least once a second), so a cancelled follow ends within a second.
 * At most FS_MAX run at once.
 */
#include "node/instances/inst_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/err.h"

#define FS_BUF_MAX (256u * 1024)
#define FS_MAX 32

static int fs_running; /* loop thread only */

struct fstream {
	uv_thread_t th;
	uv_async_t wake;
	uv_mutex_t mu;
	uv_cond_t room;
	char url[256];
	char auth[512];
	char *buf; /* FS_BUF_MAX */
	size_t len;
	int cancelled; /* under mu */
	int done;      /* under mu: the thread finished */
	int status;    /* under mu, once done */
	long code;
	void (*on_data)(void *arg, const char *p, size_t n);
	void (*on_end)(void *arg, int status, int code);
	void *arg;
	int ended; /* loop: on_end ran or the stream was cancelled */
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct fstream *f = ud;
	size_t n = size * nmemb, off = 0;

	uv_mutex_lock(&f->mu);
	while (off < n && !f->cancelled) {
		size_t k = n - off;

		while (f->len == FS_BUF_MAX && !f->cancelled)
			uv_cond_wait(&f->room, &f->mu);
		if (f->cancelled)
			break;
		if (k > FS_BUF_MAX - f->len)
			k = FS_BUF_MAX - f->len;
		memcpy(f->buf + f->len, ptr + off, k);
		f->len += k;
		off += k;
		uv_async_send(&f->wake);
	}
	uv_mutex_unlock(&f->mu);
	return off == n ? n : 0; /* 0: curl ends the transfer */
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c,
		       curl_off_t d)
{
	struct fstream *f = ud;
	int stop;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	uv_mutex_lock(&f->mu);
	stop = f->cancelled;
	uv_mutex_unlock(&f->mu);
	return stop;
}

static void run(void *arg)
{
	struct fstream *f = arg;
	struct curl_slist *h = NULL;
	CURL *e = curl_easy_init();
	char hdr[600];
	long code = 0;
	int status = ERR_IO;

	if (e != NULL) {
		snprintf(hdr, sizeof(hdr), "Authorization: %s", f->auth);
		h = curl_slist_append(h, hdr);
		h = curl_slist_append(h, CORE_FORWARDED_HEADER ": 1");
		curl_easy_setopt(e, CURLOPT_URL, f->url);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
		curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(e, CURLOPT_XFERINFODATA, f);
		if (curl_easy_perform(e) == CURLE_OK) {
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
			status = 0;
		}
		curl_slist_free_all(h);
		curl_easy_cleanup(e);
	}
	uv_mutex_lock(&f->mu);
	f->done = 1;
	f->status = status;
	f->code = code;
	uv_mutex_unlock(&f->mu);
	uv_async_send(&f->wake);
}

static void on_closed(uv_handle_t *h)
{
	struct fstream *f = h->data;

	uv_mutex_destroy(&f->mu);
	uv_cond_destroy(&f->room);
	sodium_memzero(f->auth, sizeof(f->auth));
	free(f->buf);
	free(f);
	fs_running--;
}

static void on_wake(uv_async_t *a)
{
	struct fstream *f = a->data;
	char *chunk = NULL;
	size_t n;
	int done, status, cancelled;

	uv_mutex_lock(&f->mu);
	n = f->len;
	if (n > 0 && !f->cancelled && (chunk = malloc(n)) != NULL)
		memcpy(chunk, f->buf, n);
	f->len = 0;
	uv_cond_signal(&f->room);
	done = f->done;
	status = f->status;
	cancelled = f->cancelled;
	uv_mutex_unlock(&f->mu);
	if (chunk != NULL && !f->ended)
		f->on_data(f->arg, chunk, n);
	free(chunk);
	if (!done)
		return;
	if (!cancelled && !f->ended) {
		f->ended = 1;
		f->on_end(f->arg, status, (int)f->code);
	}
	uv_thread_join(&f->th);
	uv_close((uv_handle_t *)&f->wake, on_closed);
}

int inst_http_stream(uv_loop_t *loop, const char *http_addr,
		     const char *path, const char *auth,
		     void (*on_data)(void *arg, const char *p, size_t n),
		     void (*on_end)(void *arg, int status, int code),
		     void *arg, void **handle)
{
	struct fstream *f;

	if (fs_running >= FS_MAX)
		return ERR_AGAIN;
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->buf = malloc(FS_BUF_MAX)) == NULL) {
		free(f);
		return ERR_NOMEM;
	}
	if ((size_t)snprintf(f->url, sizeof(f->url), "http://%s%s", http_addr,
			     path) >= sizeof(f->url) ||
	    strlen(auth) >= sizeof(f->auth)) {
		free(f->buf);
		free(f);
		return ERR_INVAL;
	}
	snprintf(f->auth, sizeof(f->auth), "%s", auth);
	f->on_data = on_data;
	f->on_end = on_end;
	f->arg = arg;
	uv_mutex_init(&f->mu);
	uv_cond_init(&f->room);
	uv_async_init(loop, &f->wake, on_wake);
	f->wake.data = f;
	fs_running++;
	if (uv_thread_create(&f->th, run, f) != 0) {
		f->ended = 1;
		uv_close((uv_handle_t *)&f->wake, on_closed);
		return ERR_NOMEM;
	}
	*handle = f;
	return 0;
}

void inst_http_stream_cancel(void *handle)
{
	struct fstream *f = handle;

	f->ended = 1; /* no callback from now on */
	uv_mutex_lock(&f->mu);
	f->cancelled = 1;
	uv_cond_signal(&f->room);
	uv_mutex_unlock(&f->mu);
}
