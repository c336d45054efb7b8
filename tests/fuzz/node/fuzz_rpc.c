/*
 * Fuzz target: the node-to-node RPC decoders (node/rpc.h). Whatever the
 * bytes, each decoder returns 0, ERR_MALFORMED or ERR_VERSION, and a
 * message it accepts re-encodes to bytes that decode to the same fields.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const struct rpc_msg *m)
{
	struct rpc_msg again;
	struct mp_writer w;

	mp_writer_init(&w, RPC_DATA_MAX + 256);
	rpc_encode(m, &w);
	ASSERT(mp_writer_error(&w) == 0);
	ASSERT(rpc_decode(mp_writer_data(&w), mp_writer_len(&w), &again) == 0);
	ASSERT(again.type == m->type && again.req_id == m->req_id &&
	       again.from == m->from && again.a == m->a && again.b == m->b &&
	       again.c == m->c && again.len == m->len);
	ASSERT(m->len == 0 || memcmp(again.data, m->data, m->len) == 0);
	mp_writer_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_join_resp *resp = malloc(sizeof(*resp));
	struct rpc_join_req req;
	struct rpc_msg m;
	int rv;

	rv = rpc_decode(data, size, &m);
	ASSERT(rv == 0 || rv == ERR_MALFORMED || rv == ERR_VERSION);
	if (rv == 0)
		roundtrip(&m);
	rv = rpc_join_req_decode(data, size, &req);
	ASSERT(rv == 0 || rv == ERR_MALFORMED || rv == ERR_VERSION);
	if (resp) {
		rv = rpc_join_resp_decode(data, size, resp);
		ASSERT(rv == 0 || rv == ERR_MALFORMED || rv == ERR_VERSION);
		ASSERT(rv != 0 || resp->n_members <= RPC_JOIN_MEMBERS_MAX);
		free(resp);
	}
	return 0;
}
