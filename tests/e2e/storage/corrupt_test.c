/*
 * corrupt_test: flips bytes in the files of a closed database and checks
 * that the damaged entry is detected and reported, never served
 * (issue 4). Two places: a table file (after a flush; RocksDB's block
 * checksum catches it and the store turns it into ERR_CORRUPT, sticky)
 * and the write-ahead log (RocksDB's record checksum; point-in-time
 * recovery drops the damaged record and everything after it, so the log
 * ends before the damage: nothing damaged is served). In every case,
 * each entry the store does return must be exactly what was written.
 * A value damaged under RocksDB's checksums is covered by the unit test
 * (stor_debug_put_log_raw: the store's own crc32c).
 */
#include "tests/unit/storage/util.h"

#include <dirent.h>
#include <sys/stat.h>

#define N 2000
#define VICTIM 1234

static void entry_data(uint64_t i, char *buf, size_t n)
{
	snprintf(buf, n, "ENTRY-%06llu-payload-payload-payload",
		 (unsigned long long)i);
}

static int fill(const char *dir, int flush)
{
	struct stor_options o;
	struct stor *s;
	int rc;

	util_small_options(&o, dir);
	if ((rc = stor_open(&o, &s)) != 0)
		return rc;
	for (uint64_t i = 1; i <= N && rc == 0; i++) {
		char d[64];
		struct stor_entry e = {.index = i, .term = 3,
				       .data = (uint8_t *)d};

		entry_data(i, d, sizeof(d));
		e.len = strlen(d);
		rc = stor_log_append(s, &e, 1);
	}
	if (rc == 0 && flush)
		rc = stor_flush(s);
	stor_close(s);
	return rc;
}

/* Flips one byte of the victim's marker in the first file with the
 * suffix that holds it. Returns 1 if found. */
static int flip_in(const char *dir, const char *suffix)
{
	char marker[64], path[512];
	struct dirent *de;
	DIR *d = opendir(dir);
	int found = 0;

	entry_data(VICTIM, marker, sizeof(marker));
	while (d != NULL && !found && (de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name), sl = strlen(suffix), len;
		FILE *f;
		char *buf, *hit;

		if (nl < sl || strcmp(de->d_name + nl - sl, suffix) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "r+b");
		fseek(f, 0, SEEK_END);
		len = (size_t)ftell(f);
		buf = malloc(len + 1);
		fseek(f, 0, SEEK_SET);
		if (fread(buf, 1, len, f) != len)
			abort();
		buf[len] = 0;
		hit = memmem(buf, len, marker, strlen(marker));
		if (hit != NULL) {
			long at = (long)(hit - buf) + 8; /* inside the digits */

			fseek(f, at, SEEK_SET);
			fputc(hit[8] ^ 0x04, f);
			printf("corrupt_test: flipped byte %ld of %s\n", at,
			       de->d_name);
			found = 1;
		}
		fclose(f);
		free(buf);
	}
	if (d != NULL)
		closedir(d);
	return found;
}

/* Reads every index; returns how many reads reported ERR_CORRUPT and
 * fails on any wrong content. */
