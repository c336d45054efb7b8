/*
 * rpc.c: encoding and decoding of node-to-node requests. See rpc.h.
 */
#include "node/rpc.h"

#include <string.h>

#include "base/err.h"

void rpc_encode(const struct rpc_msg *m, struct mp_writer *w)
{
	mp_w_array(w, 8);
	mp_w_uint(w, RPC_VERSION);
	mp_w_uint(w, m->type);
	mp_w_uint(w, m->req_id);
	mp_w_uint(w, m->from);
	mp_w_uint(w, m->a);
	mp_w_uint(w, m->b);
	mp_w_uint(w, m->c);
	mp_w_bin(w, m->data, m->data ? m->len : 0);
}

static int decode_fields(const msgpack_object *root, struct rpc_msg *m)
{
	uint64_t *ints[] = {&m->req_id, &m->from, &m->a, &m->b, &m->c};
	const msgpack_object *o;
	uint32_t n, type;
	uint64_t version;

	if (mp_get_array(root, &n) != 0 || n != 8)
		return ERR_MALFORMED;
	if (mp_array_at(root, 0, &o) != 0 || mp_get_u64(o, &version) != 0)
		return ERR_MALFORMED;
	if (version != RPC_VERSION)
		return ERR_VERSION;
	if (mp_array_at(root, 1, &o) != 0 || mp_get_u32(o, &type) != 0 ||
	    type == 0 || type >= RPC_TYPE_MAX_)
		return ERR_MALFORMED;
	m->type = (uint8_t)type;
	for (uint32_t i = 0; i < 5; i++)
		if (mp_array_at(root, 2 + i, &o) != 0 ||
		    mp_get_u64(o, ints[i]) != 0)
			return ERR_MALFORMED;
	if (mp_array_at(root, 7, &o) != 0 ||
	    mp_get_bin(o, &m->data, &m->len) != 0 || m->len > RPC_DATA_MAX)
		return ERR_MALFORMED;
	return 0;
}

int rpc_decode(const uint8_t *buf, size_t len, struct rpc_msg *m)
{
	struct mp_doc doc;
	int rv;

	memset(m, 0, sizeof(*m));
	rv = mp_parse(&doc, buf, len);
	if (rv != 0)
		return ERR_MALFORMED;
	rv = decode_fields(doc.root, m);
	mp_doc_free(&doc);
	/* Binary payloads point into buf (msgpack-c references them rather
	 * than copying), so they outlive the document. */
	if (rv != 0)
		memset(m, 0, sizeof(*m));
	return rv;
}

uint64_t rpc_status_put(int status)
{
	return status < 0 ? (uint64_t)(-(int64_t)status) : 0;
}

int rpc_status_get(uint64_t wire)
{
	/* Our codes end at ERR_LAST_; anything larger is not a status. */
	if (wire > (uint64_t)(-(int64_t)ERR_LAST_))
		return ERR_MALFORMED;
	return -(int)wire;
}

/* ---- join ---- */

static void member_encode(const struct rpc_member *m, struct mp_writer *w)
{
	mp_w_map(w, 5);
	mp_w_cstr(w, "id");
	mp_w_uint(w, m->id);
	mp_w_cstr(w, "name");
	mp_w_cstr(w, m->name);
	mp_w_cstr(w, "addr");
	mp_w_cstr(w, m->addr);
	mp_w_cstr(w, "http");
	mp_w_cstr(w, m->http);
	mp_w_cstr(w, "pk");
	mp_w_bin(w, m->pk, sizeof(m->pk));
}

static int member_decode(const msgpack_object *o, struct rpc_member *m)
{
	const msgpack_object *v;
	const uint8_t *pk;
	size_t pk_len;

	if (mp_map_u64(o, "id", &m->id) != 0 || m->id == 0)
		return ERR_MALFORMED;
	if (mp_map_get(o, "name", &v) != 0 ||
	    mp_get_strcpy(v, m->name, sizeof(m->name)) != 0 || !m->name[0])
		return ERR_MALFORMED;
	if (mp_map_get(o, "addr", &v) != 0 ||
	    mp_get_strcpy(v, m->addr, sizeof(m->addr)) != 0 || !m->addr[0])
		return ERR_MALFORMED;
	if (mp_map_get(o, "http", &v) != 0 ||
	    mp_get_strcpy(v, m->http, sizeof(m->http)) != 0)
		return ERR_MALFORMED;
	if (mp_map_get(o, "pk", &v) != 0 || mp_get_bin(v, &pk, &pk_len) != 0 ||
	    pk_len != sizeof(m->pk))
		return ERR_MALFORMED;
	memcpy(m->pk, pk, sizeof(m->pk));
	return 0;
}

