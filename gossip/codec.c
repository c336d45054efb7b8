/*
 * codec.c: the gossip wire format; layout and rules in codec.h.
 */
#include "gossip/codec.h"

#include <string.h>

#include "base/err.h"

static int get_gstr(const msgpack_object *o, uint32_t max, int allow_empty,
		    struct gstr *out)
{
	const char *p;
	size_t len;

	if (mp_get_str(o, &p, &len) != 0)
		return ERR_MALFORMED;
	if (len > max || (len == 0 && !allow_empty))
		return ERR_MALFORMED;
	if (memchr(p, '\0', len) != NULL)
		return ERR_MALFORMED;
	out->p = p;
	out->len = (uint32_t)len;
	return 0;
}

/* Field i of a message array, which the caller checked has n fields. */
static const msgpack_object *field(const msgpack_object *arr, uint32_t i)
{
	return &arr->via.array.ptr[i];
}

static int need_fields(const msgpack_object *arr, uint32_t want)
{
	return arr->via.array.size == want ? 0 : ERR_MALFORMED;
}

static int dec_probe(const msgpack_object *a, struct gmsg *m)
{
	int rc;

	if (m->type == GMSG_ACK || m->type == GMSG_NACK) {
		if ((rc = need_fields(a, 2)) != 0)
			return rc;
		return mp_get_u64(field(a, 1), &m->seq);
	}
	if ((rc = need_fields(a, m->type == GMSG_PING ? 3u : 4u)) != 0)
		return rc;
	if (mp_get_u64(field(a, 1), &m->seq) != 0 ||
	    get_gstr(field(a, 2), GOSSIP_NAME_MAX, 0, &m->name) != 0)
		return ERR_MALFORMED;
	if (m->type == GMSG_PING_REQ &&
	    get_gstr(field(a, 3), GOSSIP_ADDR_MAX, 0, &m->addr) != 0)
		return ERR_MALFORMED;
	return 0;
}

static int dec_member_msg(const msgpack_object *a, struct gmsg *m)
{
	if (need_fields(a, 4) != 0 ||
	    get_gstr(field(a, 1), GOSSIP_NAME_MAX, 0, &m->name) != 0)
		return ERR_MALFORMED;
	if (m->type == GMSG_ALIVE) {
		if (get_gstr(field(a, 2), GOSSIP_ADDR_MAX, 0, &m->addr) != 0 ||
		    mp_get_u64(field(a, 3), &m->inc) != 0)
			return ERR_MALFORMED;
		return 0;
	}
	if (mp_get_u64(field(a, 2), &m->inc) != 0 ||
	    get_gstr(field(a, 3), GOSSIP_NAME_MAX, 0, &m->from) != 0)
		return ERR_MALFORMED;
	return 0;
}

static int dec_bin(const msgpack_object *o, const uint8_t **v, uint32_t *len)
{
	size_t l;

	if (mp_get_bin(o, v, &l) != 0 || l > GOSSIP_VALUE_MAX)
		return ERR_MALFORMED;
	*len = (uint32_t)l;
	return 0;
}

static int dec_state(const msgpack_object *a, struct gmsg *m)
{
	if (need_fields(a, 5) != 0 ||
	    get_gstr(field(a, 1), GOSSIP_NAME_MAX, 0, &m->name) != 0 ||
	    get_gstr(field(a, 2), GOSSIP_KEY_MAX, 0, &m->key) != 0 ||
	    mp_get_u64(field(a, 3), &m->inc) != 0 ||
	    dec_bin(field(a, 4), &m->value, &m->value_len) != 0)
		return ERR_MALFORMED;
	return 0;
}

static int dec_pp_kv(const msgpack_object *o, struct gpp_kv *kv)
{
	uint32_t n;

	if (mp_get_array(o, &n) != 0 || n != 3 ||
	    get_gstr(field(o, 0), GOSSIP_KEY_MAX, 0, &kv->key) != 0 ||
	    mp_get_u64(field(o, 1), &kv->version) != 0 ||
	    dec_bin(field(o, 2), &kv->value, &kv->value_len) != 0)
		return ERR_MALFORMED;
	return 0;
}

