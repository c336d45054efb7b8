/*
 * ledger_read.c: reads of the item ledger outside apply (the owner
 * thread): stocks, history, grants, flows, config, refusal counters.
 * See ledger.h for the records.
 */
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/err.h"
#include "storage/ledger_int.h"

static int get_u64s(struct stor *s, const uint8_t *k, size_t kl,
		    uint64_t *out, size_t n)
{
	uint8_t *v = NULL;
	size_t vl = 0;
	int rc = stor_state_get(s, STOR_DOMAIN_ITEMS, k, kl, &v, &vl);

	memset(out, 0, n * sizeof(*out));
	if (rc == 0)
		rc = l_parse_u64s(v, vl, out, n);
	free(v);
	return rc;
}

static void stock_fill(struct stor_item_stock *o, const uint64_t *v)
{
	o->stock = v[L_STOCK];
	o->exported = v[L_EXPORTED];
	o->delivered = v[L_DELIVERED];
	o->in_flight = v[L_INFLIGHT];
	o->events = v[L_EVENTS];
}

int stor_items_stock_get(struct stor *s, const char *name,
			 const char *quality, struct stor_item_stock *out)
{
	uint8_t k[L_KEY_MAX];
	uint64_t v[L_STOCK_N];
	int rc;

	if (!stor_item_name_ok(name) || !stor_item_quality_ok(quality))
		return ERR_NOTFOUND;
	memset(out, 0, sizeof(*out));
	k[0] = L_PFX_STOCK;
	rc = get_u64s(s, k, 1 + l_item_key(k + 1, name, quality), v,
		      L_STOCK_N);
	if (rc != 0)
		return rc;
	strcpy(out->name, name);
	strcpy(out->quality, quality);
	stock_fill(out, v);
	return 0;
}

struct r_list {
	void *out;
	size_t n, max;
};

static int collect_stock(void *arg, const uint8_t *k, size_t kl,
			 const uint8_t *v, size_t vl)
{
	struct r_list *l = arg;
	struct stor_item_stock *o = (struct stor_item_stock *)l->out + l->n;
	uint64_t f[L_STOCK_N];
	const uint8_t *nul;
	size_t a;

	if (l->n == l->max)
		return 1;
	nul = memchr(k + 1, 0, kl - 1);
	if (nul == NULL || l_parse_u64s(v, vl, f, L_STOCK_N) != 0)
		return ERR_CORRUPT;
	a = (size_t)(nul - (k + 1));
	if (a > STOR_ITEM_NAME_MAX || kl - 2 - a > STOR_ITEM_QUALITY_MAX)
		return ERR_CORRUPT;
	memset(o, 0, sizeof(*o));
	memcpy(o->name, k + 1, a);
	memcpy(o->quality, nul + 1, kl - 2 - a);
	stock_fill(o, f);
	l->n++;
	return 0;
}

static int scan_pfx(struct stor *s, uint8_t pfx, stor_scan_fn fn,
		    struct r_list *l, size_t *n)
{
	uint8_t lo = pfx, hi = (uint8_t)(pfx + 1);
	int rc = stor_state_scan(s, STOR_DOMAIN_ITEMS, &lo, 1, &hi, 1, fn, l);

	*n = l->n;
	return rc;
}

int stor_items_stock_list(struct stor *s, struct stor_item_stock *out,
			  size_t max, size_t *n)
{
	struct r_list l = {out, 0, max};

	return scan_pfx(s, L_PFX_STOCK, collect_stock, &l, n);
}

static int collect_event(void *arg, const uint8_t *k, size_t kl,
			 const uint8_t *v, size_t vl)
{
	struct r_list *l = arg;
	struct stor_items_event *o = (struct stor_items_event *)l->out + l->n;
	uint64_t f[4];

	(void)k;
	(void)kl;
	if (l->n == l->max)
		return 1;
	if (l_parse_u64s(v, vl, f, 4) != 0 || f[1] > 255)
		return ERR_CORRUPT;
	o->index = f[0];
	o->kind = (uint8_t)f[1];
	o->instance = f[2];
	o->count = f[3];
	l->n++;
	return 0;
}

static int by_index(const void *x, const void *y)
{
	const struct stor_items_event *a = x, *b = y;

	return a->index < b->index ? -1 : (a->index > b->index ? 1 : 0);
}

int stor_items_history(struct stor *s, const char *name,
		       const char *quality, struct stor_items_event *out,
		       size_t max, size_t *n)
{
	uint8_t lo[L_KEY_MAX], hi[L_KEY_MAX];
	struct r_list l = {out, 0, max};
	size_t kl;
	int rc;

	*n = 0;
	if (!stor_item_name_ok(name) || !stor_item_quality_ok(quality))
		return ERR_NOTFOUND;
	lo[0] = L_PFX_HIST;
	kl = 1 + l_item_key(lo + 1, name, quality);
	lo[kl] = 0;
	memcpy(hi, lo, kl);
	hi[kl] = 1;
	rc = stor_state_scan(s, STOR_DOMAIN_ITEMS, lo, kl + 1, hi, kl + 1,
			     collect_event, &l);
	if (rc != 0)
		return rc;
	qsort(out, l.n, sizeof(*out), by_index);
	*n = l.n;
	return 0;
}

