/*
 * kv.c: the simulator's replicated key-value store. See kv.h.
 */
#include "tests/sim/raft/kv.h"

#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/mp.h"

#define KV_VERSION 1
#define KV_CMD_MAX 128
/* Snapshots carry this much filler so that they span several
 * InstallSnapshot chunks (the simulator's msg_bytes_max is 512). */
#define KV_SNAP_PAD 1536

void kv_init(struct kv *kv)
{
	memset(kv, 0, sizeof(*kv));
}

void kv_apply(struct kv *kv, const struct kv_cmd *cmd, struct kv_result *res)
{
	struct kv_session *s;

	ASSERT(cmd->client < SIM_KV_CLIENTS && cmd->key < SIM_KV_KEYS);
	s = &kv->sess[cmd->client];
	res->seq = cmd->seq;
	res->stale = 0;
	if (cmd->seq <= s->seq) {
		/* A retry: the same seq returns what the first apply returned;
		 * an older one is a retry the client no longer waits for. */
		res->out = s->out;
		res->stale = cmd->seq < s->seq;
		kv->dups++;
		return;
	}
	switch (cmd->op) {
	case KV_PUT:
		kv->val[cmd->key] = cmd->a;
		res->out = 0;
		break;
	case KV_GET:
		res->out = kv->val[cmd->key];
		break;
	case KV_CAS:
		res->out = kv->val[cmd->key] == cmd->a;
		if (res->out)
			kv->val[cmd->key] = cmd->b;
		break;
	default:
		UNREACHABLE();
	}
	s->seq = cmd->seq;
	s->out = res->out;
	kv->applied++;
}

int kv_cmd_encode(const struct kv_cmd *cmd, uint8_t *buf, size_t cap)
{
	struct mp_writer w;
	int rv;

	mp_writer_init(&w, KV_CMD_MAX);
	mp_w_array(&w, 7);
	mp_w_uint(&w, KV_VERSION);
	mp_w_uint(&w, cmd->client);
	mp_w_uint(&w, cmd->seq);
	mp_w_uint(&w, cmd->op);
	mp_w_uint(&w, cmd->key);
	mp_w_uint(&w, cmd->a);
	mp_w_uint(&w, cmd->b);
	rv = mp_writer_error(&w);
	if (rv == 0 && mp_writer_len(&w) > cap)
		rv = ERR_TOOBIG;
	if (rv == 0) {
		rv = (int)mp_writer_len(&w);
		memcpy(buf, mp_writer_data(&w), mp_writer_len(&w));
	}
	mp_writer_free(&w);
	return rv;
}

static int get_field(const msgpack_object *arr, uint32_t i, uint64_t *out)
{
	const msgpack_object *o;
	int rv = mp_array_at(arr, i, &o);

	return rv != 0 ? rv : mp_get_u64(o, out);
}

int kv_cmd_decode(const uint8_t *buf, size_t len, struct kv_cmd *cmd)
{
	struct mp_doc doc;
	uint64_t f[7];
	uint32_t n;
	int rv = mp_parse(&doc, buf, len);

	if (rv != 0)
		return rv;
	rv = mp_get_array(doc.root, &n);
	if (rv == 0 && n != 7)
		rv = ERR_MALFORMED;
	for (uint32_t i = 0; rv == 0 && i < 7; i++)
		rv = get_field(doc.root, i, &f[i]);
	mp_doc_free(&doc);
	if (rv != 0)
		return rv;
	if (f[0] != KV_VERSION)
		return ERR_VERSION;
	if (f[1] >= SIM_KV_CLIENTS || f[3] < KV_PUT || f[3] > KV_CAS ||
	    f[4] >= SIM_KV_KEYS)
		return ERR_MALFORMED;
	cmd->client = (uint32_t)f[1];
	cmd->seq = f[2];
	cmd->op = (uint8_t)f[3];
	cmd->key = (uint32_t)f[4];
	cmd->a = f[5];
	cmd->b = f[6];
	return 0;
}

int kv_snapshot(const struct kv *kv, uint8_t **buf, size_t *len)
{
	struct mp_writer w;
	uint8_t pad[KV_SNAP_PAD];
	uint64_t d = kv_digest(kv);

	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = (uint8_t)(d >> (8 * (i % 8)));
	mp_writer_init(&w, 8192);
	mp_w_array(&w, 3 + SIM_KV_KEYS + 2 * SIM_KV_CLIENTS);
	mp_w_uint(&w, KV_VERSION);
	mp_w_uint(&w, kv->applied);
	for (int i = 0; i < SIM_KV_KEYS; i++)
		mp_w_uint(&w, kv->val[i]);
	for (int i = 0; i < SIM_KV_CLIENTS; i++) {
		mp_w_uint(&w, kv->sess[i].seq);
		mp_w_uint(&w, kv->sess[i].out);
	}
	mp_w_bin(&w, pad, sizeof(pad));
	return mp_writer_take(&w, buf, len);
}

static int check_pad(const msgpack_object *arr, uint32_t i)
{
	const msgpack_object *o;
	const uint8_t *p;
	size_t len;
	int rv = mp_array_at(arr, i, &o);

	rv = rv ? rv : mp_get_bin(o, &p, &len);
	return rv ? rv : len == KV_SNAP_PAD ? 0 : ERR_MALFORMED;
}

int kv_restore(struct kv *kv, const uint8_t *buf, size_t len)
{
	enum { N = 2 + SIM_KV_KEYS + 2 * SIM_KV_CLIENTS };
	struct mp_doc doc;
	uint64_t f[N];
	uint32_t n;
	int rv = mp_parse(&doc, buf, len);

	if (rv != 0)
		return rv;
	rv = mp_get_array(doc.root, &n);
	if (rv == 0 && n != N + 1)
		rv = ERR_MALFORMED;
	for (uint32_t i = 0; rv == 0 && i < N; i++)
		rv = get_field(doc.root, i, &f[i]);
	if (rv == 0)
		rv = check_pad(doc.root, N);
	mp_doc_free(&doc);
	if (rv != 0)
		return rv;
	if (f[0] != KV_VERSION)
		return ERR_VERSION;
	kv_init(kv);
	kv->applied = f[1];
	for (int i = 0; i < SIM_KV_KEYS; i++)
		kv->val[i] = f[2 + i];
	for (int i = 0; i < SIM_KV_CLIENTS; i++) {
		kv->sess[i].seq = f[2 + SIM_KV_KEYS + 2 * i];
		kv->sess[i].out = f[3 + SIM_KV_KEYS + 2 * i];
	}
	return 0;
}

uint64_t kv_digest(const struct kv *kv)
{
	uint64_t h = 0x84222325cbf29ce4ULL;

	for (int i = 0; i < SIM_KV_KEYS; i++)
		h = (h ^ kv->val[i]) * 0x100000001b3ULL;
	for (int i = 0; i < SIM_KV_CLIENTS; i++)
		h = (h ^ kv->sess[i].seq ^ (kv->sess[i].out << 1)) *
		    0x100000001b3ULL;
	return h;
}
