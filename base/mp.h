/*
 * mp.h: msgpack helpers over msgpack-c, for every wire and disk format.
 *
 * Writing: struct mp_writer wraps msgpack-c's packer and sbuffer with a
 * size limit and a sticky error, so a caller packs a whole message and
 * checks once at the end.
 *
 * Reading: msgpack-c trusts the counts in its input: a five-byte array
 * header claiming four billion elements makes it try to allocate 64 GB.
 * mp_parse() therefore first walks the raw bytes (mp_validate), checking
 * that every declared length fits in what remains and the nesting depth
 * stays within a bound, and only then lets msgpack-c build the object
 * tree. The typed getters check every type and range and return
 * ERR_MALFORMED, never assert, so a decoder built on them can be fed
 * anything.
 *
 * Convention for messages (docs/decisions.md): a map or array whose first
 * field is a format version; decoders reject versions they do not know
 * with ERR_VERSION.
 */
#ifndef CLUSTERD_BASE_MP_H
#define CLUSTERD_BASE_MP_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* Default nesting bound for mp_parse; no format of ours nests deeper. */
#define MP_DEPTH_MAX 32

struct mp_writer {
	msgpack_sbuffer sbuf;
	msgpack_packer pk;
	size_t limit;
	int err; /* first error, sticky */
};

/* Starts an empty buffer that may grow to `limit` bytes. */
void mp_writer_init(struct mp_writer *w, size_t limit);
void mp_writer_free(struct mp_writer *w);
/* Empties the buffer for reuse and clears the error. */
void mp_writer_reset(struct mp_writer *w);
/* Returns the sticky error (0, ERR_TOOBIG or ERR_NOMEM). */
int mp_writer_error(const struct mp_writer *w);
/* Borrow the packed bytes (valid until the next write or free). */
const uint8_t *mp_writer_data(const struct mp_writer *w);
size_t mp_writer_len(const struct mp_writer *w);
/* Transfers the buffer to the caller, who free()s it; w is left empty.
 * Returns the sticky error instead, keeping the buffer, if one occurred. */
int mp_writer_take(struct mp_writer *w, uint8_t **buf, size_t *len);

void mp_w_nil(struct mp_writer *w);
void mp_w_bool(struct mp_writer *w, int v);
void mp_w_uint(struct mp_writer *w, uint64_t v);
void mp_w_int(struct mp_writer *w, int64_t v);
void mp_w_double(struct mp_writer *w, double v);
void mp_w_str(struct mp_writer *w, const char *s, size_t len);
void mp_w_cstr(struct mp_writer *w, const char *s);
void mp_w_bin(struct mp_writer *w, const void *p, size_t len);
void mp_w_array(struct mp_writer *w, uint32_t n);
void mp_w_map(struct mp_writer *w, uint32_t n);
/* Appends already-encoded msgpack bytes verbatim. */
void mp_w_raw(struct mp_writer *w, const void *p, size_t len);

/* Checks that buf[0..len) starts with one well-formed msgpack object of
 * nesting depth at most max_depth, every length within bounds. Sets
 * *consumed to its size. ERR_MALFORMED otherwise. Does not allocate. */
int mp_validate(const uint8_t *buf, size_t len, unsigned max_depth,
		size_t *consumed);

/* A parsed document; the object tree lives in the document's zone. */
struct mp_doc {
	msgpack_unpacked up;
	const msgpack_object *root;
};

/* Parses exactly one object filling all of buf (trailing bytes are
 * ERR_MALFORMED). Strings and binaries in the tree point into buf, which
 * is borrowed until mp_doc_free. On success free with mp_doc_free. */
int mp_parse(struct mp_doc *doc, const void *buf, size_t len);
void mp_doc_free(struct mp_doc *doc);

/* Typed getters: ERR_MALFORMED on a type mismatch or out-of-range value. */
int mp_get_u64(const msgpack_object *o, uint64_t *out);
int mp_get_u32(const msgpack_object *o, uint32_t *out);
int mp_get_i64(const msgpack_object *o, int64_t *out);
int mp_get_bool(const msgpack_object *o, int *out);
int mp_get_double(const msgpack_object *o, double *out);
/* *out borrows the document's memory; not NUL-terminated. */
int mp_get_str(const msgpack_object *o, const char **out, size_t *len);
int mp_get_bin(const msgpack_object *o, const uint8_t **out, size_t *len);
/* Copies a string into dst (NUL-terminated); ERR_MALFORMED if it does not
 * fit in dst_size - 1 bytes or contains a NUL. */
int mp_get_strcpy(const msgpack_object *o, char *dst, size_t dst_size);
int mp_is_nil(const msgpack_object *o);

/* Containers: the element count, then elements by index. */
int mp_get_array(const msgpack_object *o, uint32_t *n);
int mp_array_at(const msgpack_object *o, uint32_t i,
		const msgpack_object **out);
int mp_get_map(const msgpack_object *o, uint32_t *n);
/* Looks a string key up in a map: ERR_NOTFOUND if absent. */
int mp_map_get(const msgpack_object *o, const char *key,
	       const msgpack_object **out);
/* Shorthands for a required map field of a given type. */
int mp_map_u64(const msgpack_object *o, const char *key, uint64_t *out);
int mp_map_str(const msgpack_object *o, const char *key, const char **out,
	       size_t *len);

#endif