static int dec_pp_entry(const msgpack_object *o, struct gpp_member *pm)
{
	const msgpack_object *kvs;
	uint32_t n;

	if (mp_get_array(o, &n) != 0 || n != 5 ||
	    get_gstr(field(o, 0), GOSSIP_NAME_MAX, 0, &pm->name) != 0 ||
	    get_gstr(field(o, 1), GOSSIP_ADDR_MAX, 0, &pm->addr) != 0 ||
	    mp_get_u64(field(o, 2), &pm->inc) != 0 ||
	    mp_get_u32(field(o, 3), &pm->status) != 0)
		return ERR_MALFORMED;
	if (pm->status < GOSSIP_ALIVE || pm->status > GOSSIP_LEFT)
		return ERR_MALFORMED;
	kvs = field(o, 4);
	if (mp_get_array(kvs, &pm->n_kv) != 0 ||
	    pm->n_kv > GOSSIP_STATE_KEYS_MAX)
		return ERR_MALFORMED;
	for (uint32_t i = 0; i < pm->n_kv; i++)
		if (dec_pp_kv(field(kvs, i), &pm->kv[i]) != 0)
			return ERR_MALFORMED;
	return 0;
}

int gossip_pp_member(const struct gmsg *m, uint32_t i, struct gpp_member *out)
{
	if (m->type != GMSG_PUSHPULL || i >= m->n_members)
		return ERR_INVAL;
	return dec_pp_entry(field(m->members, i), out);
}

static int dec_pushpull(const msgpack_object *a, struct gmsg *m)
{
	struct gpp_member pm;

	if (need_fields(a, 3) != 0 || mp_get_u32(field(a, 1), &m->flags) != 0)
		return ERR_MALFORMED;
	m->members = field(a, 2);
	if (mp_get_array(m->members, &m->n_members) != 0 ||
	    m->n_members > GOSSIP_PP_MEMBERS_MAX)
		return ERR_MALFORMED;
	/* Validate every entry now, so the core never meets a bad one
	 * halfway through a merge. */
	for (uint32_t i = 0; i < m->n_members; i++)
		if (dec_pp_entry(field(m->members, i), &pm) != 0)
			return ERR_MALFORMED;
	return 0;
}

static int dec_digest_entry(const msgpack_object *o, struct gpp_digest *d)
{
	uint32_t n;

	if (mp_get_array(o, &n) != 0 || n != 4 ||
	    get_gstr(field(o, 0), GOSSIP_NAME_MAX, 0, &d->name) != 0 ||
	    mp_get_u64(field(o, 1), &d->inc) != 0 ||
	    mp_get_u32(field(o, 2), &d->status) != 0 ||
	    mp_get_u32(field(o, 3), &d->sig) != 0)
		return ERR_MALFORMED;
	if (d->status < GOSSIP_ALIVE || d->status > GOSSIP_LEFT)
		return ERR_MALFORMED;
	return 0;
}

int gossip_pp_digest(const struct gmsg *m, uint32_t i, struct gpp_digest *out)
{
	if (m->type != GMSG_PP_DIGEST || i >= m->n_members)
		return ERR_INVAL;
	return dec_digest_entry(field(m->members, i), out);
}

int gossip_pp_want(const struct gmsg *m, uint32_t i, struct gstr *name)
{
	if (m->type != GMSG_PP_WANT || i >= m->n_members)
		return ERR_INVAL;
	return get_gstr(field(m->members, i), GOSSIP_NAME_MAX, 0, name);
}

/* PP_DIGEST [10, flags, [entry...]] and PP_WANT [11, [name...]]: every
 * entry is checked here, as for PUSHPULL. */
