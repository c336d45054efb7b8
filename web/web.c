/*
 * web.c: looks the embedded UI files up by path. See web.h.
 */
#include "web/web.h"

#include <string.h>

const struct web_asset *web_asset_find(const char *path, size_t len)
{
	for (const struct web_asset *a = web_assets; a->path != NULL; a++)
		if (strlen(a->path) == len && memcmp(a->path, path, len) == 0)
			return a;
	return NULL;
}
