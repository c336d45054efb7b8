/*
 * cache.c: the members' snapshots and the decision which to pull
 * (cmetrics.h). The entries are kept sorted by name, so rendering needs
 * no sort of its own and a listing is deterministic.
 */
#include "node/cmetrics/cmetrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"

void cm_cache_init(struct cm_cache *c, uint64_t self_id)
{
	ASSERT(self_id != 0);
	memset(c, 0, sizeof(*c));
	c->self_id = self_id;
}

static void peer_drop_snap(struct cm_peer *p)
{
	cm_snap_free(p->snap);
	p->snap = NULL;
	p->have = 0;
}

void cm_cache_clear(struct cm_cache *c)
{
	for (uint32_t i = 0; i < c->n; i++)
		peer_drop_snap(&c->peers[i]);
	c->n = 0;
	c->inflight = 0;
}

static struct cm_peer *find(struct cm_cache *c, uint64_t id)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (c->peers[i].id == id)
			return &c->peers[i];
	return NULL;
}

const struct cm_peer *cm_cache_get(const struct cm_cache *c, uint64_t id)
{
	return find((struct cm_cache *)c, id);
}

static void end_pull(struct cm_cache *c, struct cm_peer *p)
{
	if (p->pull_req == 0)
		return;
	ASSERT(c->inflight > 0);
	c->inflight--;
	p->pull_req = 0;
}

static const struct cm_member *listed(const struct cm_member *m, size_t n,
				      uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].id == id)
			return &m[i];
	return NULL;
}

static int by_name(const void *a, const void *b)
{
	const struct cm_peer *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r != 0)
		return r;
	return x->id < y->id ? -1 : x->id > y->id;
}

void cm_cache_sync(struct cm_cache *c, const struct cm_member *m, size_t n)
{
	uint32_t w = 0;

	if (n > CM_PEERS_MAX)
		n = CM_PEERS_MAX;
	/* Drop the members no longer listed. */
	for (uint32_t i = 0; i < c->n; i++) {
		struct cm_peer *p = &c->peers[i];

		if (listed(m, n, p->id) == NULL) {
			end_pull(c, p);
			peer_drop_snap(p);
			continue;
		}
		if (w != i)
			c->peers[w] = *p;
		w++;
	}
	c->n = w;
	/* Add or update the listed ones. */
	for (size_t i = 0; i < n; i++) {
		struct cm_peer *p = find(c, m[i].id);

		if (m[i].id == 0 || m[i].name == NULL)
			continue;
		if (p == NULL) {
			ASSERT(c->n < CM_PEERS_MAX);
			p = &c->peers[c->n++];
			memset(p, 0, sizeof(*p));
			p->id = m[i].id;
			p->self = m[i].id == c->self_id;
		}
		snprintf(p->name, sizeof(p->name), "%s", m[i].name);
		p->up = p->self || m[i].up != 0;
		p->want = m[i].version;
		if (!p->up && !p->self) {
			end_pull(c, p);
			peer_drop_snap(p);
		}
	}
	qsort(c->peers, c->n, sizeof(c->peers[0]), by_name);
}

void cm_cache_set_self(struct cm_cache *c, uint64_t version,
		       struct cm_snap *snap, uint64_t now_ms)
{
	struct cm_peer *p = find(c, c->self_id);

	if (p == NULL) {
		cm_snap_free(snap);
		return;
	}
	peer_drop_snap(p);
	p->snap = snap;
	p->have = snap ? version : 0;
	p->want = p->have;
	p->got_ms = now_ms;
}

/* Versions only grow: within a node's life by one per snapshot, across
 * lives because a node starts counting at its wall clock in ms. So an
 * answer newer than gossip's news (the peer sampled again meanwhile) is
 * not pulled a second time when that news arrives. */
static int due(const struct cm_peer *p, uint64_t now_ms)
{
	return !p->self && p->up && p->want > p->have &&
	       p->pull_req == 0 && now_ms >= p->retry_ms;
}

size_t cm_cache_due(struct cm_cache *c, uint64_t now_ms, struct cm_pull *out,
		    size_t cap)
{
	size_t k = 0;

	for (uint32_t i = 0; i < c->n; i++) {
		struct cm_peer *p = &c->peers[i];

		if (p->pull_req != 0 && now_ms - p->pull_ms >= CM_PULL_TIMEOUT_MS) {
			end_pull(c, p);
			c->st.pull_timeouts++;
			p->retry_ms = now_ms + CM_RETRY_MS;
		}
	}
	for (uint32_t i = 0; i < c->n && k < cap; i++) {
		struct cm_peer *p = &c->peers[i];

		if (c->inflight >= CM_PULLS_INFLIGHT_MAX)
			break;
		if (!due(p, now_ms))
			continue;
		p->pull_req = ++c->next_req;
		p->pull_ms = now_ms;
		c->inflight++;
		c->st.pulls++;
		out[k].id = p->id;
		out[k].req = p->pull_req;
		k++;
	}
	return k;
}

void cm_cache_failed(struct cm_cache *c, uint64_t id, uint64_t req,
		     uint64_t now_ms)
{
	struct cm_peer *p = find(c, id);

	if (p == NULL || p->pull_req != req || req == 0)
		return;
	end_pull(c, p);
	c->st.pull_failures++;
	p->retry_ms = now_ms + CM_RETRY_MS;
}

int cm_cache_answer(struct cm_cache *c, uint64_t id, uint64_t req, int status,
		    uint64_t version, const char *text, size_t len,
		    uint64_t now_ms)
{
	struct cm_peer *p = find(c, id);
	struct cm_snap *s = NULL;
	int rv;

	if (p == NULL || req == 0 || p->pull_req != req) {
		c->st.answers_stale++;
		return ERR_NOTFOUND;
	}
	end_pull(c, p);
	c->st.pull_bytes += len;
	if (status != 0) {
		c->st.pull_failures++;
		p->retry_ms = now_ms + CM_RETRY_MS;
		return status;
	}
	rv = version == 0 ? ERR_MALFORMED : cm_snap_parse(text, len, &s, NULL);
	if (rv != 0) {
		c->st.snaps_rejected++;
		p->retry_ms = now_ms + CM_RETRY_MS;
		return rv;
	}
	peer_drop_snap(p);
	p->snap = s;
	p->have = version;
	p->got_ms = now_ms;
	return 0;
}

uint64_t cm_publish_ms(uint32_t members, uint64_t min_ms)
{
	uint64_t e = 0, t;

	/* 4 * ceil(log10(members + 1)), as gossip_retransmit_limit. */
	for (uint64_t p = 1; p < (uint64_t)members + 1; p *= 10)
		e += 4;
	t = (uint64_t)members * e * CM_DIGEST_MSG_BYTES * 1000 / CM_DIGEST_BUDGET_BPS;
	return t < min_ms ? min_ms : t;
}
