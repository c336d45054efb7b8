/*
 * parse.c: a snapshot's Prometheus text, checked and indexed (cmetrics.h).
 *
 * Only the subset the node itself writes is accepted; anything else is
 * ERR_MALFORMED, so what the renderer passes on to Prometheus is valid
 * whatever a peer sent. Offsets, not pointers, index the text, so a
 * snapshot is one text block plus two arrays.
 */
#include "node/cmetrics/cmetrics.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/err.h"

struct parser {
	struct cm_snap *s;
	uint32_t cur; /* the open family + 1; 0: none */
	uint32_t fam_cap, smp_cap;
};

static int name_char(char ch, int first)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
	    ch == ':')
		return 1;
	return !first && ch >= '0' && ch <= '9';
}

/* Length of the metric (or label) name at p[0..n), 0 if none. */
static size_t name_len(const char *p, size_t n, int colon_ok)
{
	size_t i = 0;

	while (i < n && name_char(p[i], i == 0) && (colon_ok || p[i] != ':'))
		i++;
	return i;
}

/* A sample value: a float as %g writes it, or +Inf, -Inf, NaN. */
static int value_ok(const char *p, size_t n)
{
	if (n == 0 || n > 40)
		return 0;
	if ((n == 4 && (memcmp(p, "+Inf", 4) == 0 || memcmp(p, "-Inf", 4) == 0)) ||
	    (n == 3 && memcmp(p, "NaN", 3) == 0))
		return 1;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == 'e' ||
		      p[i] == 'E' || p[i] == '+' || p[i] == '-'))
			return 0;
	return 1;
}

/* The labels inside {}: `k="v",...` with \\, \" and \n escapes. Returns
 * the length up to (not including) the closing brace, or -1. Sets
 * *has_node when a label is named `node`. */
static long labels_len(const char *p, size_t n, int *has_node)
{
	size_t i = 0;

	*has_node = 0;
	while (i < n && p[i] != '}') {
		size_t k = name_len(p + i, n - i, 0);

		if (k == 0 || i + k + 1 >= n || p[i + k] != '=' || p[i + k + 1] != '"')
			return -1;
		if (k == 4 && memcmp(p + i, "node", 4) == 0)
			*has_node = 1;
		i += k + 2;
		while (i < n && p[i] != '"') {
			if (p[i] == '\\') {
				if (i + 1 >= n || (p[i + 1] != '\\' && p[i + 1] != '"' &&
						   p[i + 1] != 'n'))
					return -1;
				i++;
			}
			i++;
		}
		if (i >= n)
			return -1;
		i++; /* the closing quote */
		if (i < n && p[i] == ',')
			i++;
	}
	return i < n ? (long)i : -1;
}

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem,
		uint32_t max)
{
	uint32_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	if (need > max)
		return ERR_TOOBIG;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap > max)
		ncap = max;
	p = realloc(*arr, (size_t)ncap * elem);
	if (p == NULL)
		return ERR_NOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int open_family(struct parser *ps, uint32_t off, size_t len)
{
	struct cm_snap *s = ps->s;
	struct cm_family *f;
	int rv = grow((void **)&s->fam, &ps->fam_cap, s->nfam + 1, sizeof(*f),
		      CM_FAMILIES_MAX);

	if (rv != 0)
		return rv;
	f = &s->fam[s->nfam++];
	memset(f, 0, sizeof(*f));
	f->name_off = off;
	f->name_len = (uint16_t)len;
	f->first = s->nsmp;
	ps->cur = s->nfam;
	return 0;
}

static const struct cm_family *cur_family(const struct parser *ps)
{
	return ps->cur ? &ps->s->fam[ps->cur - 1] : NULL;
}

static int same_name(const struct cm_snap *s, const struct cm_family *f,
		     const char *p, size_t n)
{
	return f && f->name_len == n && memcmp(s->text + f->name_off, p, n) == 0;
}

/* `# HELP name text` or `# TYPE name type`: opens the family, or adds to
 * the open one of that name. */
static int parse_meta(struct parser *ps, uint32_t off, size_t n)
{
	struct cm_snap *s = ps->s;
	const char *p = s->text + off;
	int help;
	size_t k;
	struct cm_family *f;
	int rv;

	if (n < 7 || (memcmp(p, "# HELP ", 7) != 0 && memcmp(p, "# TYPE ", 7) != 0))
		return 0; /* another comment */
	help = p[2] == 'H';
	k = name_len(p + 7, n - 7, 1);
	if (k == 0 || k > CM_NAME_MAX || (7 + k < n && p[7 + k] != ' '))
		return ERR_MALFORMED;
	if (!same_name(s, cur_family(ps), p + 7, k) ||
	    s->fam[ps->cur - 1].n > 0) {
		rv = open_family(ps, off + 7, k);
		if (rv != 0)
			return rv;
	}
	f = &s->fam[ps->cur - 1];
	off += (uint32_t)(7 + k + (7 + k < n));
	n = 7 + k < n ? n - 8 - k : 0;
	if (help) {
		if (n > CM_HELP_MAX || memchr(s->text + off, '\\', n) != NULL)
			return n > CM_HELP_MAX ? ERR_TOOBIG : ERR_MALFORMED;
		f->help_off = off;
		f->help_len = (uint16_t)n;
		return 0;
	}
	if (!((n == 7 && memcmp(s->text + off, "counter", 7) == 0) ||
	      (n == 5 && memcmp(s->text + off, "gauge", 5) == 0) ||
	      (n == 9 && memcmp(s->text + off, "histogram", 9) == 0) ||
	      (n == 7 && memcmp(s->text + off, "summary", 7) == 0) ||
	      (n == 7 && memcmp(s->text + off, "untyped", 7) == 0)))
		return ERR_MALFORMED;
	f->type_off = off;
	f->type_len = (uint16_t)n;
	return 0;
}

