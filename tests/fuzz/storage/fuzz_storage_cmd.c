/* Fuzz target: the state machine's command decoder (the envelope and the
 * bodies of the kv, revisioned kv, cluster, instances, session, users
 * and inventory domains),
 * then applying the
 * input as a committed entry to an in-memory store: whatever a log entry
 * holds, applying it must end in a result code, never a crash, and must
 * leave the store serving. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/assert.h"
#include "base/err.h"
#include "base/mp.h"
#include "storage/cdomain.h"
#include "storage/idomain.h"
#include "storage/invdomain.h"
#include "storage/ledger.h"
#include "storage/kvrev.h"
#include "storage/pdomain.h"
#include "storage/session.h"
#include "storage/storage.h"
#include "storage/udomain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct stor_memdisk *disk;
static struct stor *store;
static unsigned inputs;

static void reset_store(void)
{
	struct stor_options o;

	if (store != NULL) {
		stor_close(store);
		stor_memdisk_free(disk);
	}
	ASSERT(stor_memdisk_new(NULL, NULL, &disk) == 0);
	stor_options_default(&o);
	o.mem = disk;
	ASSERT(stor_open(&o, &store) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const msgpack_object *body;
	struct stor_entry e;
	struct mp_doc doc;
	uint8_t type;
	int res = 0;

	if (stor_cmd_decode(&doc, data, size, &type, &body) == 0) {
		if (type == STOR_DOMAIN_KV)
			(void)stor_kv_check(body);
		else if (type == STOR_DOMAIN_KVREV)
			(void)stor_kvr_check(body);
		else if (type == STOR_DOMAIN_CLUSTER)
			(void)stor_cl_check(body);
		else if (type == STOR_DOMAIN_INSTANCES)
			(void)stor_inst_check(body);
		else if (type == STOR_DOMAIN_INVENTORY)
			(void)stor_invd_check(body);
		else if (type == STOR_DOMAIN_SESSION)
			(void)stor_sess_check(body);
		else if (type == STOR_DOMAIN_USERS)
			(void)stor_user_check(body);
		else if (type == STOR_DOMAIN_PLAYERS)
			(void)stor_player_check(body);
		else if (type == STOR_DOMAIN_ITEMS)
			(void)stor_items_check(body);
		mp_doc_free(&doc);
	}
	/* A fresh store now and then keeps memory flat over long runs. */
	if (store == NULL || ++inputs % 4096 == 0)
		reset_store();
	e = (struct stor_entry){.index = stor_applied_index(store) + 1,
				.term = 1, .type = STOR_ENTRY_COMMAND,
				.data = (uint8_t *)data, .len = size};
	ASSERT(stor_apply(store, &e, 1, &res, 1) == 0);
	ASSERT(res <= 0);
	ASSERT(stor_failed(store) == 0);
	return 0;
}
