/*
 * ledger.c: the item ledger domain: records, the command codec, EXPORT,
 * REQUEST, CONFIRM and CONFIG, and the reads. ALLOCATE (expiry and
 * division) is in ledger_alloc.c. See ledger.h.
 *
 * Every command checks everything before its first write (storage.h:
 * results do not undo), so a refused command changes no ledger record;
 * only the refusal counter moves. Each stock change goes through
 * l_stock_move, which moves items between the four totals of one item
 * and records the history event, so the invariant is kept in one place.
 */
#include "storage/ledger.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"
#include "base/mp.h"
#include "storage/idomain.h"
#include "storage/ledger_int.h"

static int word_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int stor_item_name_ok(const char *s)
{
	return word_ok(s, STOR_ITEM_NAME_MAX);
}

int stor_item_quality_ok(const char *s)
{
	return word_ok(s, STOR_ITEM_QUALITY_MAX);
}

size_t l_item_key(uint8_t *k, const char *name, const char *quality)
{
	size_t a = strnlen(name, STOR_ITEM_NAME_MAX);
	size_t b = strnlen(quality, STOR_ITEM_QUALITY_MAX);

	memcpy(k, name, a);
	k[a] = 0;
	memcpy(k + a + 1, quality, b);
	return a + 1 + b;
}

size_t l_u64_key(uint8_t *k, uint8_t pfx, uint64_t id)
{
	k[0] = pfx;
	put_u64be(k + 1, id);
	return 9;
}

