/*
 * membership.c: configurations and single-server changes (thesis 4.1-4.3).
 *
 * A server uses the latest configuration in its log, committed or not
 * (thesis 4.1), so a change takes effect as soon as its entry is appended
 * and is undone if that entry is truncated. Changes go one server at a
 * time, so any majority of the old and any majority of the new voter set
 * overlap. Two rules make that sufficient:
 *  - only one change may be uncommitted at a time;
 *  - a leader proposes a change only after an entry of its own term has
 *    committed. Without this second rule (Ongaro, raft-dev, July 2015) a
 *    leader of a new term can append a change that, combined with an
 *    uncommitted change of an earlier leader it never saw, yields two
 *    disjoint majorities.
 * A leader removed (or demoted) by a change keeps leading until the change
 * commits, without counting itself, and then steps down (thesis 4.2.2).
 */
#include <stdlib.h>
#include <string.h>

#include "base/mp.h"
#include "raft/internal.h"

#define CONF_VERSION 1

const struct raft_server *raft_conf_get(const struct raft_configuration *c,
					raft_id id)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (c->servers[i].id == id)
			return &c->servers[i];
	return NULL;
}

uint32_t raft_conf_voters(const struct raft_configuration *c)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->n; i++)
		n += c->servers[i].role == RAFT_VOTER;
	return n;
}

int raft__conf_is_voter(const struct raft_configuration *c, raft_id id)
{
	const struct raft_server *s = raft_conf_get(c, id);

	return s != NULL && s->role == RAFT_VOTER;
}

uint32_t raft__conf_quorum(const struct raft_configuration *c)
{
	return raft_conf_voters(c) / 2 + 1;
}

void raft_conf_encode(const struct raft_configuration *c, struct mp_writer *w)
{
	mp_w_array(w, 2);
	mp_w_uint(w, CONF_VERSION);
	mp_w_array(w, c->n);
	for (uint32_t i = 0; i < c->n; i++) {
		mp_w_array(w, 2);
		mp_w_uint(w, c->servers[i].id);
		mp_w_uint(w, c->servers[i].role);
	}
}

/* Checks the invariants every configuration holds. */
static int conf_valid(const struct raft_configuration *c)
{
	if (c->n > RAFT_NODES_MAX)
		return ERR_MALFORMED;
	for (uint32_t i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];

		if (s->id == 0 || s->id >= RAFT_NUM_MAX)
			return ERR_MALFORMED;
		if (s->role != RAFT_VOTER && s->role != RAFT_LEARNER)
			return ERR_MALFORMED;
		for (uint32_t j = 0; j < i; j++)
			if (c->servers[j].id == s->id)
				return ERR_MALFORMED;
	}
	return 0;
}

int raft_conf_from_obj(const msgpack_object *o, struct raft_configuration *c)
{
	const msgpack_object *list, *srv, *f;
	uint32_t n, k;
	uint64_t v;

	if (mp_get_array(o, &n) != 0 || n != 2)
		return ERR_MALFORMED;
	if (mp_array_at(o, 0, &f) != 0 || mp_get_u64(f, &v) != 0)
		return ERR_MALFORMED;
	if (v != CONF_VERSION)
		return ERR_VERSION;
	if (mp_array_at(o, 1, &list) != 0 || mp_get_array(list, &n) != 0 ||
	    n > RAFT_NODES_MAX)
		return ERR_MALFORMED;
	memset(c, 0, sizeof(*c));
	c->n = n;
	for (uint32_t i = 0; i < n; i++) {
		if (mp_array_at(list, i, &srv) != 0 ||
		    mp_get_array(srv, &k) != 0 || k != 2)
			return ERR_MALFORMED;
		if (mp_array_at(srv, 0, &f) != 0 ||
		    mp_get_u64(f, &c->servers[i].id) != 0)
			return ERR_MALFORMED;
		if (mp_array_at(srv, 1, &f) != 0 || mp_get_u64(f, &v) != 0 ||
		    v > 255)
			return ERR_MALFORMED;
		c->servers[i].role = (uint8_t)v;
	}
	return conf_valid(c);
}

int raft_conf_decode(const uint8_t *buf, size_t len,
		     struct raft_configuration *out)
{
	struct mp_doc doc;
	int rv;

	rv = mp_parse(&doc, buf, len);
	if (rv != 0)
		return ERR_MALFORMED;
	rv = raft_conf_from_obj(doc.root, out);
	mp_doc_free(&doc);
	return rv;
}

/* The latest config entry at or below index, or NULL. */
static const struct raft_entry *conf_entry_at(const struct raft *r,
					      raft_index index)
{
	raft_index i = u64_min(index, log_last(r));

	for (; i > r->snap.index; i--) {
		const struct raft_entry *e = raft__log_get(r, i);

		if (e->type == RAFT_ENTRY_CONFIG)
			return e;
	}
	return NULL;
}

int raft__conf_at(const struct raft *r, raft_index index,
	    struct raft_configuration *out)
{
	const struct raft_entry *e = conf_entry_at(r, index);

