/*
 * webui.h: serves the embedded web UI (web/web.h) at `/`: index.html at
 * `/`, its script and style beside it. Any other path outside the API is
 * 404. The answers forbid framing (X-Frame-Options) and inline script
 * (Content-Security-Policy), so a page of the UI cannot be embedded by
 * another site nor run injected script.
 */
#ifndef CLUSTERD_NODE_WEBUI_H
#define CLUSTERD_NODE_WEBUI_H

#include "node/http.h"

/* An http_handler_fn (ctx unused). */
int node_webui_handle(void *ctx, const struct http_request *req,
		      struct http_reply *rep);

#endif
