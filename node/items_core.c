/*
 * items_core.c: the item ledger between node/core.h and storage/ledger.h:
 * the CORE_CMD_ITEMS_* encoder and the local reads behind the items_*
 * core ops. Like cmd.c it sits apart from node/api (which must not see
 * storage's headers) and serves the node core and the API tests' fake.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "node/core.h"
#include "storage/ledger.h"

_Static_assert(CORE_ITEM_NAME_MAX == STOR_ITEM_NAME_MAX, "item names");
_Static_assert(CORE_ITEM_QUALITY_MAX == STOR_ITEM_QUALITY_MAX, "qualities");
_Static_assert(CORE_ITEM_LINES_MAX == STOR_ITEMS_LINES_MAX, "lines");
_Static_assert(CORE_ITEM_COUNT_MAX == STOR_ITEMS_COUNT_MAX, "counts");
_Static_assert(CORE_ITEMS_MAX == STOR_ITEMS_MAX, "items");
_Static_assert(CORE_ITEMS_HISTORY == STOR_ITEMS_HISTORY, "history");
_Static_assert(CORE_ITEMS_GRANTS_MAX == STOR_ITEMS_GRANTS_MAX, "grants");
_Static_assert(CORE_ITEMS_REFUSED_N == STOR_ITEMS_REFUSED_N, "refusals");

static const char *const mode_names[] = {"proportional", "simple"};

static int mode_of(const char *s, uint8_t *mode)
{
	for (uint8_t i = 0; i < 2; i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*mode = i;
			return 0;
		}
	return ERR_INVAL;
}

static void line_copy(struct stor_item_line *o, const struct core_item_line *l)
{
	memcpy(o->name, l->name, sizeof(o->name));
	memcpy(o->quality, l->quality, sizeof(o->quality));
	o->name[sizeof(o->name) - 1] = '\0';
	o->quality[sizeof(o->quality) - 1] = '\0';
	o->count = l->count;
}

int core_items_encode(const struct core_cmd *cmd, uint8_t **out, size_t *len)
{
	static const int ops[] = {STOR_ITEMS_EXPORT, STOR_ITEMS_REQUEST,
				  STOR_ITEMS_ALLOCATE, STOR_ITEMS_CONFIRM,
				  STOR_ITEMS_CONFIG};
	const struct core_items_cmd *in = &cmd->u.items;
	struct stor_items_cmd c;

	if (cmd->type < CORE_CMD_ITEMS_EXPORT ||
	    cmd->type > CORE_CMD_ITEMS_CONFIG || in->n > CORE_ITEM_LINES_MAX ||
	    (in->n > 0 && in->lines == NULL))
		return ERR_INVAL;
	memset(&c, 0, offsetof(struct stor_items_cmd, lines));
	c.op = ops[cmd->type - CORE_CMD_ITEMS_EXPORT];
	c.instance = in->instance;
	c.node = in->node;
	c.seq = in->seq;
	c.wall_ms = in->wall_ms;
	c.grant = in->grant;
	c.timeout_ms = in->timeout_ms;
	if (cmd->type == CORE_CMD_ITEMS_CONFIG &&
	    mode_of(in->mode, &c.mode) != 0)
		return ERR_INVAL;
	c.n = in->n;
	for (size_t i = 0; i < in->n; i++)
		line_copy(&c.lines[i], &in->lines[i]);
	return stor_items_encode(&c, out, len);
}

static void item_from(struct core_item *o, const struct stor_item_stock *s)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->name, s->name, sizeof(o->name));
	memcpy(o->quality, s->quality, sizeof(o->quality));
	o->stock = s->stock;
	o->exported = s->exported;
	o->delivered = s->delivered;
	o->in_flight = s->in_flight;
}

int core_stor_items_list(struct stor *s, struct core_item *out, size_t max,
			 size_t *n)
{
	struct stor_item_stock *v;
	int rc;

	*n = 0;
	if (max > CORE_ITEMS_MAX)
		max = CORE_ITEMS_MAX;
	v = calloc(max ? max : 1, sizeof(*v));
	if (v == NULL)
		return ERR_NOMEM;
	rc = stor_items_stock_list(s, v, max, n);
	for (size_t i = 0; rc == 0 && i < *n; i++)
		item_from(&out[i], &v[i]);
	free(v);
	return rc;
}

int core_stor_items_get(struct stor *s, const char *name,
			const char *quality, struct core_item *out)
{
	struct stor_item_stock v;
	int rc = stor_items_stock_get(s, name, quality, &v);

	if (rc == 0)
		item_from(out, &v);
	return rc;
}

int core_stor_items_history(struct stor *s, const char *name,
			    const char *quality, struct core_item_event *out,
			    size_t max, size_t *n)
{
	static const char *const kinds[] = {"export", "grant", "deliver",
					    "return", "expire"};
	struct stor_items_event ev[STOR_ITEMS_HISTORY];
	int rc;

	*n = 0;
	if (max > STOR_ITEMS_HISTORY)
		max = STOR_ITEMS_HISTORY;
	rc = stor_items_history(s, name, quality, ev, max, n);
	for (size_t i = 0; rc == 0 && i < *n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].index = ev[i].index;
		snprintf(out[i].kind, sizeof(out[i].kind), "%s",
			 ev[i].kind < 5 ? kinds[ev[i].kind] : "unknown");
		out[i].instance = ev[i].instance;
		out[i].count = ev[i].count;
	}
	return rc;
}

static void grant_from(struct core_item_grant *o,
		       const struct stor_items_grant *g)
{
	o->id = g->id;
	o->instance = g->instance;
	o->created_ms = g->created_ms;
	o->n = g->n;
	for (size_t j = 0; j < g->n; j++) {
		memcpy(o->lines[j].name, g->lines[j].name,
		       sizeof(o->lines[j].name));
		memcpy(o->lines[j].quality, g->lines[j].quality,
		       sizeof(o->lines[j].quality));
		o->lines[j].count = g->lines[j].count;
	}
}

int core_stor_items_grant_of(struct stor *s, uint64_t instance,
			     struct core_item_grant *out)
{
	struct stor_items_grant g;
	int rc = stor_items_grant_of(s, instance, &g);

	if (rc == 0)
		grant_from(out, &g);
	return rc;
}

int core_stor_items_grants(struct stor *s, struct core_item_grant *out,
			   size_t max, size_t *n)
{
	struct stor_items_grant *g;
	int rc;

	*n = 0;
	if (max > CORE_ITEMS_GRANTS_MAX)
		max = CORE_ITEMS_GRANTS_MAX;
	g = calloc(max ? max : 1, sizeof(*g));
	if (g == NULL)
		return ERR_NOMEM;
	rc = stor_items_grant_list(s, g, max, n);
	for (size_t i = 0; rc == 0 && i < *n; i++)
		grant_from(&out[i], &g[i]);
	free(g);
	return rc;
}

int core_stor_items_flows(struct stor *s, struct core_item_flow *out,
			  size_t max, size_t *n)
{
	struct stor_items_flow *f;
	int rc;

	*n = 0;
	f = calloc(max ? max : 1, sizeof(*f));
	if (f == NULL)
		return ERR_NOMEM;
	rc = stor_items_flow_list(s, f, max, n);
	for (size_t i = 0; rc == 0 && i < *n; i++) {
		out[i].instance = f[i].instance;
		out[i].exported = f[i].exported;
		out[i].delivered = f[i].delivered;
		out[i].returned = f[i].returned;
	}
	free(f);
	return rc;
}

int core_stor_items_info(struct stor *s, struct core_items_info *out)
{
	struct stor_items_config c;
	int rc = stor_items_config_get(s, &c);

	memset(out, 0, sizeof(*out));
	if (rc == 0)
		rc = stor_items_refused(s, out->refused);
	if (rc == 0)
		rc = stor_items_pending(s, &out->demands, &out->grants);
	if (rc != 0)
		return rc;
	snprintf(out->mode, sizeof(out->mode), "%s",
		 c.mode < 2 ? mode_names[c.mode] : "unknown");
	out->timeout_ms = c.timeout_ms;
	out->now_ms = c.now_ms;
	return 0;
}
