/*
 * mp.c: bounded msgpack reading and writing over msgpack-c. See mp.h.
 */
#include "base/mp.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"

/* msgpack-c's sbuffer write callback, with our limit applied first. */
static int writer_write(void *data, const char *buf, size_t len)
{
	struct mp_writer *w = data;

	if (w->err)
		return -1;
	if (len > w->limit - w->sbuf.size) {
		w->err = ERR_TOOBIG;
		return -1;
	}
	if (msgpack_sbuffer_write(&w->sbuf, buf, len) != 0) {
		w->err = ERR_NOMEM;
		return -1;
	}
	return 0;
}

void mp_writer_init(struct mp_writer *w, size_t limit)
{
	msgpack_sbuffer_init(&w->sbuf);
	msgpack_packer_init(&w->pk, w, writer_write);
	w->limit = limit;
	w->err = 0;
}

void mp_writer_free(struct mp_writer *w)
{
	msgpack_sbuffer_destroy(&w->sbuf);
	msgpack_sbuffer_init(&w->sbuf);
}

void mp_writer_reset(struct mp_writer *w)
{
	msgpack_sbuffer_clear(&w->sbuf);
	w->err = 0;
}

int mp_writer_error(const struct mp_writer *w)
{
	return w->err;
}

const uint8_t *mp_writer_data(const struct mp_writer *w)
{
	return (const uint8_t *)w->sbuf.data;
}

size_t mp_writer_len(const struct mp_writer *w)
{
	return w->sbuf.size;
}

int mp_writer_take(struct mp_writer *w, uint8_t **buf, size_t *len)
{
	if (w->err)
		return w->err;
	*len = w->sbuf.size;
	*buf = (uint8_t *)msgpack_sbuffer_release(&w->sbuf);
	if (*buf == NULL) {
		/* An empty sbuffer has no allocation; give the caller one. */
		*buf = malloc(1);
		if (*buf == NULL)
			return ERR_NOMEM;
	}
	return 0;
}

void mp_w_nil(struct mp_writer *w) { msgpack_pack_nil(&w->pk); }

void mp_w_bool(struct mp_writer *w, int v)
{
	if (v)
		msgpack_pack_true(&w->pk);
	else
		msgpack_pack_false(&w->pk);
}

void mp_w_uint(struct mp_writer *w, uint64_t v) { msgpack_pack_uint64(&w->pk, v); }
void mp_w_int(struct mp_writer *w, int64_t v) { msgpack_pack_int64(&w->pk, v); }
void mp_w_double(struct mp_writer *w, double v) { msgpack_pack_double(&w->pk, v); }

void mp_w_str(struct mp_writer *w, const char *s, size_t len)
{
	msgpack_pack_str(&w->pk, len);
	msgpack_pack_str_body(&w->pk, s, len);
}

void mp_w_cstr(struct mp_writer *w, const char *s)
{
	mp_w_str(w, s, strlen(s));
}

void mp_w_bin(struct mp_writer *w, const void *p, size_t len)
{
	msgpack_pack_bin(&w->pk, len);
	msgpack_pack_bin_body(&w->pk, p, len);
}

void mp_w_array(struct mp_writer *w, uint32_t n) { msgpack_pack_array(&w->pk, n); }
void mp_w_map(struct mp_writer *w, uint32_t n) { msgpack_pack_map(&w->pk, n); }

void mp_w_raw(struct mp_writer *w, const void *p, size_t len)
{
	writer_write(w, p, len);
}

/*
 * The validator walks the bytes with an explicit stack of "objects still
 * expected" per open container, so input-controlled depth never recurses.
 * Each element occupies at least one byte, so a count larger than the
 * bytes left is rejected before anything is allocated.
 */
struct vstate {
	struct rcur c;
	uint64_t stack[MP_DEPTH_MAX + 1];
	unsigned depth;
	unsigned max_depth;
};

/* Reads a big-endian length field of `width` bytes. */
static int read_len(struct rcur *c, unsigned width, uint64_t *out)
{
	uint8_t b8;
	uint32_t b32;
	const uint8_t *p;

	switch (width) {
	case 1:
		if (rcur_u8(c, &b8))
			return ERR_MALFORMED;
		*out = b8;
		return 0;
	case 2:
		if (rcur_view(c, &p, 2))
			return ERR_MALFORMED;
		*out = ((uint64_t)p[0] << 8) | p[1];
		return 0;
	case 4:
		if (rcur_u32be(c, &b32))
			return ERR_MALFORMED;
		*out = b32;
		return 0;
	default:
		UNREACHABLE();
	}
}

