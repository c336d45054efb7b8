/*
 * Fuzz target: the gossip decoder, then the whole core. Input that
 * decodes is also fed to a live instance as a received packet on both
 * channels, so the handlers meet hostile field values (unknown members,
 * huge incarnations, stale versions, push-pulls about ourselves).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/assert.h"
#include "base/err.h"
#include "gossip/codec.h"
#include "gossip/gossip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gossip_wire *w = malloc(sizeof(*w));
	struct gossip_config c;
	struct gossip *g;
	struct gossip_update u;
	struct gossip_event ev = {.type = GOSSIP_EV_RECV, .now_ms = 1000};
	struct gpp_member pm;
	struct gpp_digest pd;
	struct gstr ps;
	int rc;

	if (w == NULL)
		return 0;
	rc = gossip_decode(w, data, size);
	ASSERT(rc == 0 || rc == ERR_MALFORMED || rc == ERR_VERSION ||
	       rc == ERR_NOMEM);
	if (rc != 0) {
		free(w);
		return 0;
	}
	/* Whatever decoded was fully validated: the accessors cannot fail. */
	for (uint32_t i = 0; i < w->n; i++) {
		const struct gmsg *m = &w->msgs[i];

		for (uint32_t k = 0; k < m->n_members; k++) {
			if (m->type == GMSG_PUSHPULL)
				ASSERT(gossip_pp_member(m, k, &pm) == 0);
			else if (m->type == GMSG_PP_DIGEST)
				ASSERT(gossip_pp_digest(m, k, &pd) == 0);
			else if (m->type == GMSG_PP_WANT)
				ASSERT(gossip_pp_want(m, k, &ps) == 0);
		}
	}
	gossip_wire_free(w);
	free(w);

	gossip_config_default(&c);
	c.name = "a";
	c.addr = "b";
	if (gossip_new(&c, 1, NULL, 0, &g) != 0)
		return 0;
	ev.recv.data = data;
	ev.recv.len = size;
	ev.recv.channel = GOSSIP_RELIABLE;
	(void)gossip_step(g, &ev, &u);
	ev.recv.channel = GOSSIP_UNRELIABLE;
	ev.now_ms = 60000;
	(void)gossip_step(g, &ev, &u);
	ev.type = GOSSIP_EV_TICK;
	ev.now_ms = 400000;
	(void)gossip_step(g, &ev, &u);
	gossip_free(g);
	return 0;
}