int l_parse_u64s(const uint8_t *v, size_t vl, uint64_t *out, size_t n)
{
	const msgpack_object *o;
	struct mp_doc doc;
	uint64_t ver;
	uint32_t m;
	int rc = ERR_CORRUPT;

	if (mp_parse(&doc, v, vl) != 0)
		return ERR_CORRUPT;
	if (mp_get_array(doc.root, &m) != 0 || m != n + 1 ||
	    mp_array_at(doc.root, 0, &o) != 0 || mp_get_u64(o, &ver) != 0)
		goto out;
	if (ver != L_VERSION) {
		rc = ERR_VERSION;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		if (mp_array_at(doc.root, i + 1, &o) != 0 ||
		    mp_get_u64(o, &out[i]) != 0)
			goto out;
	rc = 0;
out:
	mp_doc_free(&doc);
	return rc;
}

int l_get_u64s(struct stor_apply_ctx *ax, const uint8_t *k, size_t kl,
	       uint64_t *v, size_t n)
{
	const uint8_t *p;
	size_t pl;
	int rc = stor_ax_get(ax, k, kl, &p, &pl);

	memset(v, 0, n * sizeof(*v));
	if (rc != 0)
		return rc;
	return l_parse_u64s(p, pl, v, n);
}

void l_put_u64s(struct stor_apply_ctx *ax, const uint8_t *k, size_t kl,
		const uint64_t *v, size_t n)
{
	struct mp_writer w;

	mp_writer_init(&w, L_MSG_MAX);
	mp_w_array(&w, (uint32_t)n + 1);
	mp_w_uint(&w, L_VERSION);
	for (size_t i = 0; i < n; i++)
		mp_w_uint(&w, v[i]);
	if (mp_writer_error(&w) == 0)
		(void)stor_ax_put(ax, k, kl, mp_writer_data(&w),
				  mp_writer_len(&w));
	mp_writer_free(&w);
}

static void config_defaults(uint64_t c[L_CONFIG_N])
{
	memset(c, 0, L_CONFIG_N * sizeof(*c));
	c[L_MODE] = STOR_ITEMS_PROPORTIONAL;
	c[L_TIMEOUT] = STOR_ITEMS_TIMEOUT_MS_DEFAULT;
}

void l_config(struct stor_apply_ctx *ax, uint64_t c[L_CONFIG_N])
{
	uint8_t k = L_PFX_CONFIG;

	if (l_get_u64s(ax, &k, 1, c, L_CONFIG_N) != 0)
		config_defaults(c);
}

void l_config_put(struct stor_apply_ctx *ax, const uint64_t c[L_CONFIG_N])
{
	uint8_t k = L_PFX_CONFIG;

	l_put_u64s(ax, &k, 1, c, L_CONFIG_N);
}

static void hist_put(struct stor_apply_ctx *ax, const uint8_t *ik, size_t il,
		     uint64_t slot, const uint64_t ev[4])
{
	uint8_t k[L_KEY_MAX];

	k[0] = L_PFX_HIST;
	memcpy(k + 1, ik, il);
	k[1 + il] = 0;
	k[2 + il] = (uint8_t)(slot >> 8);
	k[3 + il] = (uint8_t)slot;
	l_put_u64s(ax, k, il + 4, ev, 4);
}

void l_stock_move(struct stor_apply_ctx *ax, uint64_t index,
		  const struct stor_item_line *ln, const struct l_delta *d,
		  uint8_t kind, uint64_t instance, uint64_t count)
{
	uint8_t k[L_KEY_MAX];
	uint64_t v[L_STOCK_N], ev[4] = {index, kind, instance, count};
	size_t il = l_item_key(k + 1, ln->name, ln->quality);

	k[0] = L_PFX_STOCK;
	(void)l_get_u64s(ax, k, il + 1, v, L_STOCK_N);
	for (int i = 0; i < L_EVENTS; i++) {
		/* The callers checked the amounts: a total never goes
		 * negative. */
		ASSERT(d->d[i] >= 0 || v[i] >= (uint64_t)-d->d[i]);
		v[i] += (uint64_t)d->d[i];
	}
	ASSERT(v[L_EXPORTED] == v[L_STOCK] + v[L_DELIVERED] + v[L_INFLIGHT]);
	v[L_EVENTS]++;
	l_put_u64s(ax, k, il + 1, v, L_STOCK_N);
	hist_put(ax, k + 1, il, (v[L_EVENTS] - 1) % STOR_ITEMS_HISTORY, ev);
}

void l_flow_add(struct stor_apply_ctx *ax, uint64_t instance, int field,
		uint64_t n)
{
	uint64_t v[L_FLOW_N];
	uint8_t k[9];

	(void)l_get_u64s(ax, k, l_u64_key(k, L_PFX_FLOW, instance), v,
			 L_FLOW_N);
	v[field] += n;
	l_put_u64s(ax, k, 9, v, L_FLOW_N);
}

/* ---- codec ---- */

void l_w_lines(struct mp_writer *w, const struct stor_item_line *l,
	       size_t n)
{
	mp_w_array(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		mp_w_array(w, 3);
		mp_w_cstr(w, l[i].name);
		mp_w_cstr(w, l[i].quality);
		mp_w_uint(w, l[i].count);
	}
}

int l_r_lines(const msgpack_object *o, struct stor_item_line *l, size_t *n)
{
	const msgpack_object *e, *f;
	uint32_t m, k;

	if (mp_get_array(o, &m) != 0 || m > STOR_ITEMS_LINES_MAX)
		return ERR_MALFORMED;
	for (uint32_t i = 0; i < m; i++) {
		if (mp_array_at(o, i, &e) != 0 || mp_get_array(e, &k) != 0 ||
		    k != 3 || mp_array_at(e, 0, &f) != 0 ||
		    mp_get_strcpy(f, l[i].name, sizeof(l[i].name)) != 0 ||
		    mp_array_at(e, 1, &f) != 0 ||
		    mp_get_strcpy(f, l[i].quality, sizeof(l[i].quality)) != 0 ||
		    mp_array_at(e, 2, &f) != 0 ||
		    mp_get_u64(f, &l[i].count) != 0)
			return ERR_MALFORMED;
	}
	*n = m;
	return 0;
}

static int u64_at(const msgpack_object *a, uint32_t i, uint64_t *v)
{
	const msgpack_object *o;

	return mp_array_at(a, i, &o) != 0 || mp_get_u64(o, v) != 0
		       ? ERR_MALFORMED
		       : 0;
}

/* Field counts per op and where the lines are (0: none). */
static const uint32_t l_fields[] = {6, 5, 2, 4, 3};
static const uint32_t l_lines_at[] = {5, 4, 0, 3, 0};

static int l_decode(const msgpack_object *body, struct stor_items_cmd *c)
{
	const msgpack_object *o;
	uint64_t op, v[4] = {0};
	uint32_t n;

	memset(c, 0, offsetof(struct stor_items_cmd, lines));
	if (mp_get_array(body, &n) != 0 || n < 2 || u64_at(body, 0, &op) != 0 ||
	    op > STOR_ITEMS_CONFIG || n != l_fields[op])
		return ERR_MALFORMED;
	c->op = (int)op;
	for (uint32_t i = 1; i < n && i < 5; i++)
		if (i != l_lines_at[op] && u64_at(body, i, &v[i - 1]) != 0)
			return ERR_MALFORMED;
	switch (op) {
	case STOR_ITEMS_EXPORT:
		c->seq = v[2];
		c->wall_ms = v[3];
		/* fallthrough */
	case STOR_ITEMS_REQUEST:
		c->instance = v[0];
		c->node = v[1];
		if (op == STOR_ITEMS_REQUEST)
			c->wall_ms = v[2];
		break;
	case STOR_ITEMS_ALLOCATE:
		c->wall_ms = v[0];
		break;
	case STOR_ITEMS_CONFIRM:
		c->grant = v[0];
		c->node = v[1];
		break;
	default:
		if (v[0] > 255)
			return ERR_MALFORMED;
		c->mode = (uint8_t)v[0];
		c->timeout_ms = v[1];
		break;
	}
	if (l_lines_at[op] == 0)
		return 0;
	if (mp_array_at(body, l_lines_at[op], &o) != 0)
		return ERR_MALFORMED;
	return l_r_lines(o, c->lines, &c->n);
}

int stor_items_check(const msgpack_object *body)
{
	struct stor_items_cmd c;

	return l_decode(body, &c);
}

int stor_items_encode(const struct stor_items_cmd *c, uint8_t **out,
		      size_t *len)
{
	struct mp_writer w;
	int rc;

	if (c->op < 0 || c->op > STOR_ITEMS_CONFIG ||
	    c->n > STOR_ITEMS_LINES_MAX)
		return ERR_INVAL;
	mp_writer_init(&w, L_MSG_MAX);
	mp_w_array(&w, 3);
	mp_w_uint(&w, STOR_CMD_VERSION);
	mp_w_uint(&w, STOR_DOMAIN_ITEMS);
	mp_w_array(&w, l_fields[c->op]);
	mp_w_uint(&w, (uint64_t)c->op);
	switch (c->op) {
	case STOR_ITEMS_EXPORT:
	case STOR_ITEMS_REQUEST:
		mp_w_uint(&w, c->instance);
		mp_w_uint(&w, c->node);
		if (c->op == STOR_ITEMS_EXPORT)
			mp_w_uint(&w, c->seq);
		mp_w_uint(&w, c->wall_ms);
		l_w_lines(&w, c->lines, c->n);
		break;
	case STOR_ITEMS_ALLOCATE:
		mp_w_uint(&w, c->wall_ms);
		break;
	case STOR_ITEMS_CONFIRM:
		mp_w_uint(&w, c->grant);
		mp_w_uint(&w, c->node);
		l_w_lines(&w, c->lines, c->n);
		break;
	default:
		mp_w_uint(&w, c->mode);
		mp_w_uint(&w, c->timeout_ms);
		break;
	}
	rc = mp_writer_take(&w, out, len);
	if (rc != 0)
		mp_writer_free(&w);
	return rc;
}

/* ---- grants ---- */

int l_grant_parse(const uint8_t *v, size_t vl, uint64_t id,
		  struct stor_items_grant *g)
{
	const msgpack_object *o;
	struct mp_doc doc;
	uint64_t ver;
	uint32_t n;
	int rc = ERR_CORRUPT;

	if (mp_parse(&doc, v, vl) != 0)
		return ERR_CORRUPT;
	g->id = id;
	if (mp_get_array(doc.root, &n) != 0 || n != 4 ||
	    u64_at(doc.root, 0, &ver) != 0 ||
	    u64_at(doc.root, 1, &g->instance) != 0 ||
	    u64_at(doc.root, 2, &g->created_ms) != 0 ||
	    mp_array_at(doc.root, 3, &o) != 0)
		goto out;
	if (ver != L_VERSION) {
		rc = ERR_VERSION;
		goto out;
	}
	rc = l_r_lines(o, g->lines, &g->n) == 0 ? 0 : ERR_CORRUPT;
out:
	mp_doc_free(&doc);
	return rc;
}

void l_grant_put(struct stor_apply_ctx *ax, const struct stor_items_grant *g)
{
	struct mp_writer w;
	uint8_t k[9], v[8];

	mp_writer_init(&w, L_MSG_MAX);
	mp_w_array(&w, 4);
	mp_w_uint(&w, L_VERSION);
	mp_w_uint(&w, g->instance);
	mp_w_uint(&w, g->created_ms);
	l_w_lines(&w, g->lines, g->n);
	if (mp_writer_error(&w) == 0)
		(void)stor_ax_put(ax, k, l_u64_key(k, L_PFX_GRANT, g->id),
				  mp_writer_data(&w), mp_writer_len(&w));
	mp_writer_free(&w);
	put_u64be(v, g->id);
	(void)stor_ax_put(ax, k, l_u64_key(k, L_PFX_INFLIGHT, g->instance), v,
			  8);
}

void l_grant_del(struct stor_apply_ctx *ax, const struct stor_items_grant *g)
{
	uint8_t k[9];

	(void)stor_ax_del(ax, k, l_u64_key(k, L_PFX_GRANT, g->id));
	(void)stor_ax_del(ax, k, l_u64_key(k, L_PFX_INFLIGHT, g->instance));
}

/* ---- apply ---- */

/* Counts a refusal and returns rc: the only write of a refused command. */
static int refuse(struct stor_apply_ctx *ax, int reason, int rc)
{
	uint64_t v[STOR_ITEMS_REFUSED_N];
	uint8_t k = L_PFX_REFUSED;

	ASSERT(reason >= 0 && reason < STOR_ITEMS_REFUSED_N);
	ASSERT(rc != 0);
	(void)l_get_u64s(ax, &k, 1, v, STOR_ITEMS_REFUSED_N);
	v[reason]++;
	l_put_u64s(ax, &k, 1, v, STOR_ITEMS_REFUSED_N);
	return rc;
}

/* 1 if every line names a valid item with a count in range, and (unique
 * set) no item appears twice. */
static int lines_ok(const struct stor_item_line *l, size_t n, int unique)
{
	for (size_t i = 0; i < n; i++) {
		if (!stor_item_name_ok(l[i].name) ||
		    !stor_item_quality_ok(l[i].quality) || l[i].count == 0 ||
		    l[i].count > STOR_ITEMS_COUNT_MAX)
			return 0;
		for (size_t j = 0; unique && j < i; j++)
			if (strcmp(l[i].name, l[j].name) == 0 &&
			    strcmp(l[i].quality, l[j].quality) == 0)
				return 0;
	}
	return 1;
}

/* The proposer must be the node the instance is assigned to. */
static int check_node(struct stor_apply_ctx *ax, uint64_t instance,
		      uint64_t node)
{
	uint64_t assigned = 0;

	if (instance == 0 ||
	    stor_inst_ax_node(ax, instance, &assigned) != 0)
		return refuse(ax, STOR_ITEMS_REF_INSTANCE, ERR_NOTFOUND);
	if (node == 0 || assigned != node)
		return refuse(ax, STOR_ITEMS_REF_NODE, ERR_PERM);
	return 0;
}

static void advance_clock(struct stor_apply_ctx *ax, uint64_t wall_ms)
{
	uint64_t c[L_CONFIG_N];

	l_config(ax, c);
	if (wall_ms > c[L_NOW]) {
		c[L_NOW] = wall_ms;
		l_config_put(ax, c);
	}
}

/* The dedup decision for an export: 0 (new; *hw and *win are the values
 * to store), or a refusal. */
static int seq_check(struct stor_apply_ctx *ax, uint64_t instance,
		     uint64_t seq, uint64_t ew[2])
{
	uint8_t k[9];
	uint64_t d, hw, win;

	(void)l_get_u64s(ax, k, l_u64_key(k, L_PFX_EXPORT, instance), ew, 2);
	hw = ew[0];
	win = ew[1];
	if (seq == 0)
		return refuse(ax, STOR_ITEMS_REF_MALFORMED, ERR_MALFORMED);
	if (seq > hw) {
		d = seq - hw;
		if (d > STOR_ITEMS_SEQ_AHEAD)
			return refuse(ax, STOR_ITEMS_REF_SEQ, ERR_CONFLICT);
		win = d >= STOR_ITEMS_WINDOW ? 0 : win << d;
		if (hw > 0 && d - 1 < STOR_ITEMS_WINDOW)
			win |= 1ull << (d - 1);
		ew[0] = seq;
		ew[1] = win;
		return 0;
	}
	if (seq == hw)
		return refuse(ax, STOR_ITEMS_REF_DUPLICATE, ERR_EXISTS);
	d = hw - 1 - seq;
	if (d >= STOR_ITEMS_WINDOW)
		return refuse(ax, STOR_ITEMS_REF_DUPLICATE, ERR_EXPIRED);
	if (win & (1ull << d))
		return refuse(ax, STOR_ITEMS_REF_DUPLICATE, ERR_EXISTS);
	ew[1] = win | (1ull << d);
	return 0;
}

/* 1 if the export would push the ledger past STOR_ITEMS_MAX items. */
static int too_many_items(struct stor_apply_ctx *ax,
			  const struct stor_items_cmd *c)
{
	uint8_t k[L_KEY_MAX];
	uint64_t cf[L_CONFIG_N], fresh = 0;
	const uint8_t *v;
	size_t vl;

	l_config(ax, cf);
	for (size_t i = 0; i < c->n; i++) {
		k[0] = L_PFX_STOCK;
		if (stor_ax_get(ax, k,
				1 + l_item_key(k + 1, c->lines[i].name,
					       c->lines[i].quality),
				&v, &vl) == ERR_NOTFOUND)
			fresh++;
	}
	if (cf[L_NITEMS] + fresh > STOR_ITEMS_MAX)
		return 1;
	if (fresh > 0) {
		cf[L_NITEMS] += fresh;
		l_config_put(ax, cf);
	}
	return 0;
}

static int apply_export(struct stor_apply_ctx *ax, uint64_t index,
			const struct stor_items_cmd *c)
{
	uint64_t ew[2];
	uint8_t k[9];
	int rc;

	if (!lines_ok(c->lines, c->n, 0))
		return refuse(ax, STOR_ITEMS_REF_MALFORMED, ERR_MALFORMED);
	rc = check_node(ax, c->instance, c->node);
	if (rc == 0)
		rc = seq_check(ax, c->instance, c->seq, ew);
	if (rc != 0)
		return rc;
	if (too_many_items(ax, c))
		return refuse(ax, STOR_ITEMS_REF_MALFORMED, ERR_TOOBIG);
	l_put_u64s(ax, k, l_u64_key(k, L_PFX_EXPORT, c->instance), ew, 2);
	for (size_t i = 0; i < c->n; i++) {
		struct l_delta d = {{0}};

		d.d[L_STOCK] = (int64_t)c->lines[i].count;
		d.d[L_EXPORTED] = (int64_t)c->lines[i].count;
		l_stock_move(ax, index, &c->lines[i], &d, STOR_ITEMS_EV_EXPORT,
			     c->instance, c->lines[i].count);
		l_flow_add(ax, c->instance, L_F_EXPORTED, c->lines[i].count);
	}
	advance_clock(ax, c->wall_ms);
	return 0;
}

static int apply_request(struct stor_apply_ctx *ax, uint64_t index,
			 const struct stor_items_cmd *c)
{
	struct mp_writer w;
	uint8_t k[9];
	int rc;

	if (!lines_ok(c->lines, c->n, 1))
		return refuse(ax, STOR_ITEMS_REF_MALFORMED, ERR_MALFORMED);
	rc = check_node(ax, c->instance, c->node);
	if (rc != 0)
		return rc;
	l_u64_key(k, L_PFX_DEMAND, c->instance);
	if (c->n == 0) {
		(void)stor_ax_del(ax, k, 9);
	} else {
		mp_writer_init(&w, L_MSG_MAX);
		mp_w_array(&w, 3);
		mp_w_uint(&w, L_VERSION);
		mp_w_uint(&w, index);
		l_w_lines(&w, c->lines, c->n);
		if (mp_writer_error(&w) == 0)
			(void)stor_ax_put(ax, k, 9, mp_writer_data(&w),
					  mp_writer_len(&w));
		mp_writer_free(&w);
	}
	advance_clock(ax, c->wall_ms);
	return 0;
}

/* How many of line's item are returned (0 if not named). */
static uint64_t returned_of(const struct stor_items_cmd *c,
			    const struct stor_item_line *ln)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->lines[i].name, ln->name) == 0 &&
		    strcmp(c->lines[i].quality, ln->quality) == 0)
			return c->lines[i].count;
	return 0;
}

