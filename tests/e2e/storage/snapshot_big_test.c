/*
 * snapshot_big_test: transfers a state of at least 200 MB from one store
 * to another through the chunked snapshot stream, with the sender still
 * applying writes meanwhile, and checks (issue 4) that the receiver's
 * state digest equals the sender's at the snapshot and that the process's
 * peak memory (VmHWM: both stores, both RocksDB instances) stays under
 * 64 MB. RocksDB runs with the test memory settings (util.h).
 *
 * usage: snapshot_big_test [MB]   (default 200)
 */
#include "tests/unit/storage/util.h"

#include <time.h>

#include "base/prng.h"

#define VALUE_BYTES 4096
#define BATCH 64
#define CHUNK (1u << 20)
#define HWM_LIMIT_KB (64 * 1024)

static long vm_hwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	if (f != NULL)
		fclose(f);
	return kb;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Applies `count` puts of random 4 KB values, keys from key_base. */
static int apply_puts(struct stor *s, struct prng *rng, uint64_t key_base,
		      uint64_t count)
{
	static uint8_t val[BATCH][VALUE_BYTES];
	struct stor_entry e[BATCH];
	int rc = 0;

	for (uint64_t done = 0; done < count && rc == 0; done += BATCH) {
		size_t n = count - done < BATCH ? (size_t)(count - done) : BATCH;
		uint64_t next = stor_applied_index(s) + 1;

		for (size_t j = 0; j < n; j++) {
			char k[32];

			for (size_t b = 0; b < VALUE_BYTES; b += 8)
				put_u64le(&val[j][b], prng_next(rng));
			snprintf(k, sizeof(k), "key-%010llu",
				 (unsigned long long)(key_base + done + j));
			e[j] = (struct stor_entry){.index = next + j, .term = 1};
			if (stor_kv_encode(STOR_KV_PUT, "big", k, strlen(k),
					   NULL, 0, val[j], VALUE_BYTES,
					   &e[j].data, &e[j].len) != 0)
				abort();
		}
		rc = stor_apply(s, e, n, NULL, 0);
		for (size_t j = 0; j < n; j++)
			free(e[j].data);
	}
	return rc;
}

static int transfer(struct stor *src, struct stor *dst, struct prng *rng,
		    uint64_t *bytes, uint64_t *chunks)
{
	struct stor_snap_reader *r;
	struct stor_snap_writer *w;
	const uint8_t *chunk;
	size_t len;
	int done = 0, rc;

	if ((rc = stor_snap_reader_open(src, CHUNK, &r)) != 0)
		return rc;
	if ((rc = stor_snap_writer_open(dst, &w)) != 0)
		return rc;
	while (!done && rc == 0) {
		rc = stor_snap_reader_next(r, &chunk, &len, &done);
		if (rc == 0)
			rc = stor_snap_writer_chunk(w, chunk, len);
		*bytes += len;
		(*chunks)++;
		/* The sender keeps applying while it streams. */
		if (rc == 0 && *chunks % 16 == 0)
			rc = apply_puts(src, rng, 1u << 30, BATCH);
	}
	stor_snap_reader_close(r);
	if (rc != 0) {
		stor_snap_writer_abort(w);
		return rc;
	}
	return stor_snap_writer_finish(w);
}

int main(int argc, char **argv)
{
	uint64_t mb = argc > 1 ? strtoull(argv[1], NULL, 10) : 200;
	uint64_t records = mb * (1u << 20) / VALUE_BYTES + 1;
	uint64_t d_src, d_dst, d_now, n_src, n_dst, bytes = 0, chunks = 0;
	char a[64], b[64];
	struct stor *src, *dst;
	struct stor_options o;
	struct prng rng;
	double t0, t1, t2;
	long hwm;
	int rc;

	prng_seed(&rng, 42);
	if (!util_tmpdir(a, "storsnapA") || !util_tmpdir(b, "storsnapB"))
		return 2;
	util_small_options(&o, a);
	if ((rc = stor_open(&o, &src)) != 0)
		return 2;
	util_small_options(&o, b);
	if ((rc = stor_open(&o, &dst)) != 0)
		return 2;
	t0 = now_s();
	if ((rc = apply_puts(src, &rng, 0, records)) != 0) {
		printf("FAIL: filling the sender: %s\n", err_name(rc));
		return 1;
	}
	stor_state_digest(src, &d_src, &n_src);
	t1 = now_s();
	printf("snapshot_big_test: sender holds %llu records, %llu MB of "
	       "values (%.1f s); VmHWM %ld kB\n",
	       (unsigned long long)n_src,
	       (unsigned long long)(n_src * VALUE_BYTES >> 20), t1 - t0,
	       vm_hwm_kb());
	rc = transfer(src, dst, &rng, &bytes, &chunks);
	t2 = now_s();
	if (rc != 0) {
		printf("FAIL: transfer: %s\n", err_name(rc));
		return 1;
	}
	stor_state_digest(dst, &d_dst, &n_dst);
	stor_state_digest(src, &d_now, &n_src);
	hwm = vm_hwm_kb();
	printf("snapshot_big_test: streamed %llu MB in %llu chunks in %.1f s "
	       "(%.0f MB/s); digest sender %016llx receiver %016llx (%llu "
	       "records); sender now %llu records; VmHWM %ld kB\n",
	       (unsigned long long)(bytes >> 20), (unsigned long long)chunks,
	       t2 - t1, (double)bytes / (1 << 20) / (t2 - t1),
	       (unsigned long long)d_src, (unsigned long long)d_dst,
	       (unsigned long long)n_dst, (unsigned long long)n_src, hwm);
	stor_close(src);
	stor_close(dst);
	util_rm_rf(a);
	util_rm_rf(b);
	if (d_src != d_dst || d_now == d_src) {
		printf("FAIL: receiver state differs from the snapshot\n");
		return 1;
	}
	if (hwm < 0 || hwm >= HWM_LIMIT_KB) {
		printf("FAIL: peak memory %ld kB, limit %d kB\n", hwm,
		       HWM_LIMIT_KB);
		return 1;
	}
	printf("snapshot_big_test: all checks passed\n");
	return 0;
}
