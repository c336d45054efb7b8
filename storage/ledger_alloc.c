/*
 * ledger_alloc.c: ALLOCATE, the leader's cycle of the item ledger: expire
 * the grants that outlived the timeout, then divide the stock among the
 * instances' demands and make one grant per instance. See ledger.h.
 *
 * Everything here reads the state through the apply context and orders
 * by keys and ids only, so every node computes the same grants.
 * Proportional division works in micro-items: an instance's exact share
 * stock * demand / total is split into whole items now and a fraction
 * carried to its next share of that item (Clusterio's neural_dole keeps a
 * similar fractional debt), so no instance is starved by rounding.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "storage/idomain.h"
#include "storage/ledger_int.h"

__extension__ typedef unsigned __int128 l_u128;

struct a_line {
	uint64_t instance, req_index;
	struct stor_item_line ln;
	uint64_t give;
};

struct a_scan {
	uint64_t now_ms, timeout_ms;
	uint64_t *expired; /* grant ids */
	size_t nexp, ngrants;
	struct a_line *l;
	size_t n, cap;
	uint64_t *dem; /* instances with a demand record */
	size_t ndem;
};

static int scan_grants(void *arg, const uint8_t *k, size_t kl,
		       const uint8_t *v, size_t vl)
{
	struct a_scan *a = arg;
	struct stor_items_grant g;
	int rc;

	if (kl != 9 || a->ngrants == STOR_ITEMS_GRANTS_MAX)
		return kl != 9 ? ERR_CORRUPT : 1;
	rc = l_grant_parse(v, vl, get_u64be(k + 1), &g);
	if (rc != 0)
		return rc;
	a->ngrants++;
	if (g.created_ms + a->timeout_ms <= a->now_ms)
		a->expired[a->nexp++] = g.id;
	return 0;
}

static void expire_one(struct stor_apply_ctx *ax, uint64_t index,
		       uint64_t id)
{
	struct stor_items_grant g;
	const uint8_t *v;
	size_t vl;
	uint8_t k[9];

	if (stor_ax_get(ax, k, l_u64_key(k, L_PFX_GRANT, id), &v, &vl) != 0 ||
	    l_grant_parse(v, vl, id, &g) != 0)
		return;
	for (size_t i = 0; i < g.n; i++) {
		struct l_delta d = {{0}};

		d.d[L_INFLIGHT] = -(int64_t)g.lines[i].count;
		d.d[L_STOCK] = (int64_t)g.lines[i].count;
		l_stock_move(ax, index, &g.lines[i], &d, STOR_ITEMS_EV_EXPIRE,
			     g.instance, g.lines[i].count);
		l_flow_add(ax, g.instance, L_F_RETURNED, g.lines[i].count);
	}
	l_grant_del(ax, &g);
}

static int scan_demands(void *arg, const uint8_t *k, size_t kl,
			const uint8_t *v, size_t vl)
{
	struct stor_item_line lines[STOR_ITEMS_LINES_MAX];
	const msgpack_object *o;
	struct a_scan *a = arg;
	struct mp_doc doc;
	uint64_t ver, idx;
	size_t n = 0;
	uint32_t m;
	int rc = ERR_CORRUPT;

	if (kl != 9)
		return ERR_CORRUPT;
	if (a->ndem == STOR_ITEMS_DEMANDS_MAX)
		return 1;
	if (mp_parse(&doc, v, vl) != 0)
		return ERR_CORRUPT;
	if (mp_get_array(doc.root, &m) != 0 || m != 3 ||
	    mp_array_at(doc.root, 0, &o) != 0 || mp_get_u64(o, &ver) != 0 ||
	    ver != L_VERSION || mp_array_at(doc.root, 1, &o) != 0 ||
	    mp_get_u64(o, &idx) != 0 || mp_array_at(doc.root, 2, &o) != 0 ||
	    l_r_lines(o, lines, &n) != 0)
		goto out;
	a->dem[a->ndem++] = get_u64be(k + 1);
	for (size_t i = 0; i < n && a->n < a->cap; i++) {
		a->l[a->n].instance = get_u64be(k + 1);
		a->l[a->n].req_index = idx;
		a->l[a->n].ln = lines[i];
		a->l[a->n].give = 0;
		a->n++;
	}
	rc = 0;
out:
	mp_doc_free(&doc);
	return rc;
}

