/*
 * forward.c: core.h's http_forward: one HTTP request to another node's
 * API, for the operations that must run where an instance runs (RCON,
 * its live status). libcurl's easy interface runs on libuv's thread pool
 * (uv_queue_work), so the loop never blocks; the answer comes back on the
 * loop thread. The deadline bounds each request, so a dead peer costs at
 * most that. docs/decisions.md says why this and not an RPC type.
 */
#include "node/instances/inst_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/err.h"

/* A forwarded answer is an API answer: small JSON. */
#define FWD_REPLY_MAX (1u << 20)

struct fwd {
	uv_work_t w;
	char url[256];
	char method[8];
	char auth[512];
	uint8_t *body;
	size_t body_len;
	long timeout_ms;
	core_http_cb cb;
	void *arg;
	/* out */
	int status;
	long code;
	char *reply;
	size_t reply_len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct fwd *f = ud;
	size_t n = size * nmemb;
	char *nb;

	if (f->reply_len + n > FWD_REPLY_MAX)
		return 0; /* curl fails the transfer */
	nb = realloc(f->reply, f->reply_len + n + 1);
	if (nb == NULL)
		return 0;
	memcpy(nb + f->reply_len, ptr, n);
	f->reply = nb;
	f->reply_len += n;
	f->reply[f->reply_len] = '\0';
	return n;
}

static void work(uv_work_t *w)
{
	struct fwd *f = w->data;
	struct curl_slist *h = NULL;
	CURL *e = curl_easy_init();
	char hdr[600];
	CURLcode rc;

	f->status = ERR_IO;
	if (e == NULL)
		return;
	snprintf(hdr, sizeof(hdr), "Authorization: %s", f->auth);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, CORE_FORWARDED_HEADER ": 1");
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(e, CURLOPT_URL, f->url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, f->method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, f->timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	if (f->body_len > 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, (char *)f->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)f->body_len);
	}
	rc = curl_easy_perform(e);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &f->code);
		f->status = 0;
	} else {
		f->status = rc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT
							   : ERR_IO;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
}

static void after(uv_work_t *w, int status)
{
	struct fwd *f = w->data;

	if (status != 0 && f->status == 0)
		f->status = status;
	f->cb(f->arg, f->status, (int)f->code, f->reply ? f->reply : "",
	      f->reply_len);
	sodium_memzero(f->auth, sizeof(f->auth));
	free(f->reply);
	free(f->body);
	free(f);
}

int inst_http_forward(uv_loop_t *loop, const char *http_addr,
		      const char *method, const char *path, const char *auth,
		      const uint8_t *body, size_t body_len,
		      uint64_t timeout_ms, core_http_cb cb, void *arg)
{
	struct fwd *f = calloc(1, sizeof(*f));
	int rv;

	if (f == NULL)
		return ERR_NOMEM;
	if ((size_t)snprintf(f->url, sizeof(f->url), "http://%s%s", http_addr,
			     path) >= sizeof(f->url) ||
	    strlen(method) >= sizeof(f->method) ||
	    strlen(auth) >= sizeof(f->auth)) {
		free(f);
		return ERR_INVAL;
	}
	snprintf(f->method, sizeof(f->method), "%s", method);
	snprintf(f->auth, sizeof(f->auth), "%s", auth);
	if (body_len > 0) {
		f->body = malloc(body_len);
		if (f->body == NULL) {
			free(f);
			return ERR_NOMEM;
		}
		memcpy(f->body, body, body_len);
		f->body_len = body_len;
	}
	f->timeout_ms = timeout_ms > 0 ? (long)timeout_ms : 1;
	f->cb = cb;
	f->arg = arg;
	f->w.data = f;
	rv = uv_queue_work(loop, &f->w, work, after);
	if (rv != 0) {
		free(f->body);
		free(f);
	}
	return rv;
}
