/*
 * codec.c: the Raft wire format (raft.h, "codec") and the checks every
 * received message passes.
 *
 * A message is one msgpack array: [version, type, from, to, term, body...]
 * with the body's fields in a fixed order per type (arrays, not maps: these
 * are the hot-path messages). The decoder goes through base/mp.h, which
 * bounds every length before msgpack-c allocates, then checks every field
 * against raft_message_check, so a decoded message can never trip an
 * assertion in raft_step.
 */
#include <string.h>

#include "base/mp.h"
#include "raft/internal.h"

/* Fields after the 5-field header, per type. */
static const uint8_t body_fields[RAFT_MSG_TYPE_MAX_] = {
	[RAFT_MSG_VOTE] = 4,           [RAFT_MSG_VOTE_RESP] = 2,
	[RAFT_MSG_APPEND] = 4,         [RAFT_MSG_APPEND_RESP] = 5,
	[RAFT_MSG_HEARTBEAT] = 2,      [RAFT_MSG_HEARTBEAT_RESP] = 1,
	[RAFT_MSG_SNAPSHOT] = 7,       [RAFT_MSG_SNAPSHOT_RESP] = 4,
	[RAFT_MSG_TIMEOUT_NOW] = 0,
};
#define HEADER_FIELDS 5u

static void encode_body(const struct raft_message *m, struct mp_writer *w)
{
	const struct raft_msg_append *a = &m->u.append;
	const struct raft_msg_snapshot *s = &m->u.snapshot;

	switch (m->type) {
	case RAFT_MSG_VOTE:
		mp_w_uint(w, m->u.vote.last_index);
		mp_w_uint(w, m->u.vote.last_term);
		mp_w_uint(w, m->u.vote.prevote);
		mp_w_uint(w, m->u.vote.force);
		break;
	case RAFT_MSG_VOTE_RESP:
		mp_w_uint(w, m->u.vote_resp.granted);
		mp_w_uint(w, m->u.vote_resp.prevote);
		break;
	case RAFT_MSG_APPEND:
		mp_w_uint(w, a->prev_index);
		mp_w_uint(w, a->prev_term);
		mp_w_uint(w, a->commit);
		mp_w_array(w, a->n_entries);
		for (uint32_t i = 0; i < a->n_entries; i++) {
			mp_w_array(w, 3);
			mp_w_uint(w, a->entries[i].term);
			mp_w_uint(w, a->entries[i].type);
			mp_w_bin(w, a->entries[i].data, a->entries[i].len);
		}
		break;
	case RAFT_MSG_APPEND_RESP:
		mp_w_uint(w, m->u.append_resp.success);
		mp_w_uint(w, m->u.append_resp.index);
		mp_w_uint(w, m->u.append_resp.hint_term);
		mp_w_uint(w, m->u.append_resp.hint_index);
		mp_w_uint(w, m->u.append_resp.last_index);
		break;
	case RAFT_MSG_HEARTBEAT:
		mp_w_uint(w, m->u.heartbeat.commit);
		mp_w_uint(w, m->u.heartbeat.read_seq);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		mp_w_uint(w, m->u.heartbeat_resp.read_seq);
		break;
	case RAFT_MSG_SNAPSHOT:
		mp_w_uint(w, s->meta.index);
		mp_w_uint(w, s->meta.term);
		raft_conf_encode(&s->meta.conf, w);
		mp_w_uint(w, s->total_len);
		mp_w_uint(w, s->offset);
		mp_w_bin(w, s->data, s->len);
		mp_w_uint(w, s->done);
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		mp_w_uint(w, m->u.snapshot_resp.index);
		mp_w_uint(w, m->u.snapshot_resp.next_offset);
		mp_w_uint(w, m->u.snapshot_resp.done);
		mp_w_uint(w, m->u.snapshot_resp.reject);
		break;
	default:
		break;
	}
}

void raft_encode(const struct raft_message *m, struct mp_writer *w)
{
	uint32_t body;

	ASSERT(m->type > 0 && m->type < RAFT_MSG_TYPE_MAX_);
	body = body_fields[m->type];
	mp_w_array(w, HEADER_FIELDS + body);
	mp_w_uint(w, RAFT_WIRE_VERSION);
	mp_w_uint(w, m->type);
	mp_w_uint(w, m->from);
	mp_w_uint(w, m->to);
	mp_w_uint(w, m->term);
	encode_body(m, w);
}

/* A cursor over the fields of the root array. */
struct fields {
	const msgpack_object *arr;
	uint32_t i;
	int err;
};

static const msgpack_object *next_obj(struct fields *f)
{
	const msgpack_object *o = NULL;

	if (f->err == 0 && mp_array_at(f->arr, f->i++, &o) != 0)
		f->err = ERR_MALFORMED;
	return f->err == 0 ? o : NULL;
}

static uint64_t next_u64(struct fields *f)
{
	const msgpack_object *o = next_obj(f);
	uint64_t v = 0;

	if (o != NULL && mp_get_u64(o, &v) != 0)
		f->err = ERR_MALFORMED;
	return v;
}

