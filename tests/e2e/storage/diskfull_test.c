/*
 * diskfull_test: fills a small tmpfs (mounted here, removed afterwards)
 * until the store reports a full disk (issue 4). Expected: a clear
 * ERR_NOSPACE with RocksDB's "No space left" text, no further writes
 * accepted, reads still served, and after space is freed a reopen finds
 * an intact database holding every acknowledged entry.
 *
 * Needs root (mount); without it the test says so and is skipped
 * (exit 77).
 */
#include "tests/unit/storage/util.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define ENTRY_BYTES 4096
#define BATCH 16

static char mnt[64];
static int mounted;

static void cleanup(void)
{
	if (mounted) {
		util_rm_rf(mnt); /* also removes the mount point's contents */
		if (umount(mnt) != 0)
			umount2(mnt, MNT_DETACH);
		mounted = 0;
	}
	if (mnt[0] != 0)
		rmdir(mnt);
}

static void fill_entry(uint64_t i, uint8_t *buf)
{
	for (size_t j = 0; j < ENTRY_BYTES; j++)
		buf[j] = (uint8_t)(i * 31 + j * 7);
}

static int open_db(const char *dir, struct stor **s)
{
	struct stor_options o;

	util_small_options(&o, dir);
	return stor_open(&o, s);
}

/* Appends until an error; returns it, *acked = last acknowledged. */
static int fill_disk(struct stor *s, uint64_t *acked)
{
	static uint8_t data[BATCH][ENTRY_BYTES];
	struct stor_entry e[BATCH];
	int rc = 0;

	for (int round = 0; round < 100000 && rc == 0; round++) {
		for (int j = 0; j < BATCH; j++) {
			uint64_t i = *acked + 1 + (uint64_t)j;

			fill_entry(i, data[j]);
			e[j] = (struct stor_entry){.index = i, .term = 1,
						   .data = data[j],
						   .len = ENTRY_BYTES};
		}
		rc = stor_log_append(s, e, BATCH);
		if (rc == 0)
			*acked += BATCH;
	}
	return rc;
}

static int verify(const char *dir, uint64_t acked)
{
	uint8_t want[ENTRY_BYTES];
	struct stor *s;
	int rc = open_db(dir, &s);

	if (rc != 0) {
		printf("FAIL: reopen after freeing space: %s\n", err_name(rc));
		return 1;
	}
	if (stor_log_last(s) < acked) {
		printf("FAIL: acknowledged entries lost: %llu < %llu\n",
		       (unsigned long long)stor_log_last(s),
		       (unsigned long long)acked);
		return 1;
	}
	for (uint64_t i = 1; i <= acked; i++) {
		struct stor_entry e;

		fill_entry(i, want);
		rc = stor_log_entry(s, i, &e);
		if (rc != 0 || e.len != ENTRY_BYTES ||
		    memcmp(e.data, want, ENTRY_BYTES) != 0) {
			printf("FAIL: entry %llu after reopen: %s\n",
			       (unsigned long long)i, err_name(rc));
			return 1;
		}
		free(e.data);
	}
	printf("diskfull_test: reopened: %llu entries intact, log at %llu\n",
	       (unsigned long long)acked,
	       (unsigned long long)stor_log_last(s));
	stor_close(s);
	return 0;
}

static int run(void)
{
	char dir[128], filler[128], err[600];
	struct stor_entry e;
	struct stor *s;
	uint64_t acked = 0;
	FILE *f;
	int rc;

	if (mnt[0] == 0)
		return 2;
	snprintf(dir, sizeof(dir), "%s/db", mnt);
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	/* Space to give back later, so the reopen can recover. */
	f = fopen(filler, "wb");
	for (int i = 0; f != NULL && i < 2048; i++)
		fwrite(err, 1, 512, f);
	if (f == NULL || fclose(f) != 0)
		return 2;
	if ((rc = open_db(dir, &s)) != 0) {
		printf("FAIL: open on tmpfs: %s\n", err_name(rc));
		return 1;
	}
	rc = fill_disk(s, &acked);
	stor_last_error(s, err, sizeof(err));
	printf("diskfull_test: after %llu entries: %s: %s\n",
	       (unsigned long long)acked, err_name(rc), err);
	if (rc != ERR_NOSPACE || strstr(err, "No space left") == NULL ||
	    stor_failed(s) != ERR_NOSPACE) {
		printf("FAIL: expected ERR_NOSPACE with a clear message\n");
		return 1;
	}
	/* Stopped: no more writes, not even small ones; reads go on. */
	{
		struct stor_hard_state hs = {.term = 1};

		if (stor_hs_save(s, &hs) != ERR_NOSPACE) {
			printf("FAIL: a write was accepted on a full disk\n");
			return 1;
		}
	}
	if (acked > 0 && stor_log_entry(s, acked, &e) != 0) {
		printf("FAIL: reads stopped on a full disk\n");
		return 1;
	}
	if (acked > 0)
		free(e.data);
	stor_close(s);
	unlink(filler);
	return verify(dir, acked);
}

int main(void)
{
	int rc;

	if (util_tmpdir(mnt, "stordiskfull") == NULL)
		return 2;
	atexit(cleanup);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=8m") != 0) {
		printf("diskfull_test: SKIP: cannot mount a tmpfs here (%s); "
		       "run as root to test a full disk\n", strerror(errno));
		return 77;
	}
	mounted = 1;
	/* The body runs in a child, so the tmpfs goes away even when it
	 * dies (an abort inside RocksDB, a failed assertion). */
	{
		pid_t pid = fork();
		int st = 0;

		if (pid == 0) {
			/* _exit: the atexit cleanup is the parent's. */
			rc = run();
			fflush(stdout);
			_exit(rc);
		}
		waitpid(pid, &st, 0);
		rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
		if (WIFSIGNALED(st))
			printf("FAIL: the test died by signal %d\n",
			       WTERMSIG(st));
	}
	cleanup();
	if (rc == 0)
		printf("diskfull_test: all checks passed\n");
	return rc;
}
