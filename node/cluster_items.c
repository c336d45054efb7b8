/*
 * cluster_items.c: the items core ops (node/core.h) over this node's
 * store: local reads of the applied ledger and the node-local data the
 * items outbox keeps. Kept out of cluster_core.c so that file's table is
 * all the items code adds there.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "base/err.h"
#include "node/cluster_int.h"
#include "node/core.h"
#include "node/metrics.h"

static struct stor *st(void *ctx)
{
	return ((struct cluster *)ctx)->st;
}

int cl_items_list(void *ctx, struct core_item *out, size_t max, size_t *n)
{
	*n = 0;
	return st(ctx) ? core_stor_items_list(st(ctx), out, max, n)
		       : ERR_NOTFOUND;
}

int cl_items_get(void *ctx, const char *name, const char *quality,
		 struct core_item *out)
{
	return st(ctx) ? core_stor_items_get(st(ctx), name, quality, out)
		       : ERR_NOTFOUND;
}

int cl_items_history(void *ctx, const char *name, const char *quality,
		     struct core_item_event *out, size_t max, size_t *n)
{
	*n = 0;
	return st(ctx) ? core_stor_items_history(st(ctx), name, quality, out,
						 max, n)
		       : ERR_NOTFOUND;
}

int cl_items_grants(void *ctx, struct core_item_grant *out, size_t max,
		    size_t *n)
{
	*n = 0;
	return st(ctx) ? core_stor_items_grants(st(ctx), out, max, n)
		       : ERR_NOTFOUND;
}

int cl_items_flows(void *ctx, struct core_item_flow *out, size_t max,
		   size_t *n)
{
	*n = 0;
	return st(ctx) ? core_stor_items_flows(st(ctx), out, max, n)
		       : ERR_NOTFOUND;
}

int cl_items_info(void *ctx, struct core_items_info *out)
{
	return st(ctx) ? core_stor_items_info(st(ctx), out) : ERR_NOTFOUND;
}

int cl_items_grant_of(void *ctx, uint64_t instance,
		      struct core_item_grant *out)
{
	return st(ctx) ? core_stor_items_grant_of(st(ctx), instance, out)
		       : ERR_NOTFOUND;
}

int cl_local_get(void *ctx, const char *key, uint8_t **v, size_t *n)
{
	return st(ctx) ? stor_local_get(st(ctx), key, v, n) : ERR_NOTFOUND;
}

int cl_local_batch(void *ctx, const char *const *keys,
		   const uint8_t *const *vals, const size_t *lens,
		   const int *del, size_t n)
{
	return st(ctx) ? stor_local_batch(st(ctx), keys, vals, lens, del, n)
		       : ERR_SHUTDOWN;
}

/* ---- metrics: the ledger as this node applied it ---- */

static int stock_metrics(struct cluster *c, struct http_reply *rep)
{
	struct core_item *v = calloc(CORE_ITEMS_MAX, sizeof(*v));
	size_t n = 0;
	int rv;

	if (v == NULL)
		return ERR_NOMEM;
	if (core_stor_items_list(c->st, v, CORE_ITEMS_MAX, &n) != 0)
		n = 0;
	rv = metrics_family(rep, "clusterd_items_stock", "gauge",
			    "Items in the ledger's stock, per item and quality.");
	for (size_t i = 0; rv == 0 && i < n; i++)
		rv = http_printf(rep,
				 "clusterd_items_stock{item=\"%s\",quality=\"%s\"} "
				 "%" PRIu64 "\n",
				 v[i].name, v[i].quality, v[i].stock);
	if (rv == 0)
		rv = metrics_family(rep, "clusterd_items_in_flight", "gauge",
				    "Items granted to an instance and not yet "
				    "confirmed, per item and quality.");
	for (size_t i = 0; rv == 0 && i < n; i++)
		rv = http_printf(rep,
				 "clusterd_items_in_flight{item=\"%s\",quality=\"%s\"} "
				 "%" PRIu64 "\n",
				 v[i].name, v[i].quality, v[i].in_flight);
	free(v);
	return rv;
}

static int flow_metrics(struct cluster *c, struct http_reply *rep)
{
	static const char *const fam[3][2] = {
		{"clusterd_items_exported_total",
		 "Items an instance handed to the ledger."},
		{"clusterd_items_delivered_total",
		 "Items delivered into an instance (grants confirmed)."},
		{"clusterd_items_returned_total",
		 "Items granted to an instance that went back to stock "
		 "(returned or expired)."},
	};
	struct core_item_flow *f = calloc(CORE_INST_MAX, sizeof(*f));
	size_t n = 0;
	int rv = 0;

	if (f == NULL)
		return ERR_NOMEM;
	if (core_stor_items_flows(c->st, f, CORE_INST_MAX, &n) != 0)
		n = 0;
	for (int k = 0; rv == 0 && k < 3; k++) {
		rv = metrics_family(rep, fam[k][0], "counter", fam[k][1]);
		for (size_t i = 0; rv == 0 && i < n; i++) {
			uint64_t v = k == 0   ? f[i].exported
				     : k == 1 ? f[i].delivered
					      : f[i].returned;

			rv = http_printf(rep, "%s{instance=\"%" PRIu64 "\"} %"
					 PRIu64 "\n",
					 fam[k][0], f[i].instance, v);
		}
	}
	free(f);
	return rv;
}

int cluster_items_metrics(void *arg, struct http_reply *rep)
{
	static const char *const names[] = CORE_ITEMS_REFUSED_NAMES;
	struct cluster *c = arg;
	struct core_items_info info;
	int rv;

	if (c->st == NULL)
		return 0;
	rv = stock_metrics(c, rep);
	if (rv == 0)
		rv = flow_metrics(c, rep);
	if (rv == 0 && core_stor_items_info(c->st, &info) == 0) {
		rv = metrics_family(rep, "clusterd_items_refused_total",
				    "counter",
				    "Ledger commands refused, by reason (the "
				    "ledger unchanged).");
		for (int i = 0; rv == 0 && i < CORE_ITEMS_REFUSED_N; i++)
			rv = http_printf(rep,
					 "clusterd_items_refused_total{reason=\"%s\"} "
					 "%" PRIu64 "\n",
					 names[i], info.refused[i]);
	}
	return rv;
}
