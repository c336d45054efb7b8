/*
 * disk.c: the simulated journal disk. See disk.h.
 */
#include "tests/sim/raft/disk.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/err.h"

int sim_disk_init(struct sim_disk *d, size_t limit,
		  const struct sim_disk_params *p, struct prng *parent)
{
	memset(d, 0, sizeof(*d));
	d->cap = 4096;
	d->buf = malloc(d->cap);
	if (d->buf == NULL)
		return ERR_NOMEM;
	d->limit = limit;
	d->p = *p;
	prng_fork(parent, &d->rng);
	return 0;
}

void sim_disk_free(struct sim_disk *d)
{
	free(d->buf);
	d->buf = NULL;
	d->len = d->cap = d->synced = 0;
}

static int reserve(struct sim_disk *d, size_t need)
{
	size_t cap = d->cap;
	uint8_t *nb;

	if (need > d->limit)
		return ERR_NOSPACE;
	if (need <= cap)
		return 0;
	while (cap < need)
		cap *= 2;
	nb = realloc(d->buf, cap);
	if (nb == NULL)
		return ERR_NOMEM;
	d->buf = nb;
	d->cap = cap;
	return 0;
}

void sim_disk_encode(uint8_t *out, uint8_t type, const void *payload,
		     size_t len)
{
	uint32_t crc;

	ASSERT(len <= UINT32_MAX);
	crc = crc32c(0, &type, 1);
	crc = crc32c(crc, payload, len);
	put_u32le(out, (uint32_t)len);
	put_u32le(out + 4, crc);
	out[8] = type;
	if (len > 0)
		memcpy(out + SIM_DISK_HDR, payload, len);
}

int sim_disk_append(struct sim_disk *d, uint8_t type, const void *payload,
		    size_t len)
{
	int rv = reserve(d, d->len + SIM_DISK_HDR + len);

	if (rv != 0)
		return rv;
	sim_disk_encode(d->buf + d->len, type, payload, len);
	d->len += SIM_DISK_HDR + len;
	d->stats.appends++;
	d->stats.bytes += SIM_DISK_HDR + len;
	return 0;
}

uint64_t sim_disk_fsync_us(struct sim_disk *d)
{
	uint64_t t = d->p.fsync_min_us +
		     prng_below(&d->rng, d->p.fsync_jitter_us + 1ULL);

	if (prng_chance(&d->rng, d->p.p_slow))
		t += prng_below(&d->rng, d->p.fsync_slow_us + 1ULL);
	d->stats.fsyncs++;
	return t;
}

void sim_disk_synced(struct sim_disk *d, size_t len)
{
	/* A rewrite or crash in between may have shortened the journal. */
	if (len > d->len)
		len = d->len;
	if (len > d->synced)
		d->synced = len;
}

void sim_disk_crash(struct sim_disk *d)
{
	size_t tail = d->len - d->synced, keep = 0;

	d->stats.crashes++;
	if (tail > 0 && prng_chance(&d->rng, d->p.p_torn)) {
		keep = (size_t)prng_below(&d->rng, tail + 1);
		if (keep > 0 && prng_chance(&d->rng, d->p.p_garbage)) {
			/* Scribble over the last few kept bytes. */
			size_t n = keep < 16 ? keep : 16;

			for (size_t i = 0; i < n; i++)
				d->buf[d->synced + keep - 1 - i] ^=
				    (uint8_t)(1 + prng_below(&d->rng, 255));
		}
	}
	d->len = d->synced + keep;
	ASSERT(d->len >= d->synced);
}

int sim_disk_rewrite(struct sim_disk *d, const void *buf, size_t len)
{
	int rv = reserve(d, len);

	if (rv != 0)
		return rv;
	memcpy(d->buf, buf, len);
	d->len = d->synced = len;
	d->stats.rewrites++;
	return 0;
}

int sim_disk_replay(struct sim_disk *d, sim_disk_record_cb cb, void *ctx)
{
	size_t off = 0;
	int count = 0;

	while (off < d->len) {
		size_t left = d->len - off, plen;
		uint32_t crc;
		uint8_t type;
		int rv;

		if (left < SIM_DISK_HDR)
			break;
		plen = get_u32le(d->buf + off);
		if (plen > left - SIM_DISK_HDR)
			break;
		type = d->buf[off + 8];
		crc = crc32c(0, &type, 1);
		crc = crc32c(crc, d->buf + off + SIM_DISK_HDR, plen);
		if (crc != get_u32le(d->buf + off + 4))
			break;
		rv = cb(ctx, type, d->buf + off + SIM_DISK_HDR, plen);
		if (rv != 0)
			return rv;
		off += SIM_DISK_HDR + plen;
		count++;
	}
	if (off < d->len) {
		d->stats.torn_dropped++;
		/* Only bytes that were never synced can be torn. */
		ASSERT(d->synced <= off);
		d->len = off;
	}
	return count;
}