static uint8_t next_flag(struct fields *f)
{
	uint64_t v = next_u64(f);

	if (v > 1)
		f->err = ERR_MALFORMED;
	return (uint8_t)(v & 1);
}

static const uint8_t *next_bin(struct fields *f, uint32_t *len)
{
	const msgpack_object *o = next_obj(f);
	const uint8_t *p = NULL;
	size_t n = 0;

	*len = 0;
	if (o == NULL)
		return NULL;
	if (mp_get_bin(o, &p, &n) != 0 || n > UINT32_MAX) {
		f->err = ERR_MALFORMED;
		return NULL;
	}
	*len = (uint32_t)n;
	return n > 0 ? p : NULL;
}

static void decode_entries(struct fields *f, struct raft_message *out,
			   struct raft_entry *ents, uint32_t cap)
{
	struct raft_msg_append *a = &out->u.append;
	const msgpack_object *list = next_obj(f), *e;
	uint32_t n, k;

	if (list == NULL)
		return;
	if (mp_get_array(list, &n) != 0 || n > cap || n > RAFT_BATCH_MAX) {
		f->err = ERR_MALFORMED;
		return;
	}
	for (uint32_t i = 0; i < n && f->err == 0; i++) {
		struct fields ef = {0};
		uint64_t type;

		if (mp_array_at(list, i, &e) != 0 || mp_get_array(e, &k) != 0 ||
		    k != 3) {
			f->err = ERR_MALFORMED;
			return;
		}
		ef.arr = e;
		ents[i].term = next_u64(&ef);
		type = next_u64(&ef);
		ents[i].type = (uint8_t)(type & 0xff);
		if (type > 0xff)
			ef.err = ERR_MALFORMED;
		ents[i].data = next_bin(&ef, &ents[i].len);
		ents[i].index = a->prev_index + 1 + i;
		f->err = ef.err;
	}
	a->n_entries = n;
	a->entries = n > 0 ? ents : NULL;
}

static void decode_snapshot(struct fields *f, struct raft_message *out)
{
	struct raft_msg_snapshot *s = &out->u.snapshot;
	const msgpack_object *conf;

	s->meta.index = next_u64(f);
	s->meta.term = next_u64(f);
	conf = next_obj(f);
	if (conf != NULL && raft_conf_from_obj(conf, &s->meta.conf) != 0)
		f->err = ERR_MALFORMED;
	s->total_len = next_u64(f);
	s->offset = next_u64(f);
	s->data = next_bin(f, &s->len);
	s->done = next_flag(f);
}

static void decode_body(struct fields *f, struct raft_message *out,
			struct raft_entry *ents, uint32_t cap)
{
	switch (out->type) {
	case RAFT_MSG_VOTE:
		out->u.vote.last_index = next_u64(f);
		out->u.vote.last_term = next_u64(f);
		out->u.vote.prevote = next_flag(f);
		out->u.vote.force = next_flag(f);
		break;
	case RAFT_MSG_VOTE_RESP:
		out->u.vote_resp.granted = next_flag(f);
		out->u.vote_resp.prevote = next_flag(f);
		break;
	case RAFT_MSG_APPEND:
		out->u.append.prev_index = next_u64(f);
		out->u.append.prev_term = next_u64(f);
		out->u.append.commit = next_u64(f);
		if (out->u.append.prev_index >= RAFT_NUM_MAX)
			f->err = ERR_MALFORMED;
		decode_entries(f, out, ents, cap);
		break;
	case RAFT_MSG_APPEND_RESP:
		out->u.append_resp.success = next_flag(f);
		out->u.append_resp.index = next_u64(f);
		out->u.append_resp.hint_term = next_u64(f);
		out->u.append_resp.hint_index = next_u64(f);
		out->u.append_resp.last_index = next_u64(f);
		break;
	case RAFT_MSG_HEARTBEAT:
		out->u.heartbeat.commit = next_u64(f);
		out->u.heartbeat.read_seq = next_u64(f);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		out->u.heartbeat_resp.read_seq = next_u64(f);
		break;
	case RAFT_MSG_SNAPSHOT:
		decode_snapshot(f, out);
		break;
	case RAFT_MSG_SNAPSHOT_RESP:
		out->u.snapshot_resp.index = next_u64(f);
		out->u.snapshot_resp.next_offset = next_u64(f);
		out->u.snapshot_resp.done = next_flag(f);
		out->u.snapshot_resp.reject = next_flag(f);
		break;
	default:
		break;
	}
}

int raft_decode(const uint8_t *buf, size_t len, struct raft_message *out,
		struct raft_entry *ents, uint32_t ents_cap)
{
	struct mp_doc doc;
	struct fields f = {0};
	uint32_t n;
	uint64_t version, type;
	int rv;