/* Opens a container expecting n objects (2n for maps, passed in). */
static int push(struct vstate *v, uint64_t n)
{
	if (n > rcur_left(&v->c))
		return ERR_MALFORMED;
	if (n == 0)
		return 0;
	if (v->depth >= v->max_depth)
		return ERR_MALFORMED;
	v->stack[++v->depth] = n;
	return 0;
}

/* Consumes one object header (and payload for scalars). */
static int step(struct vstate *v)
{
	uint8_t t;
	uint64_t n;

	if (rcur_u8(&v->c, &t))
		return ERR_MALFORMED;
	if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
		return 0;
	if (t >= 0x80 && t <= 0x8f)
		return push(v, 2u * (t & 0x0f));
	if (t >= 0x90 && t <= 0x9f)
		return push(v, t & 0x0f);
	if (t >= 0xa0 && t <= 0xbf)
		return rcur_skip(&v->c, t & 0x1f) ? ERR_MALFORMED : 0;
	switch (t) {
	case 0xc4: case 0xd9: /* bin8, str8 */
		return read_len(&v->c, 1, &n) || rcur_skip(&v->c, n) ? ERR_MALFORMED : 0;
	case 0xc5: case 0xda:
		return read_len(&v->c, 2, &n) || rcur_skip(&v->c, n) ? ERR_MALFORMED : 0;
	case 0xc6: case 0xdb:
		return read_len(&v->c, 4, &n) || rcur_skip(&v->c, n) ? ERR_MALFORMED : 0;
	case 0xc7: /* ext8: length, type byte, data */
		return read_len(&v->c, 1, &n) || rcur_skip(&v->c, n + 1) ? ERR_MALFORMED : 0;
	case 0xc8:
		return read_len(&v->c, 2, &n) || rcur_skip(&v->c, n + 1) ? ERR_MALFORMED : 0;
	case 0xc9:
		return read_len(&v->c, 4, &n) || rcur_skip(&v->c, n + 1) ? ERR_MALFORMED : 0;
	case 0xca: case 0xce: case 0xd2: return rcur_skip(&v->c, 4) ? ERR_MALFORMED : 0;
	case 0xcb: case 0xcf: case 0xd3: return rcur_skip(&v->c, 8) ? ERR_MALFORMED : 0;
	case 0xcc: case 0xd0: return rcur_skip(&v->c, 1) ? ERR_MALFORMED : 0;
	case 0xcd: case 0xd1: return rcur_skip(&v->c, 2) ? ERR_MALFORMED : 0;
	case 0xd4: return rcur_skip(&v->c, 2) ? ERR_MALFORMED : 0;  /* fixext1 */
	case 0xd5: return rcur_skip(&v->c, 3) ? ERR_MALFORMED : 0;
	case 0xd6: return rcur_skip(&v->c, 5) ? ERR_MALFORMED : 0;
	case 0xd7: return rcur_skip(&v->c, 9) ? ERR_MALFORMED : 0;
	case 0xd8: return rcur_skip(&v->c, 17) ? ERR_MALFORMED : 0;
	case 0xdc:
		return read_len(&v->c, 2, &n) ? ERR_MALFORMED : push(v, n);
	case 0xdd:
		return read_len(&v->c, 4, &n) ? ERR_MALFORMED : push(v, n);
	case 0xde:
		return read_len(&v->c, 2, &n) ? ERR_MALFORMED : push(v, 2 * n);
	case 0xdf:
		return read_len(&v->c, 4, &n) ? ERR_MALFORMED : push(v, 2 * n);
	default: /* 0xc1 is never used */
		return ERR_MALFORMED;
	}
}

int mp_validate(const uint8_t *buf, size_t len, unsigned max_depth,
		size_t *consumed)
{
	struct vstate v;
	int rv;

	if (max_depth > MP_DEPTH_MAX)
		max_depth = MP_DEPTH_MAX;
	rcur_init(&v.c, buf, len);
	v.depth = 0;
	v.max_depth = max_depth;
	v.stack[0] = 1;
	while (v.depth > 0 || v.stack[0] > 0) {
		/* The object about to be read counts against its container. */
		v.stack[v.depth]--;
		rv = step(&v);
		if (rv)
			return rv;
		while (v.depth > 0 && v.stack[v.depth] == 0)
			v.depth--;
	}
	*consumed = v.c.off;
	return 0;
}

