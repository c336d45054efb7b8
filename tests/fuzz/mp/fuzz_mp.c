/* Fuzz target: the bounded msgpack parser and its typed getters. */
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/mp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_doc doc;
	const msgpack_object *o;
	uint32_t n;
	uint64_t u;

	if (mp_parse(&doc, data, size) != 0)
		return 0;
	/* Walk one level with the getters, as a decoder would. */
	if (mp_get_array(doc.root, &n) == 0) {
		for (uint32_t i = 0; i < n && i < 64; i++)
			if (mp_array_at(doc.root, i, &o) == 0)
				(void)mp_get_u64(o, &u);
	} else if (mp_get_map(doc.root, &n) == 0) {
		(void)mp_map_u64(doc.root, "v", &u);
	}
	mp_doc_free(&doc);
	return 0;
}
