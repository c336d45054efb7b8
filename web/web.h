/*
 * web.h: the web UI's files (web/app/), embedded in the binary at build
 * time (web/embed.cmake makes web_assets.c). The node serves them at `/`
 * (node/webui.c); docs/web.md says what the UI does, docs/decisions.md
 * why it is plain JavaScript embedded this way.
 */
#ifndef CLUSTERD_WEB_WEB_H
#define CLUSTERD_WEB_WEB_H

#include <stddef.h>

struct web_asset {
	const char *path; /* "/" for index.html, else "/NAME" */
	const char *type; /* Content-Type */
	const unsigned char *data; /* static; NUL after the last byte */
	size_t len;
};

/* The table, ended by an entry whose path is NULL. */
extern const struct web_asset web_assets[];

/* The asset served at path[0..len), or NULL. */
const struct web_asset *web_asset_find(const char *path, size_t len);

#endif
