/*
 * prng.h: a seeded pseudo-random generator whose whole state lives in a
 * struct, so the simulator can give every node its own stream and replay
 * any run from one seed. The generator is xoshiro256** (Blackman and
 * Vigna, 2018), seeded through splitmix64 as its authors recommend. It is
 * not for secrets: keys and tokens come from libsodium in node/.
 */
#ifndef CLUSTERD_BASE_PRNG_H
#define CLUSTERD_BASE_PRNG_H

#include <stdint.h>

struct prng {
	uint64_t s[4];
};

void prng_seed(struct prng *p, uint64_t seed);

/* Uniform 64-bit value. */
uint64_t prng_next(struct prng *p);

/* Uniform in [0, n) without modulo bias; n must be > 0. */
uint64_t prng_below(struct prng *p, uint64_t n);

/* Uniform in [lo, hi], inclusive; lo <= hi. */
uint64_t prng_range(struct prng *p, uint64_t lo, uint64_t hi);

/* Uniform double in [0, 1). */
double prng_double(struct prng *p);

/* True with probability `prob` (0 never, 1 always). */
int prng_chance(struct prng *p, double prob);

/* Derives an independent generator (for a child component) from p. */
void prng_fork(struct prng *p, struct prng *child);

#endif