static int dec_digest_or_want(const msgpack_object *a, struct gmsg *m)
{
	struct gpp_digest d;
	struct gstr s;
	int want = m->type == GMSG_PP_WANT;

	if (need_fields(a, want ? 2u : 3u) != 0)
		return ERR_MALFORMED;
	if (!want && mp_get_u32(field(a, 1), &m->flags) != 0)
		return ERR_MALFORMED;
	m->members = field(a, want ? 1 : 2);
	if (mp_get_array(m->members, &m->n_members) != 0 ||
	    m->n_members > GOSSIP_PP_MEMBERS_MAX)
		return ERR_MALFORMED;
	for (uint32_t i = 0; i < m->n_members; i++) {
		int rc = want ? gossip_pp_want(m, i, &s)
			      : gossip_pp_digest(m, i, &d);

		if (rc != 0)
			return ERR_MALFORMED;
	}
	return 0;
}

uint32_t gossip_kv_sig_add(uint32_t sig, const char *key, uint64_t version)
{
	uint32_t h = 2166136261u;

	for (const char *p = key; *p != '\0'; p++) {
		h ^= (uint8_t)*p;
		h *= 16777619u;
	}
	for (int i = 0; i < 8; i++) {
		h ^= (uint8_t)(version >> (8 * i));
		h *= 16777619u;
	}
	return sig + h;
}

/* Decodes one msg; *skip is set for a type this version does not know. */
static int dec_msg(const msgpack_object *a, struct gmsg *m, int *skip)
{
	uint32_t n;

	memset(m, 0, sizeof(*m));
	*skip = 0;
	if (mp_get_array(a, &n) != 0 || n < 1 ||
	    mp_get_u32(field(a, 0), &m->type) != 0)
		return ERR_MALFORMED;
	switch (m->type) {
	case GMSG_PING:
	case GMSG_ACK:
	case GMSG_NACK:
	case GMSG_PING_REQ:
		return dec_probe(a, m);
	case GMSG_ALIVE:
	case GMSG_SUSPECT:
	case GMSG_DEAD:
		return dec_member_msg(a, m);
	case GMSG_STATE:
		return dec_state(a, m);
	case GMSG_PUSHPULL:
		return dec_pushpull(a, m);
	case GMSG_PP_DIGEST:
	case GMSG_PP_WANT:
		return dec_digest_or_want(a, m);
	default:
		*skip = 1;
		return 0;
	}
}

static int dec_body(struct gossip_wire *w)
{
	const msgpack_object *root = w->doc.root, *msgs;
	uint32_t n, ver, n_msgs;
	int rc, skip;

	if (mp_get_array(root, &n) != 0 || n != 4 ||
	    mp_get_u32(field(root, 0), &ver) != 0)
		return ERR_MALFORMED;
	if (ver != GOSSIP_WIRE_VERSION)
		return ERR_VERSION;
	if (get_gstr(field(root, 1), GOSSIP_NAME_MAX, 0, &w->from_name) != 0 ||
	    get_gstr(field(root, 2), GOSSIP_ADDR_MAX, 0, &w->from_addr) != 0)
		return ERR_MALFORMED;
	msgs = field(root, 3);
	if (mp_get_array(msgs, &n_msgs) != 0 || n_msgs > GOSSIP_PKT_MSGS_MAX)
		return ERR_MALFORMED;
	w->n = 0;
	for (uint32_t i = 0; i < n_msgs; i++) {
		rc = dec_msg(field(msgs, i), &w->msgs[w->n], &skip);
		if (rc != 0)
			return rc;
		if (!skip)
			w->n++;
	}
	return 0;
}

int gossip_decode(struct gossip_wire *w, const uint8_t *buf, size_t len)
{
	int rc;

	w->n = 0;
	rc = mp_parse(&w->doc, buf, len);
	if (rc != 0)
		return rc == ERR_NOMEM ? rc : ERR_MALFORMED;
	rc = dec_body(w);
	if (rc != 0) {
		mp_doc_free(&w->doc);
		return rc;
	}
	return 0;
}

void gossip_wire_free(struct gossip_wire *w)
{
	mp_doc_free(&w->doc);
}

