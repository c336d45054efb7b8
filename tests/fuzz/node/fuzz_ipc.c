/* Fuzz target: an instance's stdout line as the node's IPC parser sees it
 * (node/instances/ipc.h): the line parser, then the payload's JSON and its
 * id, then the duplicate window fed with whatever id came out. Any input
 * must end in "not IPC", a parse, or ERR_MALFORMED, never a crash, and a
 * parse must point inside the line. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/assert.h"
#include "base/err.h"
#include "node/instances/ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ipc_window win;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct ipc_line l;
	uint64_t id;
	cJSON *j;
	int rv = ipc_parse_line(line, size, &l);

	ASSERT(rv == 0 || rv == 1 || rv == ERR_MALFORMED);
	if (rv != 0)
		return 0;
	ASSERT(l.payload >= line && l.payload + l.len == line + size);
	ASSERT(strlen(l.channel) >= 1 && strlen(l.channel) <= IPC_CHANNEL_MAX);
	if (l.kind == 'f') {
		ASSERT(ipc_file_name_ok(l.payload, l.len));
		ASSERT(memchr(l.payload, '/', l.len) == NULL);
		return 0;
	}
	ASSERT(l.kind == 'j');
	j = cJSON_ParseWithLength(l.payload, l.len);
	if (j != NULL && ipc_msg_id(j, &id) == 0) {
		ASSERT(id >= 1);
		if (ipc_window_get(&win, id) == IPC_NEW)
			(void)ipc_window_take(&win, id);
		(void)ipc_window_finish(&win, id, (int)(id & 1));
		ASSERT(win.nold <= IPC_OLD_INFLIGHT && win.nstale <= IPC_STALE_MAX);
		if ((id & 7) == 0)
			ipc_window_rewind(&win, id / 2 + 1);
	}
	cJSON_Delete(j);
	return 0;
}
