/*
 * store.c: opening and closing the store, the sticky failure state, and
 * the Raft metadata records (hard state, configuration, snapshot
 * metadata) plus node-local data. See storage.h for the layout.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/mp.h"
#include "storage/idomain.h"
#include "storage/pdomain.h"
#include "storage/stor_int.h"

/* Defaults: a node's memory budget for RocksDB is a few tens of MB
 * (docs/decisions.md "RocksDB memory"): 8 MB memtables per column family
 * capped at 32 MB over all of them, a 16 MB block cache. */
void stor_options_default(struct stor_options *o)
{
	memset(o, 0, sizeof(*o));
	o->write_buffer_bytes = 8u << 20;
	o->db_write_buffer_bytes = 32u << 20;
	o->block_cache_bytes = 16u << 20;
	o->max_open_files = 256;
	o->sync = 1;
}

int stor_fail(struct stor *s, int code, const char *fmt, ...)
{
	char text[STOR_ERRTEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&s->mu);
	memcpy(s->err, text, sizeof(s->err));
	if (code == ERR_NOSPACE)
		s->nospace = 1;
	else if ((code == ERR_CORRUPT || code == ERR_IO) && s->failed == 0)
		s->failed = code;
	pthread_mutex_unlock(&s->mu);
	TRACE_E(s->tr, TRACE_MOD, "%s: %s", err_name(code), text);
	return code;
}

/* The public face of stor_check_write: what a writer would be refused. */
int stor_failed(struct stor *s)
{
	return stor_check_write(s);
}

void stor_last_error(struct stor *s, char *buf, size_t size)
{
	if (size == 0)
		return;
	pthread_mutex_lock(&s->mu);
	snprintf(buf, size, "%s", s->err);
	pthread_mutex_unlock(&s->mu);
}

int stor_check_read(struct stor *s)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = s->failed;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int stor_check_write(struct stor *s)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = s->failed != 0 ? s->failed : (s->nospace ? ERR_NOSPACE : 0);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Turns an engine write or sync result into the store's: a full disk
 * stops writes, any other failure fails the store (stor_fail). */
static int write_result(struct stor *s, int rc, const char *what,
			const char *err)
{
	if (rc == ERR_NOSPACE)
		return stor_fail(s, rc, "%s: disk full, writes stopped: %s",
				 what, err);
	if (rc != 0)
		return stor_fail(s, rc, "%s: %s", what, err);
	return 0;
}

int stor_write(struct stor *s, const struct kv_batch *b, int sync,
	       const char *what)
{
	char err[KV_ERRMSG_MAX] = "";
	int rc = stor_check_write(s);

	if (rc != 0)
		return rc;
	rc = s->kv->e->write(s->kv, b, sync, err);
	return write_result(s, rc, what, err);
}

int stor_sync(struct stor *s, const char *what)
{
	char err[KV_ERRMSG_MAX] = "";
	int rc = stor_check_read(s);

	if (rc != 0)
		return rc;
	rc = s->kv->e->sync(s->kv, err);
	return write_result(s, rc, what, err);
}

int stor_get(struct stor *s, enum kv_cf cf, const void *k, size_t kl,
	     uint8_t **v, size_t *vl)
{
	char err[KV_ERRMSG_MAX] = "";
	int rc = stor_check_read(s);

	if (rc != 0)
		return rc;
	rc = s->kv->e->get(s->kv, NULL, cf, k, kl, v, vl, err);
	if (rc != 0 && rc != ERR_NOTFOUND)
		return stor_fail(s, rc, "read: %s", err);
	return rc;
}

/* --- Meta records: msgpack [format, numbers...] ---------------------- */

int stor_batch_meta(struct kv_batch *b, const char *key, const uint64_t *v,
		    size_t n)
{
	struct mp_writer w;
	int rc;

	mp_writer_init(&w, 128);
	mp_w_array(&w, (uint32_t)n + 1);
	mp_w_uint(&w, META_FORMAT);
	for (size_t i = 0; i < n; i++)
		mp_w_uint(&w, v[i]);
	rc = mp_writer_error(&w);
	if (rc == 0)
		rc = kv_batch_put(b, KV_CF_META, key, strlen(key),
				  mp_writer_data(&w), mp_writer_len(&w));
	mp_writer_free(&w);
	return rc;
}

