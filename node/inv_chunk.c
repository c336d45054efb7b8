/*
 * inv_chunk.c: download chunks of an inventory. See inv_chunk.h.
 */
#include "node/inv_chunk.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

size_t inv_chunk_cost(unsigned char c)
{
	/* JSON escapes '"' and '\\' as two characters, the Lua quoting
	 * (ipc.c) writes each of those and every byte outside printable
	 * ASCII as \ddd; a control character is \uXXXX in JSON first. */
	if (c == '"' || c == '\\')
		return 8;
	if (c < 0x20)
		return 9;
	return c >= 0x7f ? 4 : 1;
}

static int continuation(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

size_t inv_chunk_end(const char *s, size_t len, size_t off, size_t budget)
{
	size_t cost = 0, i = off;

	while (i < len && cost + inv_chunk_cost((unsigned char)s[i]) <= budget)
		cost += inv_chunk_cost((unsigned char)s[i++]);
	while (i < len && i > off && continuation((unsigned char)s[i]))
		i--;
	if (i > off)
		return i;
	/* Not even one character fits: take one whole character anyway. */
	i = off + 1;
	while (i < len && continuation((unsigned char)s[i]))
		i++;
	return i;
}

size_t inv_chunk_count(const char *s, size_t len, size_t budget)
{
	size_t n = 0;

	for (size_t off = 0; off < len; off = inv_chunk_end(s, len, off, budget))
		n++;
	return n;
}

char *inv_chunk_args(const char *player, uint64_t gen, uint64_t stored,
		     size_t seq, size_t n, const char *piece, size_t len)
{
	cJSON *a = cJSON_CreateObject();
	char *copy = malloc(len + 1), *text = NULL;

	if (a != NULL && copy != NULL) {
		memcpy(copy, piece, len);
		copy[len] = '\0';
		cJSON_AddStringToObject(a, "player", player);
		cJSON_AddNumberToObject(a, "gen", (double)gen);
		cJSON_AddNumberToObject(a, "stored", (double)stored);
		cJSON_AddNumberToObject(a, "seq", (double)seq);
		cJSON_AddNumberToObject(a, "n", (double)n);
		cJSON_AddStringToObject(a, "data", copy);
		text = cJSON_PrintUnformatted(a);
	}
	free(copy);
	cJSON_Delete(a);
	return text;
}