static int check_served(const char *dir, uint64_t *last_out)
{
	struct stor_options o;
	struct stor *s;
	int corrupt = 0, rc;
	char err[512];

	util_small_options(&o, dir);
	o.open_err = err;
	o.open_err_size = sizeof(err);
	rc = stor_open(&o, &s);
	if (rc != 0) {
		printf("corrupt_test: open refused: %s: %s\n", err_name(rc),
		       err);
		*last_out = 0;
		return rc == ERR_CORRUPT ? 1 : -1;
	}
	*last_out = stor_log_last(s);
	for (uint64_t i = 1; i <= stor_log_last(s); i++) {
		struct stor_entry e;
		char want[64];

		rc = stor_log_entry(s, i, &e);
		if (rc == ERR_CORRUPT) {
			corrupt++;
			continue;
		}
		if (rc != 0) {
			printf("FAIL: entry %llu: %s\n", (unsigned long long)i,
			       err_name(rc));
			return -1;
		}
		entry_data(i, want, sizeof(want));
		if (e.len != strlen(want) || memcmp(e.data, want, e.len) != 0) {
			printf("FAIL: entry %llu served damaged\n",
			       (unsigned long long)i);
			return -1;
		}
		free(e.data);
	}
	if (corrupt > 0) {
		stor_last_error(s, err, sizeof(err));
		printf("corrupt_test: %d reads refused; error: %s\n", corrupt,
		       err);
		if (stor_failed(s) != ERR_CORRUPT) {
			printf("FAIL: store not in its failed state\n");
			return -1;
		}
	}
	stor_close(s);
	return corrupt;
}

/* Damages the end of the WAL as a power cut does: cut (truncate by
 * `cut` bytes) or garble (overwrite the last `cut` bytes). */
static int damage_wal_tail(const char *dir, long cut, int garble)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);
	int done = 0;

	while (d != NULL && !done && (de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		struct stat st;

		if (nl < 4 || strcmp(de->d_name + nl - 4, ".log") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0 || st.st_size < cut + 100)
			continue;
		if (garble) {
			FILE *f = fopen(path, "r+b");

			fseek(f, -cut, SEEK_END);
			for (long i = 0; i < cut; i++)
				fputc(0xa5 ^ (int)i, f);
			fclose(f);
		} else if (truncate(path, st.st_size - cut) != 0) {
			break;
		}
		done = 1;
	}
	if (d != NULL)
		closedir(d);
	return done;
}

/* A torn tail (the record being written at a power cut) must not stop
 * the node: the store opens with every entry before it. */
static int check_torn_tail(int garble)
{
	char dir[64];
	uint64_t last;
	int rc;

	if (util_tmpdir(dir, "storcorrupt") == NULL || fill(dir, 0) != 0)
		return 2;
	if (!damage_wal_tail(dir, 7, garble)) {
		printf("FAIL: no WAL to damage\n");
		return 1;
	}
	rc = check_served(dir, &last);
	util_rm_rf(dir);
	printf("corrupt_test: WAL tail %s: open %s, log ends at %llu\n",
	       garble ? "garbled" : "cut", rc == 0 ? "ok" : "refused",
	       (unsigned long long)last);
	if (rc != 0 || last < N - 1) {
		printf("FAIL: a torn WAL tail stopped the store\n");
		return 1;
	}
	return 0;
}

int main(void)
{
	char dir[64];
	uint64_t last;
	int rc;

	/* 1. A table file. */
	if (util_tmpdir(dir, "storcorrupt") == NULL || fill(dir, 1) != 0)
		return 2;
	if (!flip_in(dir, ".sst")) {
		printf("FAIL: entry not found in any table file\n");
		return 1;
	}
	rc = check_served(dir, &last);
	util_rm_rf(dir);
	if (rc <= 0) {
		printf("FAIL: the flipped byte in a table file went unseen\n");
		return 1;
	}
	/* 2. The write-ahead log. */
	if (util_tmpdir(dir, "storcorrupt") == NULL || fill(dir, 0) != 0)
		return 2;
	if (!flip_in(dir, ".log")) {
		printf("FAIL: entry not found in the WAL\n");
		return 1;
	}
	rc = check_served(dir, &last);
	util_rm_rf(dir);
	/* Refused at open: recovering would silently drop entries after
	 * the damage, which were acknowledged. */
	if (rc != 1) {
		printf("FAIL: damaged WAL record not reported (log at %llu)\n",
		       (unsigned long long)last);
		return 1;
	}
	if (check_torn_tail(0) != 0 || check_torn_tail(1) != 0)
		return 1;
	printf("corrupt_test: all checks passed\n");
	return 0;
}
