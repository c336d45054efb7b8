/*
 * bytes.c: bounded cursors and buffers. See bytes.h.
 */
#include "base/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"

void put_u32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void put_u64le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void put_u64be(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[7 - i] = (uint8_t)(v >> (8 * i));
}

uint32_t get_u32le(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

uint64_t get_u64le(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint64_t get_u64be(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

int rcur_view(struct rcur *c, const uint8_t **out, size_t n)
{
	if (n > rcur_left(c))
		return ERR_MALFORMED;
	*out = c->p + c->off;
	c->off += n;
	return 0;
}

int rcur_copy(struct rcur *c, void *out, size_t n)
{
	const uint8_t *p;
	int rv = rcur_view(c, &p, n);

	if (rv == 0 && n > 0)
		memcpy(out, p, n);
	return rv;
}

int rcur_skip(struct rcur *c, size_t n)
{
	const uint8_t *p;

	return rcur_view(c, &p, n);
}

int rcur_u8(struct rcur *c, uint8_t *out)
{
	return rcur_copy(c, out, 1);
}

int rcur_u16le(struct rcur *c, uint16_t *out)
{
	const uint8_t *p;
	int rv = rcur_view(c, &p, 2);

	if (rv == 0)
		*out = (uint16_t)(p[0] | (p[1] << 8));
	return rv;
}

int rcur_u32le(struct rcur *c, uint32_t *out)
{
	const uint8_t *p;
	int rv = rcur_view(c, &p, 4);

	if (rv == 0)
		*out = get_u32le(p);
	return rv;
}

int rcur_i32le(struct rcur *c, int32_t *out)
{
	uint32_t v;
	int rv = rcur_u32le(c, &v);

	if (rv == 0)
		memcpy(out, &v, sizeof(v));
	return rv;
}

int rcur_u64le(struct rcur *c, uint64_t *out)
{
	const uint8_t *p;
	int rv = rcur_view(c, &p, 8);

	if (rv == 0)
		*out = get_u64le(p);
	return rv;
}

int rcur_u32be(struct rcur *c, uint32_t *out)
{
	const uint8_t *p;
	int rv = rcur_view(c, &p, 4);

	if (rv == 0)
		*out = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
		       ((uint32_t)p[2] << 8) | p[3];
	return rv;
}

int rcur_u64be(struct rcur *c, uint64_t *out)
{
	const uint8_t *p;
	int rv = rcur_view(c, &p, 8);

	if (rv == 0)
		*out = get_u64be(p);
	return rv;
}

void wbuf_init(struct wbuf *b, size_t limit)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit;
}

void wbuf_free(struct wbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void wbuf_reset(struct wbuf *b)
{
	b->len = 0;
}

int wbuf_reserve(struct wbuf *b, size_t n)
{
	size_t need, cap;
	uint8_t *p;

	if (n > b->limit - b->len)
		return ERR_TOOBIG;
	need = b->len + n;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->limit)
		cap = b->limit;
	p = realloc(b->p, cap);
	if (!p)
		return ERR_NOMEM;
	b->p = p;
	b->cap = cap;
	ASSERT(b->cap >= need);
	return 0;
}

int wbuf_put(struct wbuf *b, const void *p, size_t n)
{
	int rv;

	if (n == 0)
		return 0;
	rv = wbuf_reserve(b, n);
	if (rv)
		return rv;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int wbuf_u8(struct wbuf *b, uint8_t v)
{
	return wbuf_put(b, &v, 1);
}

int wbuf_u32le(struct wbuf *b, uint32_t v)
{
	uint8_t tmp[4];

	put_u32le(tmp, v);
	return wbuf_put(b, tmp, 4);
}

int wbuf_i32le(struct wbuf *b, int32_t v)
{
	uint32_t u;

	memcpy(&u, &v, sizeof(u));
	return wbuf_u32le(b, u);
}

int wbuf_u64le(struct wbuf *b, uint64_t v)
{
	uint8_t tmp[8];

	put_u64le(tmp, v);
	return wbuf_put(b, tmp, 8);
}

int wbuf_u32be(struct wbuf *b, uint32_t v)
{
	uint8_t tmp[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
			  (uint8_t)(v >> 8), (uint8_t)v};

	return wbuf_put(b, tmp, 4);
}

int wbuf_u64be(struct wbuf *b, uint64_t v)
{
	uint8_t tmp[8];

	put_u64be(tmp, v);
	return wbuf_put(b, tmp, 8);
}

int wbuf_vprintf(struct wbuf *b, const char *fmt, va_list ap)
{
	va_list again;
	size_t room = b->cap - b->len;
	int n, rv;

	va_copy(again, ap);
	n = vsnprintf(room ? (char *)b->p + b->len : NULL, room, fmt, ap);
	if (n >= 0 && (size_t)n >= room) {
		/* Too long for the space left: make room for the text and
		 * vsnprintf's NUL, then format again. */
		rv = wbuf_reserve(b, (size_t)n + 1);
		if (rv == ERR_TOOBIG && (size_t)n <= b->limit - b->len)
			rv = wbuf_reserve(b, (size_t)n); /* NUL won't fit */
		if (rv) {
			va_end(again);
			return rv;
		}
		room = b->cap - b->len;
		if ((size_t)n < room) {
			n = vsnprintf((char *)b->p + b->len, room, fmt, again);
		} else {
			/* Exactly at the limit: format into a scratch copy. */
			char *tmp = malloc((size_t)n + 1);

			if (!tmp) {
				va_end(again);
				return ERR_NOMEM;
			}
			vsnprintf(tmp, (size_t)n + 1, fmt, again);
			memcpy(b->p + b->len, tmp, (size_t)n);
			free(tmp);
		}
	}
	va_end(again);
	if (n < 0)
		return ERR_INVAL;
	b->len += (size_t)n;
	return 0;
}

int wbuf_printf(struct wbuf *b, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = wbuf_vprintf(b, fmt, ap);
	va_end(ap);
	return rv;
}

uint8_t *wbuf_take(struct wbuf *b, size_t *len)
{
	uint8_t *p = b->p;

	*len = b->len;
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

/* Table-driven CRC-32C, reflected polynomial 0x82F63B78. The table is a
 * constant (generated once, checked by the RFC 3720 vectors in the unit
 * test) so it is safe to use from any thread with no initialisation. */
static const uint32_t crc_table[256] = {
	0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u,
	0xc79a971fu, 0x35f1141cu, 0x26a1e7e8u, 0xd4ca64ebu,
	0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
	0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u,
	0x105ec76fu, 0xe235446cu, 0xf165b798u, 0x030e349bu,
	0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
	0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u,
	0x5d1d08bfu, 0xaf768bbcu, 0xbc267848u, 0x4e4dfb4bu,
	0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
	0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u,
	0xaa64d611u, 0x580f5512u, 0x4b5fa6e6u, 0xb93425e5u,
	0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
	0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u,
	0xf779deaeu, 0x05125dadu, 0x1642ae59u, 0xe4292d5au,
	0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
	0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u,
	0x417b1dbcu, 0xb3109ebfu, 0xa0406d4bu, 0x522bee48u,
	0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
	0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u,
	0x0c38d26cu, 0xfe53516fu, 0xed03a29bu, 0x1f682198u,
	0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
	0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u,
	0xdbfc821cu, 0x2997011fu, 0x3ac7f2ebu, 0xc8ac71e8u,
	0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
	0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u,
	0xa65c047du, 0x5437877eu, 0x4767748au, 0xb50cf789u,
	0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
	0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u,
	0x7198540du, 0x83f3d70eu, 0x90a324fau, 0x62c8a7f9u,
	0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
	0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u,
	0x3cdb9bddu, 0xceb018deu, 0xdde0eb2au, 0x2f8b6829u,
	0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
	0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u,
	0x082f63b7u, 0xfa44e0b4u, 0xe9141340u, 0x1b7f9043u,
	0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
	0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u,
	0x55326b08u, 0xa759e80bu, 0xb4091bffu, 0x466298fcu,
	0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
	0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u,
	0xa24bb5a6u, 0x502036a5u, 0x4370c551u, 0xb11b4652u,
	0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
	0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du,
	0xef087a76u, 0x1d63f975u, 0x0e330a81u, 0xfc588982u,
	0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
	0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u,
	0x38cc2a06u, 0xcaa7a905u, 0xd9f75af1u, 0x2b9cd9f2u,
	0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
	0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u,
	0x0417b1dbu, 0xf67c32d8u, 0xe52cc12cu, 0x1747422fu,
	0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
	0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u,
	0xd3d3e1abu, 0x21b862a8u, 0x32e8915cu, 0xc083125fu,
	0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
	0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u,
	0x9e902e7bu, 0x6cfbad78u, 0x7fab5e8cu, 0x8dc0dd8fu,
	0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
	0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u,
	0x69e9f0d5u, 0x9b8273d6u, 0x88d28022u, 0x7ab90321u,
	0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
	0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u,
	0x34f4f86au, 0xc69f7b69u, 0xd5cf889du, 0x27a40b9eu,
	0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
	0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

uint32_t crc32c_portable(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	crc = ~crc;
	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

/* SSE4.2's crc32 instruction computes exactly this polynomial (it was
 * added for iSCSI, which uses CRC-32C): 8 bytes per instruction instead of
 * a table lookup per byte. Every log entry is summed on write and on every
 * read, so this is on the append path (docs/decisions.md, "CRC-32C in
 * hardware"). */
__attribute__((target("sse4.2"))) static uint32_t
crc32c_sse42(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t c = (uint32_t)~crc;

	for (; n > 0 && ((uintptr_t)b & 7) != 0; n--)
		c = _mm_crc32_u8((uint32_t)c, *b++);
	for (; n >= 8; n -= 8, b += 8) {
		uint64_t v;

		memcpy(&v, b, 8);
		c = _mm_crc32_u64(c, v);
	}
	for (; n > 0; n--)
		c = _mm_crc32_u8((uint32_t)c, *b++);
	return ~(uint32_t)c;
}

int crc32c_hw(void)
{
	return __builtin_cpu_supports("sse4.2");
}

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
	if (__builtin_cpu_supports("sse4.2"))
		return crc32c_sse42(crc, p, n);
	return crc32c_portable(crc, p, n);
}
#else
int crc32c_hw(void)
{
	return 0;
}

uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
	return crc32c_portable(crc, p, n);
}
#endif