static int meta_decode(const uint8_t *p, size_t len, uint64_t *v, size_t n)
{
	struct mp_doc doc;
	const msgpack_object *o;
	uint32_t cnt;
	uint64_t ver;
	int rc;

	rc = mp_parse(&doc, p, len);
	if (rc != 0)
		return rc;
	rc = mp_get_array(doc.root, &cnt);
	if (rc == 0 && cnt < n + 1)
		rc = ERR_MALFORMED;
	if (rc == 0 && (rc = mp_array_at(doc.root, 0, &o)) == 0)
		rc = mp_get_u64(o, &ver);
	if (rc == 0 && ver != META_FORMAT)
		rc = ERR_VERSION;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = mp_array_at(doc.root, (uint32_t)i + 1, &o);
		if (rc == 0)
			rc = mp_get_u64(o, &v[i]);
	}
	mp_doc_free(&doc);
	return rc;
}

int stor_meta_load(struct stor *s, const char *key, uint64_t *v, size_t n)
{
	uint8_t *p;
	size_t len;
	int rc;

	memset(v, 0, n * sizeof(*v));
	rc = stor_get(s, KV_CF_META, key, strlen(key), &p, &len);
	if (rc == ERR_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	rc = meta_decode(p, len, v, n);
	free(p);
	if (rc != 0)
		return stor_fail(s, ERR_CORRUPT,
				 "meta record %s does not decode (%s)", key,
				 err_name(rc));
	return 0;
}

/* --- Opening ---------------------------------------------------------- */

int stor_open(const struct stor_options *o, struct stor **out)
{
	struct stor *s = calloc(1, sizeof(*s));
	char err[KV_ERRMSG_MAX] = "";
	int rc;

	if (s == NULL)
		return ERR_NOMEM;
	s->tr = o->tracer;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->wmu, NULL);
	if (o->dir != NULL)
		rc = kv_rocks_open(o, &s->kv, err);
	else if (o->mem != NULL)
		rc = kv_mem_open(o->mem, &s->kv, err);
	else
		rc = ERR_INVAL;
	if (rc != 0) {
		TRACE_E(s->tr, TRACE_MOD, "open %s: %s: %s",
			o->dir ? o->dir : "(memory)", err_name(rc), err);
		if (o->open_err != NULL && o->open_err_size > 0)
			snprintf(o->open_err, o->open_err_size, "%s", err);
		goto err_free;
	}
	rc = stor_log_open(s);
	if (rc == 0)
		rc = stor_sm_open(s);
	if (rc == 0)
		rc = stor_kv_register(s);
	if (rc == 0)
		rc = stor_kvr_register(s);
	if (rc == 0)
		rc = stor_cl_register(s);
	if (rc == 0)
		rc = stor_inst_register(s);
	if (rc == 0)
		rc = stor_players_register(s); /* domain 10 */
	if (rc == 0)
		rc = stor_sess_register(s);
	if (rc != 0) {
		if (o->open_err != NULL && o->open_err_size > 0)
			stor_last_error(s, o->open_err, o->open_err_size);
		goto err_close_kv;
	}
	TRACE_I(s->tr, TRACE_MOD,
		"open: log [%llu, %llu], applied %llu, state generation %u",
		(unsigned long long)(s->start_index + 1),
		(unsigned long long)s->last, (unsigned long long)s->applied,
		s->gen);
	*out = s;
	return 0;

err_close_kv:
	s->kv->e->close(s->kv);
err_free:
	pthread_mutex_destroy(&s->wmu);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return rc;
}

