/*
 * render.c: the cluster-wide exposition from the cache (cmetrics.h).
 *
 * The text format wants every sample of a family together, under one
 * HELP and one TYPE line. Members list their families in their own
 * order, so the renderer collects (family, member) pairs, sorts them by
 * family name (members are already in name order, and the sort is made
 * stable by the member index), and writes each group once.
 */
#include "node/cmetrics/cmetrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"

struct ref {
	const struct cm_snap *s;
	const struct cm_family *f;
	const char *node;
	uint32_t order; /* member index, then family index */
};

static int name_cmp(const struct ref *x, const struct ref *y)
{
	size_t n = x->f->name_len < y->f->name_len ? x->f->name_len
						     : y->f->name_len;
	int r = memcmp(x->s->text + x->f->name_off, y->s->text + y->f->name_off, n);

	if (r == 0 && x->f->name_len != y->f->name_len)
		r = x->f->name_len < y->f->name_len ? -1 : 1;
	return r;
}

static int ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	int r = name_cmp(x, y);

	if (r != 0)
		return r;
	return x->order < y->order ? -1 : x->order > y->order;
}

int cm_label_escape(struct wbuf *out, const char *s)
{
	int rv = 0;

	for (; *s && rv == 0; s++) {
		if (*s == '\\')
			rv = wbuf_put(out, "\\\\", 2);
		else if (*s == '"')
			rv = wbuf_put(out, "\\\"", 2);
		else if (*s == '\n')
			rv = wbuf_put(out, "\\n", 2);
		else
			rv = wbuf_put(out, s, 1);
	}
	return rv;
}

static int put_node_sample(struct wbuf *out, const char *name,
			   const char *node, const char *fmt_value)
{
	int rv = wbuf_printf(out, "%s{node=\"", name);

	if (rv == 0)
		rv = cm_label_escape(out, node);
	if (rv == 0)
		rv = wbuf_printf(out, "\"} %s\n", fmt_value);
	return rv;
}

/* clusterd_up and clusterd_metrics_age_seconds of every member. */
static int render_members(const struct cm_cache *c, uint64_t now_ms,
			  struct wbuf *out, struct cm_render_stats *st)
{
	int rv = wbuf_printf(out,
			     "# HELP clusterd_up 1 if the member is alive in "
			     "gossip as the answering node sees it, 0 if not.\n"
			     "# TYPE clusterd_up gauge\n");

	for (uint32_t i = 0; i < c->n && rv == 0; i++) {
		rv = put_node_sample(out, "clusterd_up", c->peers[i].name,
				     c->peers[i].up ? "1" : "0");
		st->nodes++;
		st->nodes_up += c->peers[i].up;
	}
	if (rv == 0)
		rv = wbuf_printf(out,
				 "# HELP clusterd_metrics_age_seconds How old the "
				 "member's figures in this answer are.\n"
				 "# TYPE clusterd_metrics_age_seconds gauge\n");
	for (uint32_t i = 0; i < c->n && rv == 0; i++) {
		const struct cm_peer *p = &c->peers[i];
		char v[32];

		if (p->snap == NULL || !p->up)
			continue;
		snprintf(v, sizeof(v), "%.3f",
			 now_ms > p->got_ms ? (double)(now_ms - p->got_ms) / 1000.0
					    : 0.0);
		rv = put_node_sample(out, "clusterd_metrics_age_seconds", p->name, v);
	}
	return rv;
}

static int put_header(struct wbuf *out, const struct ref *r)
{
	const char *t = r->s->text;
	const struct cm_family *f = r->f;
	int rv = 0;

	if (f->help_len > 0)
		rv = wbuf_printf(out, "# HELP %.*s %.*s\n", (int)f->name_len,
				 t + f->name_off, (int)f->help_len, t + f->help_off);
	if (rv == 0 && f->type_len > 0)
		rv = wbuf_printf(out, "# TYPE %.*s %.*s\n", (int)f->name_len,
				 t + f->name_off, (int)f->type_len, t + f->type_off);
	return rv;
}

static int put_samples(struct wbuf *out, const struct ref *r,
		       struct cm_render_stats *st)
{
	const char *t = r->s->text;
	int rv = 0;

	for (uint32_t i = 0; i < r->f->n && rv == 0; i++) {
		const struct cm_sample *m = &r->s->smp[r->f->first + i];

		rv = wbuf_printf(out, "%.*s{node=\"", (int)m->name_len,
				 t + m->name_off);
		if (rv == 0)
			rv = cm_label_escape(out, r->node);
		if (rv == 0)
			rv = wbuf_printf(out, "\"%s%.*s} %.*s\n",
					 m->labels_len ? "," : "",
					 (int)m->labels_len, t + m->labels_off,
					 (int)m->value_len, t + m->value_off);
		st->samples++;
	}
	return rv;
}

static int same_type(const struct ref *a, const struct ref *b)
{
	return a->f->type_len == b->f->type_len &&
	       memcmp(a->s->text + a->f->type_off, b->s->text + b->f->type_off,
		      a->f->type_len) == 0;
}

static int render_families(struct ref *refs, size_t n, struct wbuf *out,
			   struct cm_render_stats *st)
{
	int rv = 0;
	size_t head = 0;

	qsort(refs, n, sizeof(refs[0]), ref_cmp);
	for (size_t i = 0; i < n && rv == 0; i++) {
		if (i == 0 || name_cmp(&refs[i], &refs[head]) != 0) {
			head = i;
			st->families++;
			rv = put_header(out, &refs[i]);
		} else if (!same_type(&refs[i], &refs[head])) {
			st->type_conflicts++;
			continue;
		}
		if (rv == 0)
			rv = put_samples(out, &refs[i], st);
	}
	return rv;
}

int cm_render(const struct cm_cache *c, uint64_t now_ms, struct wbuf *out,
	      struct cm_render_stats *st)
{
	struct cm_render_stats dummy;
	struct ref *refs;
	size_t n = 0, cap = 0;
	int rv;

	if (st == NULL)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	rv = render_members(c, now_ms, out, st);
	if (rv != 0)
		return rv;
	for (uint32_t i = 0; i < c->n; i++)
		if (c->peers[i].up && c->peers[i].snap)
			cap += c->peers[i].snap->nfam;
	if (cap == 0)
		return 0;
	refs = calloc(cap, sizeof(*refs));
	if (refs == NULL)
		return ERR_NOMEM;
	for (uint32_t i = 0; i < c->n; i++) {
		const struct cm_peer *p = &c->peers[i];

		if (!p->up || p->snap == NULL)
			continue;
		for (uint32_t j = 0; j < p->snap->nfam; j++) {
			ASSERT(n < cap);
			refs[n].s = p->snap;
			refs[n].f = &p->snap->fam[j];
			refs[n].node = p->name;
			refs[n].order = i * CM_FAMILIES_MAX + j;
			n++;
		}
	}
	rv = render_families(refs, n, out, st);
	free(refs);
	return rv;
}