static int item_cmp(const struct stor_item_line *a,
		    const struct stor_item_line *b)
{
	int c = strcmp(a->name, b->name);

	return c != 0 ? c : strcmp(a->quality, b->quality);
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : (a > b ? 1 : 0);
}

static int by_item_instance(const void *x, const void *y)
{
	const struct a_line *a = x, *b = y;
	int c = item_cmp(&a->ln, &b->ln);

	return c != 0 ? c : cmp_u64(a->instance, b->instance);
}

static int by_item_request(const void *x, const void *y)
{
	const struct a_line *a = x, *b = y;
	int c = item_cmp(&a->ln, &b->ln);

	if (c == 0)
		c = cmp_u64(a->req_index, b->req_index);
	return c != 0 ? c : cmp_u64(a->instance, b->instance);
}

static int by_instance_item(const void *x, const void *y)
{
	const struct a_line *a = x, *b = y;
	int c = cmp_u64(a->instance, b->instance);

	return c != 0 ? c : item_cmp(&a->ln, &b->ln);
}

static uint64_t stock_of(struct stor_apply_ctx *ax,
			 const struct stor_item_line *ln)
{
	uint8_t k[L_KEY_MAX];
	uint64_t v[L_STOCK_N];

	k[0] = L_PFX_STOCK;
	(void)l_get_u64s(ax, k, 1 + l_item_key(k + 1, ln->name, ln->quality),
			 v, L_STOCK_N);
	return v[L_STOCK];
}

static size_t carry_key(uint8_t *k, const struct a_line *l)
{
	l_u64_key(k, L_PFX_CARRY, l->instance);
	return 9 + l_item_key(k + 9, l->ln.name, l->ln.quality);
}

/* One instance's share under shortage, with its carried fraction. */
static uint64_t share(struct stor_apply_ctx *ax, struct a_line *l,
		      uint64_t stock, uint64_t total, uint64_t left)
{
	uint8_t k[L_KEY_MAX];
	size_t kl = carry_key(k, l);
	uint64_t carry, give;
	l_u128 tot;

	(void)l_get_u64s(ax, k, kl, &carry, 1);
	tot = (l_u128)stock * l->ln.count * L_MICRO / total + carry;
	give = (uint64_t)(tot / L_MICRO);
	if (give > l->ln.count)
		give = l->ln.count;
	if (give > left)
		give = left;
	tot -= (l_u128)give * L_MICRO;
	carry = tot >= L_MICRO ? L_MICRO - 1 : (uint64_t)tot;
	if (carry == 0)
		(void)stor_ax_del(ax, k, kl);
	else
		l_put_u64s(ax, k, kl, &carry, 1);
	return give;
}

/* Divides one item's stock among l[0..n) (sorted for the mode). */
static void divide(struct stor_apply_ctx *ax, struct a_line *l, size_t n,
		   uint8_t mode)
{
	uint64_t stock = stock_of(ax, &l[0].ln), total = 0, left;

	for (size_t i = 0; i < n; i++)
		total += l[i].ln.count;
	left = stock;
	for (size_t i = 0; i < n && left > 0; i++) {
		if (total <= stock)
			l[i].give = l[i].ln.count;
		else if (mode == STOR_ITEMS_SIMPLE)
			l[i].give = l[i].ln.count < left ? l[i].ln.count : left;
		else
			l[i].give = share(ax, &l[i], stock, total, left);
		left -= l[i].give;
	}
	ASSERT(left <= stock);
}

/* Makes one grant per instance of l[0..n) (sorted by instance). */
static void make_grants(struct stor_apply_ctx *ax, uint64_t index,
			uint64_t now_ms, struct a_line *l, size_t n)
{
	struct stor_items_grant g;
	uint64_t serial = 0;

	for (size_t i = 0; i < n;) {
		size_t j = i;

		memset(&g, 0, offsetof(struct stor_items_grant, lines));
		g.instance = l[i].instance;
		g.created_ms = now_ms;
		for (; j < n && l[j].instance == g.instance; j++) {
			if (l[j].give == 0)
				continue;
			ASSERT(g.n < STOR_ITEMS_LINES_MAX);
			g.lines[g.n] = l[j].ln;
			g.lines[g.n++].count = l[j].give;
		}
		i = j;
		if (g.n == 0)
			continue;
		g.id = (index << 16) | serial++;
		for (size_t m = 0; m < g.n; m++) {
			struct l_delta d = {{0}};

			d.d[L_STOCK] = -(int64_t)g.lines[m].count;
			d.d[L_INFLIGHT] = (int64_t)g.lines[m].count;
			l_stock_move(ax, index, &g.lines[m], &d,
				     STOR_ITEMS_EV_GRANT, g.instance,
				     g.lines[m].count);
		}
		l_grant_put(ax, &g);
	}
}