	if (e == NULL) {
		*out = r->snap.conf;
		return 0;
	}
	return raft_conf_decode(e->data, e->len, out);
}

void raft__conf_recompute(struct raft *r)
{
	const struct raft_entry *e = conf_entry_at(r, log_last(r));
	int rv;

	if (e == NULL) {
		r->conf = r->snap.conf;
		r->conf_index = 0;
	} else {
		/* Config entries are validated before they enter the log. */
		rv = raft_conf_decode(e->data, e->len, &r->conf);
		ASSERT(rv == 0);
		r->conf_index = e->index;
	}
	raft__conf_sync_progress(r);
}

void raft__conf_on_append(struct raft *r, const struct raft_entry *e)
{
	int rv = raft_conf_decode(e->data, e->len, &r->conf);

	ASSERT(rv == 0);
	r->conf_index = e->index;
	TRACE_I(r->tracer, RAFT_MOD, "%llu: configuration at %llu: %u servers, "
		"%u voters", (unsigned long long)r->cfg.id,
		(unsigned long long)e->index, r->conf.n,
		raft_conf_voters(&r->conf));
	raft__conf_sync_progress(r);
}

void raft__conf_sync_progress(struct raft *r)
{
	struct raft_progress old[RAFT_NODES_MAX];
	uint32_t old_n = r->prs_n;

	if (r->role != RAFT_LEADER)
		return;
	memcpy(old, r->prs, old_n * sizeof(old[0]));
	r->prs_n = 0;
	for (uint32_t i = 0; i < r->conf.n; i++) {
		raft_id id = r->conf.servers[i].id;
		struct raft_progress *pr = &r->prs[r->prs_n];
		uint32_t j;

		if (id == r->cfg.id)
			continue;
		for (j = 0; j < old_n && old[j].id != id; j++)
			;
		if (j < old_n) {
			*pr = old[j];
		} else {
			memset(pr, 0, sizeof(*pr));
			pr->id = id;
			raft__progress_reset(r, pr);
		}
		r->prs_n++;
	}
}

static int change_apply(const struct raft_configuration *cur, uint8_t op,
			raft_id id, struct raft_configuration *out)
{
	const struct raft_server *s = raft_conf_get(cur, id);
	uint32_t pos;

	*out = *cur;
	if (id == 0 || id >= RAFT_NUM_MAX)
		return ERR_INVAL;
	pos = s != NULL ? (uint32_t)(s - cur->servers) : 0;
	switch (op) {
	case RAFT_ADD_LEARNER:
		if (s != NULL || cur->n == RAFT_NODES_MAX)
			return ERR_INVAL;
		out->servers[out->n].id = id;
		out->servers[out->n].role = RAFT_LEARNER;
		out->n++;
		return 0;
	case RAFT_PROMOTE:
		if (s == NULL || s->role != RAFT_LEARNER)
			return ERR_INVAL;
		out->servers[pos].role = RAFT_VOTER;
		return 0;
	case RAFT_DEMOTE:
	case RAFT_REMOVE:
		if (s == NULL)
			return ERR_INVAL;
		if (s->role == RAFT_VOTER && raft_conf_voters(cur) == 1)
			return ERR_INVAL;
		if (op == RAFT_DEMOTE) {
			if (s->role != RAFT_VOTER)
				return ERR_INVAL;
			out->servers[pos].role = RAFT_LEARNER;
			return 0;
		}
		out->servers[pos] = out->servers[out->n - 1];
		out->n--;
		return 0;
	default:
		return ERR_INVAL;
	}
}

int raft__membership_propose(struct raft *r, uint8_t op, raft_id id)
{
	struct raft_configuration next;
	struct mp_writer w;
	const uint8_t *buf;
	int rv;

	if (r->transfer_to != 0)
		return ERR_AGAIN;
	/* The 2015 fix: an entry of this term must be committed first. */
	if (raft__log_term(r, r->commit) != r->term)
		return ERR_AGAIN;
	if (r->conf_index > r->commit)
		return ERR_BUSY;
	rv = change_apply(&r->conf, op, id, &next);
	if (rv != 0)
		return rv;
	mp_writer_init(&w, 64 + 16 * (size_t)RAFT_NODES_MAX);
	raft_conf_encode(&next, &w);
	rv = mp_writer_error(&w);
	if (rv != 0)
		goto err_free_writer;
	buf = mp_writer_data(&w);
	rv = raft__log_append(r, r->term, RAFT_ENTRY_CONFIG, buf,
			(uint32_t)mp_writer_len(&w));
err_free_writer:
	mp_writer_free(&w);
	return rv;
}

void raft__membership_after_commit(struct raft *r)
{
	if (r->role != RAFT_LEADER || r->conf_index > r->commit)
		return;
	if (raft__conf_is_voter(&r->conf, r->cfg.id))
		return;
	TRACE_I(r->tracer, RAFT_MOD,
		"%llu: no longer a voter once %llu committed; stepping down",
		(unsigned long long)r->cfg.id,
		(unsigned long long)r->conf_index);
	raft__become_follower(r, r->term, 0);
}
