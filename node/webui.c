/*
 * webui.c: the web UI's files over HTTP. See webui.h.
 */
#include "node/webui.h"

#include <string.h>

#include "web/web.h"

static int method_is(const struct http_request *req, const char *m)
{
	return req->method_len == strlen(m) &&
	       memcmp(req->method, m, req->method_len) == 0;
}

int node_webui_handle(void *ctx, const struct http_request *req,
		      struct http_reply *rep)
{
	const struct web_asset *a = web_asset_find(req->path, req->path_len);
	int rv;

	(void)ctx;
	if (a == NULL) {
		rep->status = 404;
		return http_printf(rep, "{\"error\":\"not found\"}\n");
	}
	if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
		rep->status = 405;
		return http_printf(rep, "{\"error\":\"method not allowed\"}\n");
	}
	rep->content_type = a->type;
	/* The files change only with the binary; revalidating each load is
	 * cheap on a LAN and never shows a stale UI after an upgrade. The
	 * page runs only its own script and style; it may connect to other
	 * origins, the cluster's other members (their event streams). */
	rv = http_reply_header(rep, "Cache-Control", "no-cache");
	if (rv == 0)
		rv = http_reply_header(rep, "Content-Security-Policy",
				       "default-src 'self'; connect-src 'self' http: https:");
	if (rv == 0)
		rv = http_reply_header(rep, "X-Content-Type-Options", "nosniff");
	if (rv == 0)
		rv = http_reply_header(rep, "X-Frame-Options", "DENY");
	if (rv == 0)
		rv = wbuf_put(&rep->body, a->data, a->len);
	return rv;
}
