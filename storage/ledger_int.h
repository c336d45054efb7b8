/*
 * ledger_int.h: what ledger.c (codec, records, EXPORT, REQUEST, CONFIRM)
 * and ledger_alloc.c (ALLOCATE: expiry and division) share.
 */
#ifndef CLUSTERD_STORAGE_LEDGER_INT_H
#define CLUSTERD_STORAGE_LEDGER_INT_H

#include "storage/ledger.h"
#include "storage/stor_int.h"

#define L_VERSION 1
#define L_PFX_CONFIG 'c'
#define L_PFX_REFUSED 'r'
#define L_PFX_STOCK 's'
#define L_PFX_HIST 'h'
#define L_PFX_EXPORT 'e'
#define L_PFX_DEMAND 'd'
#define L_PFX_GRANT 'g'
#define L_PFX_INFLIGHT 'q'
#define L_PFX_CARRY 'f'
#define L_PFX_FLOW 'x'
/* name NUL quality */
#define L_ITEM_KEY_MAX (STOR_ITEM_NAME_MAX + 1 + STOR_ITEM_QUALITY_MAX)
#define L_KEY_MAX (1 + 8 + L_ITEM_KEY_MAX + 3)
/* A record with STOR_ITEMS_LINES_MAX lines stays below this. */
#define L_MSG_MAX 16384
/* Carries are in micro-items. */
#define L_MICRO 1000000ull

/* Stock record fields. */
enum { L_STOCK, L_EXPORTED, L_DELIVERED, L_INFLIGHT, L_EVENTS, L_STOCK_N };
/* Config record fields. */
enum { L_MODE, L_TIMEOUT, L_NOW, L_NITEMS, L_CONFIG_N };
/* Flow record fields. */
enum { L_F_EXPORTED, L_F_DELIVERED, L_F_RETURNED, L_F_REFUSED, L_FLOW_N };

size_t l_item_key(uint8_t *k, const char *name, const char *quality);
size_t l_u64_key(uint8_t *k, uint8_t pfx, uint64_t id);

/* Records of fixed u64 fields: [version, v0, ..., vn-1]. A missing
 * record reads as zeros (and the config's defaults). l_parse_u64s:
 * 0, ERR_CORRUPT or ERR_VERSION. */
int l_parse_u64s(const uint8_t *v, size_t vl, uint64_t *out, size_t n);
int l_get_u64s(struct stor_apply_ctx *ax, const uint8_t *k, size_t kl,
	       uint64_t *v, size_t n);
void l_put_u64s(struct stor_apply_ctx *ax, const uint8_t *k, size_t kl,
		const uint64_t *v, size_t n);
void l_config(struct stor_apply_ctx *ax, uint64_t c[L_CONFIG_N]);
void l_config_put(struct stor_apply_ctx *ax, const uint64_t c[L_CONFIG_N]);

/* Adds delta (signed by the caller's choice of field) to an item's stock
 * record fields and records one history event. */
struct l_delta {
	int64_t d[L_EVENTS];
};
void l_stock_move(struct stor_apply_ctx *ax, uint64_t index,
		  const struct stor_item_line *ln, const struct l_delta *d,
		  uint8_t kind, uint64_t instance, uint64_t count);
void l_flow_add(struct stor_apply_ctx *ax, uint64_t instance, int field,
		uint64_t n);

/* Lines codec (the record and the command share it). */
void l_w_lines(struct mp_writer *w, const struct stor_item_line *l,
	       size_t n);
int l_r_lines(const msgpack_object *o, struct stor_item_line *l, size_t *n);

/* A grant record. */
int l_grant_parse(const uint8_t *v, size_t vl, uint64_t id,
		  struct stor_items_grant *g);
void l_grant_put(struct stor_apply_ctx *ax, const struct stor_items_grant *g);
void l_grant_del(struct stor_apply_ctx *ax, const struct stor_items_grant *g);

int l_apply_allocate(struct stor_apply_ctx *ax, uint64_t index,
		     uint64_t wall_ms);

#endif
