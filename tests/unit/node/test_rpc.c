/*
 * Unit tests for node/rpc.h: every message type round-trips, and the
 * decoders refuse what does not fit (wrong version, unknown type, fields
 * of the wrong type, data over the limit, too many members).
 */
#include "tests/lib/cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/rpc.h"

static void encode(const struct rpc_msg *m, struct mp_writer *w)
{
	mp_writer_init(w, 4u << 20);
	rpc_encode(m, w);
	assert_int_equal(mp_writer_error(w), 0);
}

static void test_roundtrip_every_type(void **state)
{
	static const uint8_t cmd[] = {1, 2, 3, 0, 255};
	(void)state;
	for (uint8_t t = 1; t < RPC_TYPE_MAX_; t++) {
		struct rpc_msg m = {.type = t, .req_id = 77 + t, .from = 9,
				    .a = 1000, .b = UINT64_MAX, .c = 3,
				    .data = cmd, .len = sizeof(cmd)};
		struct rpc_msg out;
		struct mp_writer w;

		encode(&m, &w);
		assert_int_equal(rpc_decode(mp_writer_data(&w),
					    mp_writer_len(&w), &out), 0);
		assert_int_equal(out.type, t);
		assert_int_equal(out.req_id, 77 + t);
		assert_int_equal(out.from, 9);
		assert_int_equal(out.a, 1000);
		assert_true(out.b == UINT64_MAX);
		assert_int_equal(out.c, 3);
		assert_int_equal(out.len, sizeof(cmd));
		assert_memory_equal(out.data, cmd, sizeof(cmd));
		mp_writer_free(&w);
	}
}

static void test_status_roundtrip(void **state)
{
	(void)state;
	assert_int_equal(rpc_status_get(rpc_status_put(0)), 0);
	assert_int_equal(rpc_status_get(rpc_status_put(ERR_NOTLEADER)),
			 ERR_NOTLEADER);
	assert_int_equal(rpc_status_get(rpc_status_put(ERR_CONFLICT)),
			 ERR_CONFLICT);
	/* A number beyond our table is not a status. */
	assert_int_equal(rpc_status_get(1000000), ERR_MALFORMED);
}

static void test_rejects(void **state)
{
	struct rpc_msg m = {.type = RPC_WRITE, .req_id = 1}, out;
	struct mp_writer w;
	uint8_t *big;

	(void)state;
	/* wrong version */
	mp_writer_init(&w, 1024);
	mp_w_array(&w, 8);
	mp_w_uint(&w, RPC_VERSION + 1);
	for (int i = 0; i < 6; i++)
		mp_w_uint(&w, 1);
	mp_w_bin(&w, "", 0);
	assert_int_equal(rpc_decode(mp_writer_data(&w), mp_writer_len(&w), &out),
			 ERR_VERSION);
	mp_writer_free(&w);
	/* unknown type, and type 0 */
	for (uint8_t t = 0; t <= RPC_TYPE_MAX_; t += RPC_TYPE_MAX_) {
		m.type = t;
		encode(&m, &w);
		assert_int_equal(rpc_decode(mp_writer_data(&w),
					    mp_writer_len(&w), &out),
				 ERR_MALFORMED);
		mp_writer_free(&w);
	}
	/* data over the limit */
	big = calloc(1, RPC_DATA_MAX + 1);
	assert_non_null(big);
	m.type = RPC_WRITE;
	m.data = big;
	m.len = RPC_DATA_MAX + 1;
	encode(&m, &w);
	assert_int_equal(rpc_decode(mp_writer_data(&w), mp_writer_len(&w), &out),
			 ERR_MALFORMED);
	mp_writer_free(&w);
	free(big);
	/* a string where an integer belongs, and a truncated message */
	mp_writer_init(&w, 1024);
	mp_w_array(&w, 8);
	mp_w_uint(&w, RPC_VERSION);
	mp_w_uint(&w, RPC_WRITE);
	mp_w_cstr(&w, "x");
	for (int i = 0; i < 4; i++)
		mp_w_uint(&w, 1);
	mp_w_bin(&w, "", 0);
	assert_int_equal(rpc_decode(mp_writer_data(&w), mp_writer_len(&w), &out),
			 ERR_MALFORMED);
	assert_int_equal(rpc_decode(mp_writer_data(&w), 3, &out), ERR_MALFORMED);
	mp_writer_free(&w);
}

