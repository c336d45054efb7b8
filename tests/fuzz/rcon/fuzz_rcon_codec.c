/* Fuzz target: the incremental RCON decoder. The input is split into
 * chunks whose sizes come from the input itself, so the fuzzer explores
 * packet boundaries that fall anywhere; each decoded packet is re-encoded
 * and must decode to the same packet (a roundtrip property). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"
#include "rcon/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const struct rcon_packet *pk)
{
	static uint8_t enc[4096 + 64];
	struct rcon_decoder d;
	struct rcon_packet again;
	size_t w = 0, used = 0;

	ASSERT(rcon_encode(enc, sizeof(enc), pk->id, pk->type, pk->body,
			   pk->body_len, &w) == 0);
	rcon_decoder_init(&d, 4096 + RCON_LEN_OVERHEAD);
	ASSERT(rcon_decoder_feed(&d, enc, w, &used, &again) == 1);
	ASSERT(used == w);
	ASSERT(again.id == pk->id && again.type == pk->type);
	ASSERT(again.body_len == pk->body_len);
	ASSERT(memcmp(again.body, pk->body, pk->body_len) == 0);
	rcon_decoder_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rcon_decoder d;
	struct rcon_packet pk;
	size_t off = 1, used = 0;
	size_t step;
	int rv = 0;

	if (size < 1)
		return 0;
	/* The first byte picks the chunk size: 1..256 bytes. */
	step = (size_t)data[0] + 1;
	rcon_decoder_init(&d, 4096 + RCON_LEN_OVERHEAD);
	while (off < size) {
		size_t chunk = size - off < step ? size - off : step;

		rv = rcon_decoder_feed(&d, data + off, chunk, &used, &pk);
		ASSERT(used <= chunk);
		if (rv < 0) {
			ASSERT(rv == ERR_MALFORMED);
			break;
		}
		off += used;
		if (rv == 1) {
			ASSERT(pk.body_len <= 4096);
			ASSERT(pk.body[pk.body_len] == 0);
			check_roundtrip(&pk);
		} else {
			ASSERT(used == chunk);
		}
	}
	rcon_decoder_free(&d);
	return 0;
}