/* Every returned line must name a line of the grant, within its count. */
static int returns_ok(const struct stor_items_cmd *c,
		      const struct stor_items_grant *g)
{
	for (size_t i = 0; i < c->n; i++) {
		size_t j = 0;

		while (j < g->n && (strcmp(g->lines[j].name,
					   c->lines[i].name) != 0 ||
				    strcmp(g->lines[j].quality,
					   c->lines[i].quality) != 0))
			j++;
		if (j == g->n || c->lines[i].count > g->lines[j].count)
			return 0;
	}
	return 1;
}

static int apply_confirm(struct stor_apply_ctx *ax, uint64_t index,
			 const struct stor_items_cmd *c)
{
	struct stor_items_grant g;
	const uint8_t *v;
	size_t vl;
	uint8_t k[9];
	int rc;

	if (!lines_ok(c->lines, c->n, 1))
		return refuse(ax, STOR_ITEMS_REF_MALFORMED, ERR_MALFORMED);
	rc = stor_ax_get(ax, k, l_u64_key(k, L_PFX_GRANT, c->grant), &v, &vl);
	if (rc == 0)
		rc = l_grant_parse(v, vl, c->grant, &g);
	if (rc == ERR_NOTFOUND)
		return refuse(ax, STOR_ITEMS_REF_GRANT, ERR_NOTFOUND);
	if (rc != 0)
		return rc;
	rc = check_node(ax, g.instance, c->node);
	if (rc != 0)
		return rc;
	if (!returns_ok(c, &g))
		return refuse(ax, STOR_ITEMS_REF_GRANT, ERR_CONFLICT);
	for (size_t i = 0; i < g.n; i++) {
		uint64_t r = returned_of(c, &g.lines[i]);
		uint64_t got = g.lines[i].count - r;
		struct l_delta d = {{0}};

		if (got > 0) {
			d.d[L_INFLIGHT] = -(int64_t)got;
			d.d[L_DELIVERED] = (int64_t)got;
			l_stock_move(ax, index, &g.lines[i], &d,
				     STOR_ITEMS_EV_DELIVER, g.instance, got);
			l_flow_add(ax, g.instance, L_F_DELIVERED, got);
		}
		if (r > 0) {
			memset(&d, 0, sizeof(d));
			d.d[L_INFLIGHT] = -(int64_t)r;
			d.d[L_STOCK] = (int64_t)r;
			l_stock_move(ax, index, &g.lines[i], &d,
				     STOR_ITEMS_EV_RETURN, g.instance, r);
			l_flow_add(ax, g.instance, L_F_RETURNED, r);
		}
	}
	l_grant_del(ax, &g);
	return 0;
}