void gossip_enc_header(struct mp_writer *w, const char *name, const char *addr,
		       uint32_t n_msgs)
{
	mp_w_array(w, 4);
	mp_w_uint(w, GOSSIP_WIRE_VERSION);
	mp_w_cstr(w, name);
	mp_w_cstr(w, addr);
	mp_w_array(w, n_msgs);
}

void gossip_enc_ping(struct mp_writer *w, uint32_t type, uint64_t seq,
		     const char *target, const char *target_addr)
{
	mp_w_array(w, type == GMSG_PING_REQ ? 4 : 3);
	mp_w_uint(w, type);
	mp_w_uint(w, seq);
	mp_w_cstr(w, target);
	if (type == GMSG_PING_REQ)
		mp_w_cstr(w, target_addr);
}

void gossip_enc_ack(struct mp_writer *w, uint32_t type, uint64_t seq)
{
	mp_w_array(w, 2);
	mp_w_uint(w, type);
	mp_w_uint(w, seq);
}

void gossip_enc_alive(struct mp_writer *w, const char *name, const char *addr,
		      uint64_t inc)
{
	mp_w_array(w, 4);
	mp_w_uint(w, GMSG_ALIVE);
	mp_w_cstr(w, name);
	mp_w_cstr(w, addr);
	mp_w_uint(w, inc);
}

void gossip_enc_accuse(struct mp_writer *w, uint32_t type, const char *name,
		       uint64_t inc, const char *from)
{
	mp_w_array(w, 4);
	mp_w_uint(w, type);
	mp_w_cstr(w, name);
	mp_w_uint(w, inc);
	mp_w_cstr(w, from);
}

void gossip_enc_state(struct mp_writer *w, const char *name, const char *key,
		      uint64_t version, const uint8_t *value, size_t len)
{
	mp_w_array(w, 5);
	mp_w_uint(w, GMSG_STATE);
	mp_w_cstr(w, name);
	mp_w_cstr(w, key);
	mp_w_uint(w, version);
	mp_w_bin(w, value, len);
}

void gossip_enc_pp_begin(struct mp_writer *w, uint32_t flags,
			 uint32_t n_members)
{
	mp_w_array(w, 3);
	mp_w_uint(w, GMSG_PUSHPULL);
	mp_w_uint(w, flags);
	mp_w_array(w, n_members);
}

void gossip_enc_pp_member(struct mp_writer *w, const char *name,
			  const char *addr, uint64_t inc, uint32_t status,
			  uint32_t n_kv)
{
	mp_w_array(w, 5);
	mp_w_cstr(w, name);
	mp_w_cstr(w, addr);
	mp_w_uint(w, inc);
	mp_w_uint(w, status);
	mp_w_array(w, n_kv);
}

void gossip_enc_pp_kv(struct mp_writer *w, const char *key, uint64_t version,
		      const uint8_t *value, size_t len)
{
	mp_w_array(w, 3);
	mp_w_cstr(w, key);
	mp_w_uint(w, version);
	mp_w_bin(w, value, len);
}

void gossip_enc_digest_begin(struct mp_writer *w, uint32_t flags, uint32_t n)
{
	mp_w_array(w, 3);
	mp_w_uint(w, GMSG_PP_DIGEST);
	mp_w_uint(w, flags);
	mp_w_array(w, n);
}

void gossip_enc_digest_entry(struct mp_writer *w, const char *name,
			     uint64_t inc, uint32_t status, uint32_t sig)
{
	mp_w_array(w, 4);
	mp_w_cstr(w, name);
	mp_w_uint(w, inc);
	mp_w_uint(w, status);
	mp_w_uint(w, sig);
}

void gossip_enc_want_begin(struct mp_writer *w, uint32_t n)
{
	mp_w_array(w, 2);
	mp_w_uint(w, GMSG_PP_WANT);
	mp_w_array(w, n);
}

void gossip_enc_want_name(struct mp_writer *w, struct gstr name)
{
	mp_w_str(w, name.p, name.len);
}
