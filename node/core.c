/*
 * core.c: the token format of node/core.h ("ID.SECRET", only a hash of the
 * SECRET stored) and small helpers of the core interface. The checks run
 * in constant time over the hash, so a timing probe learns nothing about
 * a stored hash from how fast a wrong token is refused.
 */
#include "node/core.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/assert.h"
#include "base/err.h"

#define SECRET_BYTES 32
#define ID_BYTES (CORE_TOKEN_ID_LEN / 2)

void core_kv_keys_free(struct core_kv_key *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].key);
	free(v);
}

void core_token_hash(const char *secret, size_t len,
		     uint8_t hash[CORE_HASH_LEN])
{
	crypto_generichash(hash, CORE_HASH_LEN, (const unsigned char *)secret,
			   len, NULL, 0);
}

void core_token_new(struct core_token *t, char *str)
{
	unsigned char id[ID_BYTES], secret[SECRET_BYTES];
	char *s;

	ASSERT(sodium_init() >= 0);
	randombytes_buf(id, sizeof(id));
	randombytes_buf(secret, sizeof(secret));
	sodium_bin2hex(t->id, sizeof(t->id), id, sizeof(id));
	memcpy(str, t->id, CORE_TOKEN_ID_LEN);
	str[CORE_TOKEN_ID_LEN] = '.';
	s = str + CORE_TOKEN_ID_LEN + 1;
	sodium_bin2base64(s, CORE_TOKEN_SECRET_LEN + 1, secret, sizeof(secret),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	ASSERT(strlen(s) == CORE_TOKEN_SECRET_LEN);
	core_token_hash(s, CORE_TOKEN_SECRET_LEN, t->hash);
	sodium_memzero(secret, sizeof(secret));
}

static int is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int core_token_parse(const char *str, size_t len,
		     char id[CORE_TOKEN_ID_LEN + 1],
		     uint8_t hash[CORE_HASH_LEN])
{
	const char *secret = str + CORE_TOKEN_ID_LEN + 1;

	if (str == NULL || len != CORE_TOKEN_STR_LEN ||
	    str[CORE_TOKEN_ID_LEN] != '.')
		return ERR_MALFORMED;
	for (size_t i = 0; i < CORE_TOKEN_ID_LEN; i++)
		if (!((str[i] >= '0' && str[i] <= '9') ||
		      (str[i] >= 'a' && str[i] <= 'f')))
			return ERR_MALFORMED;
	for (size_t i = 0; i < CORE_TOKEN_SECRET_LEN; i++)
		if (!is_b64url(secret[i]))
			return ERR_MALFORMED;
	memcpy(id, str, CORE_TOKEN_ID_LEN);
	id[CORE_TOKEN_ID_LEN] = '\0';
	core_token_hash(secret, CORE_TOKEN_SECRET_LEN, hash);
	return 0;
}

int core_token_live(const struct core_token *t, uint64_t now_ms)
{
	return !t->revoked && (t->expires_ms == 0 || now_ms < t->expires_ms);
}

int core_token_ok(const struct core_token *t, const uint8_t *hash,
		  uint64_t now_ms)
{
	/* Compare first, whatever the record says, so refusals of revoked
	 * and of wrong tokens take the same time. */
	int same = sodium_memcmp(t->hash, hash, CORE_HASH_LEN) == 0;

	return core_token_live(t, now_ms) && same;
}

void core_inst_password(char pw[CORE_INST_PW_LEN + 1])
{
	uint8_t raw[CORE_INST_PW_LEN / 2];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(pw, CORE_INST_PW_LEN + 1, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
}

int core_inst_name_ok(const char *s)
{
	size_t n = strnlen(s, CORE_INST_NAME_MAX + 1);

	if (n == 0 || n > CORE_INST_NAME_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-' && s[i] != '.')
			return 0;
	return 1;
}

int core_save_name_ok(const char *s)
{
	size_t n = strnlen(s, CORE_SAVE_NAME_MAX + 1);
	char base[CORE_SAVE_NAME_MAX + 1];

	if (n <= 4 || n > CORE_SAVE_NAME_MAX || strcmp(s + n - 4, ".zip") != 0)
		return 0;
	memcpy(base, s, n - 4);
	base[n - 4] = '\0';
	return core_inst_name_ok(base);
}

int core_upload_id_ok(const char *s)
{
	size_t n = strnlen(s, CORE_UPLOAD_ID_MAX + 1);

	if (n == 0 || n > CORE_UPLOAD_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	return 1;
}