/* Whether a sample named p[0..n) belongs to family f. */
static int belongs(const struct cm_snap *s, const struct cm_family *f,
		   const char *p, size_t n)
{
	static const char *const sfx[] = {"_bucket", "_sum", "_count"};

	if (f == NULL)
		return 0;
	if (same_name(s, f, p, n))
		return 1;
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(sfx[i]);

		if (n == f->name_len + l && memcmp(p, s->text + f->name_off,
						   f->name_len) == 0 &&
		    memcmp(p + f->name_len, sfx[i], l) == 0)
			return 1;
	}
	return 0;
}

static int parse_sample(struct parser *ps, uint32_t off, size_t n)
{
	struct cm_snap *s = ps->s;
	const char *p = s->text + off;
	size_t k = name_len(p, n, 1), i = k;
	struct cm_sample *m;
	long ll = 0;
	int has_node = 0, rv;

	if (k == 0 || k > CM_NAME_MAX)
		return ERR_MALFORMED;
	if (i < n && p[i] == '{') {
		ll = labels_len(p + i + 1, n - i - 1, &has_node);
		if (ll < 0 || ll > CM_LABELS_MAX)
			return ll < 0 ? ERR_MALFORMED : ERR_TOOBIG;
		i += (size_t)ll + 2;
	}
	if (i >= n || p[i] != ' ' || !value_ok(p + i + 1, n - i - 1))
		return ERR_MALFORMED;
	if (has_node) {
		s->dropped++;
		return 0;
	}
	if (!belongs(s, cur_family(ps), p, k)) {
		rv = open_family(ps, off, k);
		if (rv != 0)
			return rv;
	}
	rv = grow((void **)&s->smp, &ps->smp_cap, s->nsmp + 1, sizeof(*m),
		  CM_SAMPLES_MAX);
	if (rv != 0)
		return rv;
	m = &s->smp[s->nsmp++];
	m->name_off = off;
	m->name_len = (uint16_t)k;
	m->labels_off = off + (uint32_t)k + 1;
	m->labels_len = (uint16_t)ll;
	m->value_off = off + (uint32_t)i + 1;
	m->value_len = (uint8_t)(n - i - 1);
	s->fam[ps->cur - 1].n++;
	ASSERT(s->fam[ps->cur - 1].first + s->fam[ps->cur - 1].n == s->nsmp);
	return 0;
}

static int parse_lines(struct parser *ps, uint32_t *bad_line)
{
	struct cm_snap *s = ps->s;
	size_t off = 0;
	uint32_t line = 0;
	int rv = 0;

	while (off < s->len && rv == 0) {
		const char *nl = memchr(s->text + off, '\n', s->len - off);
		size_t n = nl ? (size_t)(nl - (s->text + off)) : s->len - off;

		line++;
		if (n > 0 && s->text[off] == '#')
			rv = parse_meta(ps, (uint32_t)off, n);
		else if (n > 0)
			rv = parse_sample(ps, (uint32_t)off, n);
		off += n + 1;
	}
	if (rv != 0 && bad_line)
		*bad_line = line;
	return rv;
}

int cm_snap_parse(const char *text, size_t len, struct cm_snap **out,
		  uint32_t *bad_line)
{
	struct parser ps = {0};
	struct cm_snap *s;
	int rv;

	*out = NULL;
	if (len > CM_TEXT_MAX)
		return ERR_TOOBIG;
	if (memchr(text, '\0', len) != NULL || memchr(text, '\r', len) != NULL)
		return ERR_MALFORMED;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ERR_NOMEM;
	s->text = malloc(len + 1);
	if (s->text == NULL) {
		free(s);
		return ERR_NOMEM;
	}
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	s->len = len;
	ps.s = s;
	rv = parse_lines(&ps, bad_line);
	if (rv != 0) {
		cm_snap_free(s);
		return rv;
	}
	*out = s;
	return 0;
}

void cm_snap_free(struct cm_snap *s)
{
	if (s == NULL)
		return;
	free(s->text);
	free(s->fam);
	free(s->smp);
	free(s);
}