int mp_parse(struct mp_doc *doc, const void *buf, size_t len)
{
	size_t consumed = 0, off = 0;
	msgpack_unpack_return ret;

	if (mp_validate(buf, len, MP_DEPTH_MAX, &consumed) || consumed != len)
		return ERR_MALFORMED;
	msgpack_unpacked_init(&doc->up);
	ret = msgpack_unpack_next(&doc->up, buf, len, &off);
	if (ret == MSGPACK_UNPACK_NOMEM_ERROR) {
		msgpack_unpacked_destroy(&doc->up);
		return ERR_NOMEM;
	}
	if (ret != MSGPACK_UNPACK_SUCCESS || off != len) {
		msgpack_unpacked_destroy(&doc->up);
		return ERR_MALFORMED;
	}
	doc->root = &doc->up.data;
	return 0;
}

void mp_doc_free(struct mp_doc *doc)
{
	msgpack_unpacked_destroy(&doc->up);
	doc->root = NULL;
}

int mp_get_u64(const msgpack_object *o, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return ERR_MALFORMED;
	*out = o->via.u64;
	return 0;
}

int mp_get_u32(const msgpack_object *o, uint32_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > UINT32_MAX)
		return ERR_MALFORMED;
	*out = (uint32_t)o->via.u64;
	return 0;
}

int mp_get_i64(const msgpack_object *o, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
		*out = (int64_t)o->via.u64;
		return 0;
	}
	return ERR_MALFORMED;
}

int mp_get_bool(const msgpack_object *o, int *out)
{
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return ERR_MALFORMED;
	*out = o->via.boolean ? 1 : 0;
	return 0;
}

int mp_get_double(const msgpack_object *o, double *out)
{
	int64_t i;

	if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) {
		*out = o->via.f64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*out = (double)o->via.u64;
		return 0;
	}
	if (mp_get_i64(o, &i) == 0) {
		*out = (double)i;
		return 0;
	}
	return ERR_MALFORMED;
}

int mp_get_str(const msgpack_object *o, const char **out, size_t *len)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return ERR_MALFORMED;
	*out = o->via.str.ptr;
	*len = o->via.str.size;
	return 0;
}

int mp_get_bin(const msgpack_object *o, const uint8_t **out, size_t *len)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return ERR_MALFORMED;
	*out = (const uint8_t *)o->via.bin.ptr;
	*len = o->via.bin.size;
	return 0;
}

int mp_get_strcpy(const msgpack_object *o, char *dst, size_t dst_size)
{
	const char *s;
	size_t len;

	if (mp_get_str(o, &s, &len) || dst_size == 0 || len >= dst_size)
		return ERR_MALFORMED;
	if (len > 0 && memchr(s, '\0', len) != NULL)
		return ERR_MALFORMED;
	if (len > 0)
		memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

int mp_is_nil(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_NIL;
}

int mp_get_array(const msgpack_object *o, uint32_t *n)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return ERR_MALFORMED;
	*n = o->via.array.size;
	return 0;
}

int mp_array_at(const msgpack_object *o, uint32_t i, const msgpack_object **out)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || i >= o->via.array.size)
		return ERR_MALFORMED;
	*out = &o->via.array.ptr[i];
	return 0;
}

int mp_get_map(const msgpack_object *o, uint32_t *n)
{
	if (o->type != MSGPACK_OBJECT_MAP)
		return ERR_MALFORMED;
	*n = o->via.map.size;
	return 0;
}

int mp_map_get(const msgpack_object *o, const char *key,
	       const msgpack_object **out)
{
	size_t klen = strlen(key);

	if (o->type != MSGPACK_OBJECT_MAP)
		return ERR_MALFORMED;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR &&
		    kv->key.via.str.size == klen &&
		    memcmp(kv->key.via.str.ptr, key, klen) == 0) {
			*out = &kv->val;
			return 0;
		}
	}
	return ERR_NOTFOUND;
}

int mp_map_u64(const msgpack_object *o, const char *key, uint64_t *out)
{
	const msgpack_object *v;

	if (mp_map_get(o, key, &v))
		return ERR_MALFORMED;
	return mp_get_u64(v, out);
}

int mp_map_str(const msgpack_object *o, const char *key, const char **out,
	       size_t *len)
{
	const msgpack_object *v;

	if (mp_map_get(o, key, &v))
		return ERR_MALFORMED;
	return mp_get_str(v, out, len);
}
