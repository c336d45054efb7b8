/*
 * keys.c: identity keys, the cluster secret and join tokens. See
 * transport.h for what the cluster domain stores and why the server can
 * derive a join PSK from a hash alone.
 *
 * Derivations use libsodium's crypto_kdf (BLAKE2b with an 8-byte context
 * and a subkey id), one context per purpose, so a leaked datagram key
 * says nothing of the handshake PSK or of the secret itself.
 */
#include "node/transport/transport.h"

#include <string.h>

#include <sodium.h>

#include "base/assert.h"
#include "base/err.h"

/* crypto_kdf contexts: exactly 8 characters each. */
#define KDF_CTX_CLUSTER "cldtpsk1"
#define KDF_CTX_UDP "cldtudp1"
#define KDF_CTX_JOIN "cldtjoin"

/* The label hashed in front of a token secret (tp_token_hash). */
static const char token_label[] = "clusterd join token v1";

static void ensure_sodium(void)
{
	/* Idempotent and thread-safe; returns -1 only when no entropy
	 * source exists, where no key may be made at all. */
	ASSERT(sodium_init() >= 0);
}

void tp_keypair(uint8_t pk[TP_KEY_LEN], uint8_t sk[TP_KEY_LEN])
{
	ensure_sodium();
	randombytes_buf(sk, TP_KEY_LEN);
	ASSERT(crypto_scalarmult_base(pk, sk) == 0);
}

void tp_public_key(const uint8_t sk[TP_KEY_LEN], uint8_t pk[TP_KEY_LEN])
{
	ensure_sodium();
	ASSERT(crypto_scalarmult_base(pk, sk) == 0);
}

void tp_secret_new(uint8_t secret[TP_KEY_LEN])
{
	ensure_sodium();
	randombytes_buf(secret, TP_KEY_LEN);
}

void tp_cluster_psk(const uint8_t secret[TP_KEY_LEN], uint8_t psk[TP_KEY_LEN])
{
	ensure_sodium();
	ASSERT(crypto_kdf_derive_from_key(psk, TP_KEY_LEN, 1, KDF_CTX_CLUSTER,
					  secret) == 0);
}

void tp_udp_key(const uint8_t secret[TP_KEY_LEN], uint8_t key[TP_KEY_LEN])
{
	ensure_sodium();
	ASSERT(crypto_kdf_derive_from_key(key, TP_KEY_LEN, 1, KDF_CTX_UDP,
					  secret) == 0);
}

void tp_key_to_hex(const uint8_t key[TP_KEY_LEN], char *out)
{
	sodium_bin2hex(out, TP_HEX_MAX, key, TP_KEY_LEN);
}

/* Exactly 2*n hex characters into n bytes; 0 or ERR_MALFORMED. */
static int hex_exact(const char *hex, size_t hex_len, uint8_t *out, size_t n)
{
	size_t got = 0;
	const char *end = NULL;

	if (hex_len != 2 * n)
		return ERR_MALFORMED;
	if (sodium_hex2bin(out, n, hex, hex_len, NULL, &got, &end) != 0 ||
	    got != n || end != hex + hex_len)
		return ERR_MALFORMED;
	return 0;
}

int tp_key_from_hex(const char *hex, uint8_t key[TP_KEY_LEN])
{
	return hex_exact(hex, strlen(hex), key, TP_KEY_LEN);
}

void tp_token_hash(const uint8_t secret[TP_KEY_LEN], uint8_t hash[TP_KEY_LEN])
{
	crypto_generichash_state st;

	ensure_sodium();
	crypto_generichash_init(&st, NULL, 0, TP_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)token_label,
				  sizeof(token_label) - 1);
	crypto_generichash_update(&st, secret, TP_KEY_LEN);
	crypto_generichash_final(&st, hash, TP_KEY_LEN);
}

void tp_token_psk(const char *id, const uint8_t hash[TP_KEY_LEN],
		  uint8_t psk[TP_KEY_LEN])
{
	uint8_t key[TP_KEY_LEN];
	size_t id_len = strlen(id);

	ensure_sodium();
	/* Bind the id into the key so two tokens never share a PSK even
	 * if their hashes were equal: key = BLAKE2b(key=hash, msg=id). */
	crypto_generichash(key, sizeof(key), (const uint8_t *)id, id_len, hash,
			   TP_KEY_LEN);
	ASSERT(crypto_kdf_derive_from_key(psk, TP_KEY_LEN, 1, KDF_CTX_JOIN,
					  key) == 0);
	sodium_memzero(key, sizeof(key));
}

void tp_token_new(char *str, char *id, uint8_t hash[TP_KEY_LEN])
{
	uint8_t raw_id[TP_TOKEN_ID_HEX / 2];
	uint8_t secret[TP_KEY_LEN];

	ensure_sodium();
	randombytes_buf(raw_id, sizeof(raw_id));
	randombytes_buf(secret, sizeof(secret));
	sodium_bin2hex(id, TP_TOKEN_ID_HEX + 1, raw_id, sizeof(raw_id));
	memcpy(str, id, TP_TOKEN_ID_HEX);
	str[TP_TOKEN_ID_HEX] = '.';
	sodium_bin2hex(str + TP_TOKEN_ID_HEX + 1, TP_TOKEN_SECRET_HEX + 1,
		       secret, sizeof(secret));
	tp_token_hash(secret, hash);
	sodium_memzero(secret, sizeof(secret));
}

int tp_token_parse(const char *str, char *id, uint8_t secret[TP_KEY_LEN])
{
	uint8_t raw_id[TP_TOKEN_ID_HEX / 2];
	size_t len = strnlen(str, TP_TOKEN_STR_MAX);

	if (len != TP_TOKEN_STR_MAX - 1 || str[TP_TOKEN_ID_HEX] != '.')
		return ERR_MALFORMED;
	if (hex_exact(str, TP_TOKEN_ID_HEX, raw_id, sizeof(raw_id)) != 0 ||
	    hex_exact(str + TP_TOKEN_ID_HEX + 1, TP_TOKEN_SECRET_HEX, secret,
		      TP_KEY_LEN) != 0)
		return ERR_MALFORMED;
	/* Re-encode so the id is always lower-case, as stored. */
	sodium_bin2hex(id, TP_TOKEN_ID_HEX + 1, raw_id, sizeof(raw_id));
	return 0;
}