static int apply_config(struct stor_apply_ctx *ax,
			const struct stor_items_cmd *c)
{
	uint64_t cf[L_CONFIG_N];

	if (c->mode > STOR_ITEMS_SIMPLE ||
	    c->timeout_ms < STOR_ITEMS_TIMEOUT_MS_MIN ||
	    c->timeout_ms > STOR_ITEMS_TIMEOUT_MS_MAX)
		return refuse(ax, STOR_ITEMS_REF_MALFORMED, ERR_MALFORMED);
	l_config(ax, cf);
	cf[L_MODE] = c->mode;
	cf[L_TIMEOUT] = c->timeout_ms;
	l_config_put(ax, cf);
	return 0;
}

static int l_apply(void *ctx, struct stor_apply_ctx *ax, uint64_t index,
		   const msgpack_object *body)
{
	/* On the stack (about 7 kB): a failed allocation here would give
	 * this node a result the others do not have. */
	struct stor_items_cmd cmd, *c = &cmd;
	int rc;

	(void)ctx;
	rc = l_decode(body, c);
	if (rc != 0) {
		rc = refuse(ax, STOR_ITEMS_REF_MALFORMED, rc);
		goto out;
	}
	switch (c->op) {
	case STOR_ITEMS_EXPORT:
		rc = apply_export(ax, index, c);
		break;
	case STOR_ITEMS_REQUEST:
		rc = apply_request(ax, index, c);
		break;
	case STOR_ITEMS_ALLOCATE:
		rc = l_apply_allocate(ax, index, c->wall_ms);
		break;
	case STOR_ITEMS_CONFIRM:
		rc = apply_confirm(ax, index, c);
		break;
	default:
		ASSERT(c->op == STOR_ITEMS_CONFIG);
		rc = apply_config(ax, c);
		break;
	}
out:
	return rc;
}

int stor_items_register(struct stor *s)
{
	return stor_register_domain(s, STOR_DOMAIN_ITEMS, "items", l_apply,
				    NULL);
}