/* Drops the lines of instances that may not get a grant now: one in
 * flight already, gone or unassigned, or beyond the grant bound. */
static size_t eligible(struct stor_apply_ctx *ax, struct a_line *l, size_t n,
		       size_t slots)
{
	uint64_t node, last = 0;
	const uint8_t *v;
	size_t vl, out = 0, taken = 0;
	uint8_t k[9];
	int ok = 0;

	qsort(l, n, sizeof(*l), by_instance_item);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || l[i].instance != last) {
			last = l[i].instance;
			ok = taken < slots &&
			     stor_ax_get(ax, k,
					 l_u64_key(k, L_PFX_INFLIGHT, last), &v,
					 &vl) == ERR_NOTFOUND &&
			     stor_inst_ax_node(ax, last, &node) == 0 &&
			     node != 0;
			taken += (size_t)ok;
		}
		if (ok)
			l[out++] = l[i];
	}
	return out;
}

static int allocate(struct stor_apply_ctx *ax, uint64_t index,
		    struct a_scan *a, uint8_t mode)
{
	uint8_t lo = L_PFX_DEMAND, hi = L_PFX_DEMAND + 1, k[9];
	size_t n;
	int rc;

	rc = stor_ax_scan_range(ax, &lo, 1, &hi, 1, scan_demands, a);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < a->ndem; i++)
		(void)stor_ax_del(ax, k, l_u64_key(k, L_PFX_DEMAND, a->dem[i]));
	n = eligible(ax, a->l, a->n, STOR_ITEMS_GRANTS_MAX - a->ngrants);
	qsort(a->l, n, sizeof(*a->l),
	      mode == STOR_ITEMS_SIMPLE ? by_item_request : by_item_instance);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && item_cmp(&a->l[j].ln, &a->l[i].ln) == 0)
			j++;
		divide(ax, a->l + i, j - i, mode);
		i = j;
	}
	qsort(a->l, n, sizeof(*a->l), by_instance_item);
	make_grants(ax, index, a->now_ms, a->l, n);
	return 0;
}

int l_apply_allocate(struct stor_apply_ctx *ax, uint64_t index,
		     uint64_t wall_ms)
{
	uint8_t lo = L_PFX_GRANT, hi = L_PFX_GRANT + 1;
	uint64_t c[L_CONFIG_N];
	struct a_scan a;
	int rc;

	l_config(ax, c);
	if (wall_ms > c[L_NOW]) {
		c[L_NOW] = wall_ms;
		l_config_put(ax, c);
	}
	memset(&a, 0, sizeof(a));
	a.now_ms = c[L_NOW];
	a.timeout_ms = c[L_TIMEOUT];
	a.cap = STOR_ITEMS_DEMANDS_MAX * 4;
	a.expired = calloc(STOR_ITEMS_GRANTS_MAX, sizeof(*a.expired));
	a.dem = calloc(STOR_ITEMS_DEMANDS_MAX, sizeof(*a.dem));
	a.l = calloc(a.cap, sizeof(*a.l));
	rc = ERR_NOMEM;
	if (a.expired == NULL || a.dem == NULL || a.l == NULL)
		goto out;
	rc = stor_ax_scan_range(ax, &lo, 1, &hi, 1, scan_grants, &a);
	if (rc != 0)
		goto out;
	for (size_t i = 0; i < a.nexp; i++)
		expire_one(ax, index, a.expired[i]);
	a.ngrants -= a.nexp;
	rc = allocate(ax, index, &a, (uint8_t)c[L_MODE]);
out:
	free(a.l);
	free(a.dem);
	free(a.expired);
	return rc;
}