void stor_close(struct stor *s)
{
	if (s == NULL)
		return;
	ASSERT(!s->snap_writer_open);
	ASSERT(!s->writer_running);
	s->kv->e->close(s->kv);
	pthread_mutex_destroy(&s->wmu);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* --- Hard state, configuration, snapshot metadata --------------------- */

int stor_hs_save(struct stor *s, const struct stor_hard_state *hs)
{
	uint64_t v[3] = {hs->term, hs->vote, hs->commit};
	struct kv_batch b;
	int rc;

	kv_batch_init(&b);
	rc = stor_batch_meta(&b, META_HARD_STATE, v, 3);
	if (rc == 0)
		rc = stor_write(s, &b, 1, "save hard state");
	kv_batch_free(&b);
	return rc;
}

int stor_hs_load(struct stor *s, struct stor_hard_state *hs)
{
	uint64_t v[3];
	int rc = stor_meta_load(s, META_HARD_STATE, v, 3);

	hs->term = v[0];
	hs->vote = v[1];
	hs->commit = v[2];
	return rc;
}

int stor_conf_save(struct stor *s, const void *blob, size_t len)
{
	struct kv_batch b;
	int rc;

	if (len > STOR_CONF_MAX)
		return ERR_TOOBIG;
	kv_batch_init(&b);
	rc = kv_batch_put(&b, KV_CF_META, META_CONF, strlen(META_CONF), blob,
			  len);
	if (rc == 0)
		rc = stor_write(s, &b, 1, "save configuration");
	kv_batch_free(&b);
	return rc;
}

int stor_conf_load(struct stor *s, uint8_t **blob, size_t *len)
{
	return stor_get(s, KV_CF_META, META_CONF, strlen(META_CONF), blob, len);
}

int stor_snap_meta_load(struct stor *s, struct stor_snap_meta *m)
{
	uint64_t v[2];
	int rc;

	memset(m, 0, sizeof(*m));
	rc = stor_meta_load(s, META_SNAP, v, 2);
	if (rc != 0)
		return rc;
	m->index = v[0];
	m->term = v[1];
	if (m->index == 0)
		return ERR_NOTFOUND;
	rc = stor_get(s, KV_CF_META, META_SNAP_CONF, strlen(META_SNAP_CONF),
		      &m->conf, &m->conf_len);
	if (rc == ERR_NOTFOUND)
		rc = 0;
	return rc;
}

void stor_snap_meta_free(struct stor_snap_meta *m)
{
	free(m->conf);
	m->conf = NULL;
	m->conf_len = 0;
}

int stor_local_put(struct stor *s, const char *key, const void *v, size_t n)
{
	struct kv_batch b;
	size_t kl = strlen(key);
	int rc;

	if (kl == 0 || kl > STOR_KEY_MAX || n > STOR_VALUE_MAX)
		return ERR_INVAL;
	kv_batch_init(&b);
	rc = kv_batch_put(&b, KV_CF_LOCAL, key, kl, v, n);
	if (rc == 0)
		rc = stor_write(s, &b, 1, "save local data");
	kv_batch_free(&b);
	return rc;
}

int stor_local_get(struct stor *s, const char *key, uint8_t **v, size_t *n)
{
	return stor_get(s, KV_CF_LOCAL, key, strlen(key), v, n);
}

int stor_flush(struct stor *s)
{
	char err[KV_ERRMSG_MAX] = "";
	int rc = stor_check_write(s);

	if (rc != 0)
		return rc;
	rc = s->kv->e->flush(s->kv, err);
	if (rc != 0)
		return stor_fail(s, rc, "flush: %s", err);
	return 0;
}

int stor_debug_put_log_raw(struct stor *s, uint64_t index, const void *v,
			   size_t n)
{
	struct kv_batch b;
	uint8_t k[8];
	int rc;

	put_u64be(k, index);
	kv_batch_init(&b);
	rc = kv_batch_put(&b, KV_CF_LOG, k, 8, v, n);
	if (rc == 0)
		rc = stor_write(s, &b, 1, "raw log put");
	kv_batch_free(&b);
	return rc;
}

int stor_debug_del_log_raw(struct stor *s, uint64_t index)
{
	struct kv_batch b;
	uint8_t k[8];
	int rc;

	put_u64be(k, index);
	kv_batch_init(&b);
	rc = kv_batch_del(&b, KV_CF_LOG, k, 8);
	if (rc == 0)
		rc = stor_write(s, &b, 1, "raw log delete");
	kv_batch_free(&b);
	return rc;
}
