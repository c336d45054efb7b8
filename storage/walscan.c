/*
 * walscan.c: a check of RocksDB's write-ahead log files before RocksDB
 * opens them (docs/decisions.md, "WAL recovery").
 *
 * Point-in-time recovery stops replaying at the first damaged record.
 * That is right for a torn tail (the write a power cut interrupted was
 * never acknowledged) and wrong for a record damaged in the middle:
 * everything after it, acknowledged and fsynced, would vanish without a
 * word. The two differ in one way: after a torn tail nothing intact
 * follows. So this scan walks each WAL with RocksDB's record format
 * (db/log_format.h: 32 KiB blocks; records of masked crc32c u32le |
 * length u16le | type u8 | payload, the checksum over type and payload)
 * and reports a damaged record that is followed by an intact one.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "base/bytes.h"
#include "base/err.h"
#include "storage/kv.h"

#define WAL_BLOCK 32768
#define WAL_HEADER 7
#define WAL_MASK_DELTA 0xa282ead8u

static uint32_t unmask(uint32_t m)
{
	uint32_t r = m - WAL_MASK_DELTA;

	return (r >> 17) | (r << 15);
}

struct scan {
	long bad_at; /* offset of the first damaged record, -1: none */
	long file_off;
};

/* Checks one block; returns 1 when an intact record follows damage. */
static int scan_block(struct scan *sc, const uint8_t *b, size_t len)
{
	size_t pos = 0;

	while (pos + WAL_HEADER <= len) {
		uint32_t crc = get_u32le(b + pos);
		size_t n = (size_t)b[pos + 4] | (size_t)b[pos + 5] << 8;
		uint8_t type = b[pos + 6];

		if (type == 0 && n == 0)
			return 0; /* zero fill: block trailer, preallocation */
		if (pos + WAL_HEADER + n > len) {
			if (sc->bad_at < 0)
				sc->bad_at = sc->file_off + (long)pos;
			return 0; /* the length cannot be trusted: next block */
		}
		if (unmask(crc) == crc32c(0, b + pos + 6, 1 + n)) {
			if (sc->bad_at >= 0 && n > 0)
				return 1;
		} else if (sc->bad_at < 0) {
			sc->bad_at = sc->file_off + (long)pos;
		}
		pos += WAL_HEADER + n;
	}
	return 0;
}

static int scan_file(const char *path, const char *name, char *err)
{
	static _Thread_local uint8_t block[WAL_BLOCK];
	struct scan sc = {.bad_at = -1};
	FILE *f = fopen(path, "rb");
	size_t got;
	int hit = 0;

	if (f == NULL)
		return 0; /* vanished or unreadable: RocksDB will say */
	while (!hit && (got = fread(block, 1, WAL_BLOCK, f)) > 0) {
		hit = scan_block(&sc, block, got);
		sc.file_off += (long)got;
	}
	fclose(f);
	if (!hit)
		return 0;
	snprintf(err, KV_ERRMSG_MAX,
		 "Corruption: write-ahead log %s is damaged at offset %ld with "
		 "intact records after it; recovering would silently drop "
		 "acknowledged writes, so the store refuses to open",
		 name, sc.bad_at);
	return ERR_CORRUPT;
}

int kv_wal_scan(const char *dir, char *err)
{
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (d == NULL)
		return 0; /* a new database */
	while (rc == 0 && (de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);

		if (nl < 5 || strcmp(de->d_name + nl - 4, ".log") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		rc = scan_file(path, de->d_name, err);
	}
	closedir(d);
	return rc;
}
