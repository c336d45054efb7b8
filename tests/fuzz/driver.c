/*
 * driver.c: a standalone runner for libFuzzer-style targets.
 *
 * Each fuzz target defines LLVMFuzzerTestOneInput. Built with clang and
 * -fsanitize=fuzzer it is a real coverage-guided fuzzer (scripts/fuzz);
 * linked with this driver it runs under any compiler in ctest: it replays
 * the seed corpus, then mutates seeds with a seeded PRNG (bit flips, byte
 * sets, splices, truncations, insertions of "interesting" values) for a
 * bounded time and count. Under the ASan build any overread, leak or
 * undefined behaviour aborts the run.
 *
 * usage: fuzz_x [--seconds S] [--runs N] [--seed K] [corpus-dir-or-file...]
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/prng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_MAX 65536
#define MAX_SEEDS 1024

static uint8_t *seeds[MAX_SEEDS];
static size_t seed_len[MAX_SEEDS];
static size_t nseeds;

static void load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (!f || nseeds >= MAX_SEEDS) {
		if (f)
			fclose(f);
		return;
	}
	buf = malloc(FUZZ_INPUT_MAX);
	n = fread(buf, 1, FUZZ_INPUT_MAX, f);
	fclose(f);
	seeds[nseeds] = buf;
	seed_len[nseeds++] = n;
}

static void load_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char full[4096];

	if (stat(path, &st) != 0) {
		fprintf(stderr, "fuzz: no corpus at %s\n", path);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		load_file(path);
		return;
	}
	d = opendir(path);
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
		load_file(full);
	}
	if (d)
		closedir(d);
}

static size_t mutate(struct prng *p, uint8_t *buf, size_t len)
{
	static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff,
					      0xc1, 0xdd, 0xdf, 0xfe, 0x10};
	int rounds = 1 + (int)prng_below(p, 4);

	for (int r = 0; r < rounds; r++) {
		uint64_t op = prng_below(p, 6);

		if (len == 0)
			op = 4;
		switch (op) {
		case 0: /* flip a bit */
			buf[prng_below(p, len)] ^= (uint8_t)(1u << prng_below(p, 8));
			break;
		case 1: /* set an interesting byte */
			buf[prng_below(p, len)] =
				interesting[prng_below(p, sizeof(interesting))];
			break;
		case 2: /* truncate */
			len = (size_t)prng_below(p, len + 1);
			break;
		case 3: /* random byte */
			buf[prng_below(p, len)] = (uint8_t)prng_next(p);
			break;
		case 4: /* insert bytes */
			if (len < FUZZ_INPUT_MAX - 8) {
				size_t at = len ? (size_t)prng_below(p, len + 1) : 0;
				size_t n = 1 + (size_t)prng_below(p, 8);

				memmove(buf + at + n, buf + at, len - at);
				for (size_t i = 0; i < n; i++)
					buf[at + i] = (uint8_t)prng_next(p);
				len += n;
			}
			break;
		default: /* splice in part of another seed */
			if (nseeds > 0) {
				size_t s = (size_t)prng_below(p, nseeds);
				size_t at = (size_t)prng_below(p, len + 1);
				size_t n = seed_len[s];

				if (at + n > FUZZ_INPUT_MAX)
					n = FUZZ_INPUT_MAX - at;
				memcpy(buf + at, seeds[s], n);
				if (at + n > len)
					len = at + n;
			}
			break;
		}
	}
	return len;
}

int main(int argc, char **argv)
{
	double seconds = 10;
	long runs = 1000000;
	uint64_t seed = 1;
	struct prng p;
	struct timespec t0, t;
	uint8_t *buf = malloc(FUZZ_INPUT_MAX);
	long i;

	for (int a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--seconds") == 0 && a + 1 < argc)
			seconds = atof(argv[++a]);
		else if (strcmp(argv[a], "--runs") == 0 && a + 1 < argc)
			runs = atol(argv[++a]);
		else if (strcmp(argv[a], "--seed") == 0 && a + 1 < argc)
			seed = strtoull(argv[++a], NULL, 10);
		else
			load_path(argv[a]);
	}
	for (size_t s = 0; s < nseeds; s++)
		LLVMFuzzerTestOneInput(seeds[s], seed_len[s]);
	prng_seed(&p, seed);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < runs; i++) {
		size_t len = 0;

		if (nseeds > 0) {
			size_t s = (size_t)prng_below(&p, nseeds);

			memcpy(buf, seeds[s], seed_len[s]);
			len = seed_len[s];
		}
		len = mutate(&p, buf, len);
		LLVMFuzzerTestOneInput(buf, len);
		if ((i & 255) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((double)(t.tv_sec - t0.tv_sec) +
				    (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >
			    seconds)
				break;
		}
	}
	printf("fuzz: %zu seeds replayed, %ld mutated inputs, no crash\n",
	       nseeds, i);
	for (size_t s = 0; s < nseeds; s++)
		free(seeds[s]);
	free(buf);
	return 0;
}