static void fill_member(struct rpc_member *m, uint64_t id)
{
	memset(m, 0, sizeof(*m));
	m->id = id;
	snprintf(m->name, sizeof(m->name), "node-%llu", (unsigned long long)id);
	snprintf(m->addr, sizeof(m->addr), "127.0.0.1:%llu",
		 (unsigned long long)(7000 + id));
	snprintf(m->http, sizeof(m->http), "127.0.0.1:%llu",
		 (unsigned long long)(8000 + id));
	memset(m->pk, (int)id, sizeof(m->pk));
}

static void test_join_roundtrip(void **state)
{
	struct rpc_join_resp *resp = calloc(1, sizeof(*resp));
	struct rpc_join_resp *back = calloc(1, sizeof(*back));
	struct rpc_join_req req, req2;
	struct mp_writer w;

	(void)state;
	assert_non_null(resp);
	assert_non_null(back);
	fill_member(&req.self, 42);
	mp_writer_init(&w, 1 << 16);
	rpc_join_req_encode(&req, &w);
	assert_int_equal(rpc_join_req_decode(mp_writer_data(&w),
					     mp_writer_len(&w), &req2), 0);
	assert_memory_equal(&req.self, &req2.self, sizeof(req.self));
	mp_writer_free(&w);

	resp->status = ERR_AUTH;
	strcpy(resp->error, "token expired");
	memset(resp->secret, 7, sizeof(resp->secret));
	strcpy(resp->cluster_id, "c1");
	resp->n_members = 3;
	for (uint32_t i = 0; i < 3; i++)
		fill_member(&resp->members[i], i + 1);
	mp_writer_init(&w, 1 << 16);
	rpc_join_resp_encode(resp, &w);
	assert_int_equal(rpc_join_resp_decode(mp_writer_data(&w),
					      mp_writer_len(&w), back), 0);
	assert_int_equal(back->status, ERR_AUTH);
	assert_string_equal(back->error, "token expired");
	assert_memory_equal(back->secret, resp->secret, sizeof(resp->secret));
	assert_int_equal(back->n_members, 3);
	assert_memory_equal(back->members, resp->members,
			    3 * sizeof(resp->members[0]));
	mp_writer_free(&w);

	/* more members than the bound: refused */
	mp_writer_init(&w, 1 << 20);
	resp->n_members = RPC_JOIN_MEMBERS_MAX;
	for (uint32_t i = 0; i < RPC_JOIN_MEMBERS_MAX; i++)
		fill_member(&resp->members[i], i + 1);
	rpc_join_resp_encode(resp, &w);
	assert_int_equal(rpc_join_resp_decode(mp_writer_data(&w),
					      mp_writer_len(&w), back), 0);
	mp_writer_reset(&w);
	resp->n_members = RPC_JOIN_MEMBERS_MAX; /* encode one extra by hand */
	mp_w_map(&w, 6);
	mp_w_cstr(&w, "v");
	mp_w_uint(&w, RPC_VERSION);
	mp_w_cstr(&w, "status");
	mp_w_uint(&w, 0);
	mp_w_cstr(&w, "error");
	mp_w_cstr(&w, "");
	mp_w_cstr(&w, "secret");
	mp_w_bin(&w, resp->secret, 32);
	mp_w_cstr(&w, "cluster_id");
	mp_w_cstr(&w, "c");
	mp_w_cstr(&w, "members");
	mp_w_array(&w, RPC_JOIN_MEMBERS_MAX + 1);
	assert_int_equal(rpc_join_resp_decode(mp_writer_data(&w),
					      mp_writer_len(&w), back),
			 ERR_MALFORMED);
	mp_writer_free(&w);
	free(resp);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_type),
		cmocka_unit_test(test_status_roundtrip),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_join_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
