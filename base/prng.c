/*
 * prng.c: xoshiro256** with splitmix64 seeding. See prng.h.
 */
#include "base/prng.h"

#include "base/assert.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void prng_seed(struct prng *p, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		p->s[i] = splitmix64(&x);
}

uint64_t prng_next(struct prng *p)
{
	uint64_t *s = p->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t prng_below(struct prng *p, uint64_t n)
{
	uint64_t limit, v;

	ASSERT(n > 0);
	/* Reject the top partial bucket so every residue is equally likely. */
	limit = UINT64_MAX - (UINT64_MAX % n);
	do {
		v = prng_next(p);
	} while (v >= limit);
	return v % n;
}

uint64_t prng_range(struct prng *p, uint64_t lo, uint64_t hi)
{
	ASSERT(lo <= hi);
	if (lo == 0 && hi == UINT64_MAX)
		return prng_next(p);
	return lo + prng_below(p, hi - lo + 1);
}

double prng_double(struct prng *p)
{
	/* The top 53 bits fill a double's mantissa exactly. */
	return (double)(prng_next(p) >> 11) * 0x1.0p-53;
}

int prng_chance(struct prng *p, double prob)
{
	if (prob <= 0.0)
		return 0;
	if (prob >= 1.0)
		return 1;
	return prng_double(p) < prob;
}

void prng_fork(struct prng *p, struct prng *child)
{
	prng_seed(child, prng_next(p));
}
