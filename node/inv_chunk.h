/*
 * inv_chunk.h: how inventory sync cuts a stored inventory's JSON into
 * download chunks (node/inventory.c calls them into the game). A chunk
 * travels as the "data" string of the JSON arguments of a call_json RCON
 * command (node/instances/ipc.h), so each byte costs what JSON escaping
 * and then Lua quoting make of it; chunks are cut at UTF-8 character
 * boundaries, so every piece is valid text on its own.
 */
#ifndef CLUSTERD_NODE_INV_CHUNK_H
#define CLUSTERD_NODE_INV_CHUNK_H

#include <stddef.h>
#include <stdint.h>

/* Characters byte c takes in the RCON command (at most 9). */
size_t inv_chunk_cost(unsigned char c);
/* The end of the chunk starting at off (< len): as many bytes as cost at
 * most budget (at least one byte, or one UTF-8 character), never ending
 * inside a UTF-8 sequence. */
size_t inv_chunk_end(const char *s, size_t len, size_t off, size_t budget);
size_t inv_chunk_count(const char *s, size_t len, size_t budget);
/* The arguments of the game's inventory_chunk as JSON text, the caller
 * frees it (NULL: out of memory). piece[0..len) is copied. */
char *inv_chunk_args(const char *player, uint64_t gen, uint64_t stored,
		     size_t seq, size_t n, const char *piece, size_t len);

#endif