	memset(out, 0, sizeof(*out));
	if (mp_parse(&doc, buf, len) != 0)
		return ERR_MALFORMED;
	f.arr = doc.root;
	rv = ERR_MALFORMED;
	if (mp_get_array(doc.root, &n) != 0 || n < 2)
		goto err_free_doc;
	version = next_u64(&f);
	type = next_u64(&f);
	if (f.err != 0)
		goto err_free_doc;
	if (version != RAFT_WIRE_VERSION) {
		rv = ERR_VERSION;
		goto err_free_doc;
	}
	if (type == 0 || type >= RAFT_MSG_TYPE_MAX_ ||
	    n != HEADER_FIELDS + body_fields[type])
		goto err_free_doc;
	out->type = (uint8_t)type;
	out->from = next_u64(&f);
	out->to = next_u64(&f);
	out->term = next_u64(&f);
	decode_body(&f, out, ents, ents_cap);
	if (f.err != 0)
		goto err_free_doc;
	rv = raft_message_check(out);
err_free_doc:
	mp_doc_free(&doc);
	if (rv != 0)
		memset(out, 0, sizeof(*out));
	return rv;
}

/* ---- validation ---- */

static int big(uint64_t v)
{
	return v >= RAFT_NUM_MAX;
}

static int check_append(const struct raft_message *m)
{
	const struct raft_msg_append *a = &m->u.append;
	raft_term t = a->prev_term;

	if (big(a->prev_index) || big(a->prev_term) || big(a->commit))
		return ERR_MALFORMED;
	if (a->prev_term > m->term || (a->prev_index == 0 && a->prev_term != 0))
		return ERR_MALFORMED;
	if (a->n_entries > RAFT_BATCH_MAX ||
	    (a->n_entries > 0 && a->entries == NULL))
		return ERR_MALFORMED;
	for (uint32_t i = 0; i < a->n_entries; i++) {
		const struct raft_entry *e = &a->entries[i];

		if (e->index != a->prev_index + 1 + i || e->term < t ||
		    e->term > m->term || e->term == 0)
			return ERR_MALFORMED;
		if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_BARRIER)
			return ERR_MALFORMED;
		if (e->len > 0 && e->data == NULL)
			return ERR_MALFORMED;
		t = e->term;
	}
	return 0;
}

static int check_snapshot(const struct raft_message *m)
{
	const struct raft_msg_snapshot *s = &m->u.snapshot;
	const struct raft_configuration *c = &s->meta.conf;

	if (big(s->meta.index) || s->meta.index == 0 || s->meta.term == 0 ||
	    s->meta.term > m->term || big(s->total_len))
		return ERR_MALFORMED;
	if (s->offset > s->total_len || s->len > s->total_len - s->offset)
		return ERR_MALFORMED;
	if (s->len > 0 && s->data == NULL)
		return ERR_MALFORMED;
	if (s->done > 1 || (s->done && s->offset + s->len != s->total_len))
		return ERR_MALFORMED;
	if (c->n > RAFT_NODES_MAX)
		return ERR_MALFORMED;
	for (uint32_t i = 0; i < c->n; i++) {
		if (c->servers[i].id == 0 || big(c->servers[i].id) ||
		    (c->servers[i].role != RAFT_VOTER &&
		     c->servers[i].role != RAFT_LEARNER))
			return ERR_MALFORMED;
		for (uint32_t j = 0; j < i; j++)
			if (c->servers[j].id == c->servers[i].id)
				return ERR_MALFORMED;
	}
	return 0;
}

int raft_message_check(const struct raft_message *m)
{
	if (m->type == 0 || m->type >= RAFT_MSG_TYPE_MAX_)
		return ERR_MALFORMED;
	if (m->from == 0 || big(m->from) || big(m->to) || big(m->term))
		return ERR_MALFORMED;
	switch (m->type) {
	case RAFT_MSG_VOTE:
		if (big(m->u.vote.last_index) || m->u.vote.last_term > m->term ||
		    m->u.vote.prevote > 1 || m->u.vote.force > 1 ||
		    m->term == 0)
			return ERR_MALFORMED;
		return 0;
	case RAFT_MSG_VOTE_RESP:
		return m->u.vote_resp.granted > 1 || m->u.vote_resp.prevote > 1
			       ? ERR_MALFORMED
			       : 0;
	case RAFT_MSG_APPEND:
		return check_append(m);
	case RAFT_MSG_APPEND_RESP:
		if (m->u.append_resp.success > 1 ||
		    big(m->u.append_resp.index) ||
		    m->u.append_resp.hint_term > m->term ||
		    big(m->u.append_resp.hint_index) ||
		    big(m->u.append_resp.last_index))
			return ERR_MALFORMED;
		return 0;
	case RAFT_MSG_HEARTBEAT:
		return big(m->u.heartbeat.commit) ? ERR_MALFORMED : 0;
	case RAFT_MSG_SNAPSHOT:
		return check_snapshot(m);
	case RAFT_MSG_SNAPSHOT_RESP:
		if (big(m->u.snapshot_resp.index) ||
		    big(m->u.snapshot_resp.next_offset) ||
		    m->u.snapshot_resp.done > 1 || m->u.snapshot_resp.reject > 1)
			return ERR_MALFORMED;
		return 0;
	default:
		return 0;
	}
}
