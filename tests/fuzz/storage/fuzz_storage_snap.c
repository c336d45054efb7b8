/* Fuzz target: the snapshot chunk decoder of the receiving side. The
 * input is split into chunks at 0xff 0xfe markers and fed to an install;
 * hostile chunks must be rejected with an error, and an install that is
 * aborted must leave the old state in place. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "storage/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stor_snap_writer *w;
	struct stor_memdisk *disk;
	struct stor_options o;
	struct stor *s;
	uint64_t d0, d1, n0, n1;
	size_t start = 0;
	int rc = 0;

	ASSERT(stor_memdisk_new(NULL, NULL, &disk) == 0);
	stor_options_default(&o);
	o.mem = disk;
	ASSERT(stor_open(&o, &s) == 0);
	ASSERT(stor_state_digest(s, &d0, &n0) == 0);
	ASSERT(stor_snap_writer_open(s, &w) == 0);
	for (size_t i = 0; i <= size && rc == 0; i++) {
		if (i < size && !(i + 1 < size && data[i] == 0xff &&
				  data[i + 1] == 0xfe))
			continue;
		rc = stor_snap_writer_chunk(w, data + start, i - start);
		start = i + 2;
		i++;
	}
	if (rc == 0 && stor_snap_writer_finish(w) == 0) {
		ASSERT(stor_failed(s) == 0);
	} else {
		if (rc != 0)
			stor_snap_writer_abort(w);
		ASSERT(stor_state_digest(s, &d1, &n1) == 0);
		ASSERT(d0 == d1 && n0 == n1);
	}
	stor_close(s);
	stor_memdisk_free(disk);
	return 0;
}