static int collect_grant(void *arg, const uint8_t *k, size_t kl,
			 const uint8_t *v, size_t vl)
{
	struct r_list *l = arg;
	struct stor_items_grant *o = (struct stor_items_grant *)l->out + l->n;

	if (l->n == l->max)
		return 1;
	if (kl != 9 || l_grant_parse(v, vl, get_u64be(k + 1), o) != 0)
		return ERR_CORRUPT;
	l->n++;
	return 0;
}

int stor_items_grant_list(struct stor *s, struct stor_items_grant *out,
			  size_t max, size_t *n)
{
	struct r_list l = {out, 0, max};

	return scan_pfx(s, L_PFX_GRANT, collect_grant, &l, n);
}

static int collect_flow(void *arg, const uint8_t *k, size_t kl,
			const uint8_t *v, size_t vl)
{
	struct r_list *l = arg;
	struct stor_items_flow *o = (struct stor_items_flow *)l->out + l->n;
	uint64_t f[L_FLOW_N];

	if (l->n == l->max)
		return 1;
	if (kl != 9 || l_parse_u64s(v, vl, f, L_FLOW_N) != 0)
		return ERR_CORRUPT;
	o->instance = get_u64be(k + 1);
	o->exported = f[L_F_EXPORTED];
	o->delivered = f[L_F_DELIVERED];
	o->returned = f[L_F_RETURNED];
	o->refused = f[L_F_REFUSED];
	l->n++;
	return 0;
}

int stor_items_flow_list(struct stor *s, struct stor_items_flow *out,
			 size_t max, size_t *n)
{
	struct r_list l = {out, 0, max};

	return scan_pfx(s, L_PFX_FLOW, collect_flow, &l, n);
}

int stor_items_config_get(struct stor *s, struct stor_items_config *out)
{
	uint8_t k = L_PFX_CONFIG;
	uint64_t c[L_CONFIG_N];
	int rc = get_u64s(s, &k, 1, c, L_CONFIG_N);

	if (rc == ERR_NOTFOUND) {
		c[L_MODE] = STOR_ITEMS_PROPORTIONAL;
		c[L_TIMEOUT] = STOR_ITEMS_TIMEOUT_MS_DEFAULT;
		c[L_NOW] = 0;
		rc = 0;
	}
	if (rc != 0)
		return rc;
	out->mode = (uint8_t)c[L_MODE];
	out->timeout_ms = c[L_TIMEOUT];
	out->now_ms = c[L_NOW];
	return 0;
}

int stor_items_refused(struct stor *s, uint64_t out[STOR_ITEMS_REFUSED_N])
{
	uint8_t k = L_PFX_REFUSED;
	int rc = get_u64s(s, &k, 1, out, STOR_ITEMS_REFUSED_N);

	return rc == ERR_NOTFOUND ? 0 : rc;
}

int stor_items_high_water(struct stor *s, uint64_t instance, uint64_t *out)
{
	uint64_t ew[2];
	uint8_t k[9];
	int rc = get_u64s(s, k, l_u64_key(k, L_PFX_EXPORT, instance), ew, 2);

	*out = ew[0];
	return rc == ERR_NOTFOUND ? 0 : rc;
}

int stor_items_grant_of(struct stor *s, uint64_t instance,
			struct stor_items_grant *out)
{
	uint8_t k[9], *v = NULL;
	size_t vl = 0;
	uint64_t id;
	int rc = stor_state_get(s, STOR_DOMAIN_ITEMS, k,
				l_u64_key(k, L_PFX_INFLIGHT, instance), &v, &vl);

	if (rc != 0)
		return rc;
	id = vl == 8 ? get_u64be(v) : 0;
	free(v);
	v = NULL;
	if (id == 0)
		return ERR_CORRUPT;
	rc = stor_state_get(s, STOR_DOMAIN_ITEMS, k,
			    l_u64_key(k, L_PFX_GRANT, id), &v, &vl);
	if (rc == 0)
		rc = l_grant_parse(v, vl, id, out);
	free(v);
	return rc;
}

static int count_one(void *arg, const uint8_t *k, size_t kl,
		     const uint8_t *v, size_t vl)
{
	uint64_t *n = arg;

	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	++*n;
	return *n >= STOR_ITEMS_GRANTS_MAX + STOR_ITEMS_DEMANDS_MAX ? 1 : 0;
}

int stor_items_pending(struct stor *s, uint64_t *demands, uint64_t *grants)
{
	uint8_t lo = L_PFX_DEMAND, hi = L_PFX_DEMAND + 1;
	int rc;

	*demands = 0;
	*grants = 0;
	rc = stor_state_scan(s, STOR_DOMAIN_ITEMS, &lo, 1, &hi, 1, count_one,
			     demands);
	lo = L_PFX_GRANT;
	hi = L_PFX_GRANT + 1;
	if (rc == 0)
		rc = stor_state_scan(s, STOR_DOMAIN_ITEMS, &lo, 1, &hi, 1,
				     count_one, grants);
	return rc;
}
