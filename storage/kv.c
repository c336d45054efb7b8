/*
 * kv.c: the batch encoding shared by both engines, and error
 * classification. See kv.h.
 */
#include "storage/kv.h"

#include <string.h>

#include "base/assert.h"
#include "base/err.h"

/* A batch may hold a whole snapshot chunk or a full append of
 * STOR_APPEND_MAX entries; 256 MiB bounds it far above either. */
#define KV_BATCH_LIMIT ((size_t)256 << 20)

void kv_batch_init(struct kv_batch *b)
{
	wbuf_init(&b->buf, KV_BATCH_LIMIT);
	b->count = 0;
}

void kv_batch_free(struct kv_batch *b)
{
	wbuf_free(&b->buf);
	b->count = 0;
}

void kv_batch_clear(struct kv_batch *b)
{
	wbuf_reset(&b->buf);
	b->count = 0;
}

static int batch_op(struct kv_batch *b, uint8_t op, enum kv_cf cf,
		    const void *k, size_t kl, const void *v, size_t vl)
{
	size_t mark = b->buf.len;
	int rc;

	ASSERT(cf < KV_CF_COUNT);
	if (kl > UINT32_MAX || vl > UINT32_MAX)
		return ERR_TOOBIG;
	rc = wbuf_reserve(&b->buf, 10 + kl + vl);
	if (rc == 0)
		rc = wbuf_u8(&b->buf, op);
	if (rc == 0)
		rc = wbuf_u8(&b->buf, (uint8_t)cf);
	if (rc == 0)
		rc = wbuf_u32le(&b->buf, (uint32_t)kl);
	if (rc == 0)
		rc = wbuf_put(&b->buf, k, kl);
	if (rc == 0)
		rc = wbuf_u32le(&b->buf, (uint32_t)vl);
	if (rc == 0 && vl > 0)
		rc = wbuf_put(&b->buf, v, vl);
	if (rc != 0) {
		b->buf.len = mark;
		return rc;
	}
	b->count++;
	return 0;
}

int kv_batch_put(struct kv_batch *b, enum kv_cf cf, const void *k, size_t kl,
		 const void *v, size_t vl)
{
	return batch_op(b, KV_OP_PUT, cf, k, kl, v, vl);
}

int kv_batch_del(struct kv_batch *b, enum kv_cf cf, const void *k, size_t kl)
{
	return batch_op(b, KV_OP_DEL, cf, k, kl, NULL, 0);
}

int kv_batch_delrange(struct kv_batch *b, enum kv_cf cf, const void *lo,
		      size_t lol, const void *hi, size_t hil)
{
	return batch_op(b, KV_OP_DELRANGE, cf, lo, lol, hi, hil);
}

int kv_batch_next(const uint8_t *p, size_t len, size_t *off, struct kv_op *op)
{
	struct rcur c;
	uint32_t kl, vl;

	if (*off >= len)
		return 0;
	rcur_init(&c, p, len);
	c.off = *off;
	/* The batch was built by kv_batch_*: a short read is a bug. */
	ASSERT(rcur_u8(&c, &op->op) == 0);
	ASSERT(rcur_u8(&c, &op->cf) == 0);
	ASSERT(rcur_u32le(&c, &kl) == 0);
	ASSERT(rcur_view(&c, &op->k, kl) == 0);
	ASSERT(rcur_u32le(&c, &vl) == 0);
	ASSERT(rcur_view(&c, &op->v, vl) == 0);
	op->kl = kl;
	op->vl = vl;
	*off = c.off;
	return 1;
}

int kv_classify(const char *msg)
{
	if (msg == NULL)
		return ERR_IO;
	if (strstr(msg, "No space left") != NULL ||
	    strstr(msg, "ENOSPC") != NULL)
		return ERR_NOSPACE;
	if (strncmp(msg, "Corruption", 10) != 0 &&
	    strstr(msg, "Corruption:") == NULL)
		return ERR_IO;
	return ERR_CORRUPT;
}