static int check_version(const msgpack_object *root)
{
	uint64_t v;

	if (mp_map_u64(root, "v", &v) != 0)
		return ERR_MALFORMED;
	return v == RPC_VERSION ? 0 : ERR_VERSION;
}

void rpc_join_req_encode(const struct rpc_join_req *r, struct mp_writer *w)
{
	mp_w_map(w, 2);
	mp_w_cstr(w, "v");
	mp_w_uint(w, RPC_VERSION);
	mp_w_cstr(w, "self");
	member_encode(&r->self, w);
}

int rpc_join_req_decode(const uint8_t *buf, size_t len,
			struct rpc_join_req *out)
{
	const msgpack_object *self;
	struct mp_doc doc;
	int rv;

	memset(out, 0, sizeof(*out));
	if (mp_parse(&doc, buf, len) != 0)
		return ERR_MALFORMED;
	rv = check_version(doc.root);
	if (rv == 0)
		rv = mp_map_get(doc.root, "self", &self) != 0
			 ? ERR_MALFORMED
			 : member_decode(self, &out->self);
	mp_doc_free(&doc);
	return rv;
}

void rpc_join_resp_encode(const struct rpc_join_resp *r, struct mp_writer *w)
{
	mp_w_map(w, 6);
	mp_w_cstr(w, "v");
	mp_w_uint(w, RPC_VERSION);
	mp_w_cstr(w, "status");
	mp_w_uint(w, rpc_status_put(r->status));
	mp_w_cstr(w, "error");
	mp_w_cstr(w, r->error);
	mp_w_cstr(w, "secret");
	mp_w_bin(w, r->secret, sizeof(r->secret));
	mp_w_cstr(w, "cluster_id");
	mp_w_cstr(w, r->cluster_id);
	mp_w_cstr(w, "members");
	mp_w_array(w, r->n_members);
	for (uint32_t i = 0; i < r->n_members; i++)
		member_encode(&r->members[i], w);
}

static int join_resp_fields(const msgpack_object *root,
			    struct rpc_join_resp *out)
{
	const msgpack_object *v, *list;
	const uint8_t *secret;
	size_t secret_len;
	uint64_t status;

	if (mp_map_u64(root, "status", &status) != 0)
		return ERR_MALFORMED;
	out->status = rpc_status_get(status);
	if (out->status == ERR_MALFORMED)
		return ERR_MALFORMED;
	if (mp_map_get(root, "error", &v) != 0 ||
	    mp_get_strcpy(v, out->error, sizeof(out->error)) != 0)
		return ERR_MALFORMED;
	if (mp_map_get(root, "secret", &v) != 0 ||
	    mp_get_bin(v, &secret, &secret_len) != 0 ||
	    secret_len != sizeof(out->secret))
		return ERR_MALFORMED;
	memcpy(out->secret, secret, sizeof(out->secret));
	if (mp_map_get(root, "cluster_id", &v) != 0 ||
	    mp_get_strcpy(v, out->cluster_id, sizeof(out->cluster_id)) != 0)
		return ERR_MALFORMED;
	if (mp_map_get(root, "members", &list) != 0 ||
	    mp_get_array(list, &out->n_members) != 0 ||
	    out->n_members > RPC_JOIN_MEMBERS_MAX)
		return ERR_MALFORMED;
	for (uint32_t i = 0; i < out->n_members; i++)
		if (mp_array_at(list, i, &v) != 0 ||
		    member_decode(v, &out->members[i]) != 0)
			return ERR_MALFORMED;
	return 0;
}

int rpc_join_resp_decode(const uint8_t *buf, size_t len,
			 struct rpc_join_resp *out)
{
	struct mp_doc doc;
	int rv;

	memset(out, 0, sizeof(*out));
	if (mp_parse(&doc, buf, len) != 0)
		return ERR_MALFORMED;
	rv = check_version(doc.root);
	if (rv == 0)
		rv = join_resp_fields(doc.root, out);
	mp_doc_free(&doc);
	if (rv != 0)
		memset(out, 0, sizeof(*out));
	return rv;
}
