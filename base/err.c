/*
 * err.c: names and texts of the error table. The table is indexed by
 * -(code - ERR_NOMEM) so a lookup is constant time; errno codes (from libuv
 * or from libc calls in node/) fall through to strerror.
 */
#include "base/err.h"

#include <string.h>

struct err_entry {
	const char *name;
	const char *text;
};

static const struct err_entry table[] = {
	{"ERR_NOMEM", "out of memory"},
	{"ERR_IO", "input/output error"},
	{"ERR_MALFORMED", "malformed input"},
	{"ERR_CORRUPT", "stored data is corrupt"},
	{"ERR_NOTLEADER", "not the leader"},
	{"ERR_AGAIN", "resource temporarily unavailable, try again"},
	{"ERR_NOTFOUND", "not found"},
	{"ERR_INVAL", "invalid argument"},
	{"ERR_TOOBIG", "size limit exceeded"},
	{"ERR_EXISTS", "already exists"},
	{"ERR_TIMEOUT", "timed out"},
	{"ERR_SHUTDOWN", "shutting down"},
	{"ERR_NOSPACE", "no space left on device"},
	{"ERR_BUSY", "resource busy"},
	{"ERR_CONFIG", "invalid configuration"},
	{"ERR_PERM", "permission denied"},
	{"ERR_VERSION", "unsupported version"},
	{"ERR_CLOSED", "closed"},
	{"ERR_AUTH", "authentication failed"},
	{"ERR_CONFLICT", "conflict"},
	{"ERR_CANCELED", "canceled"},
	{"ERR_EXPIRED", "expired: not applied, earlier outcome unknown"},
};

_Static_assert(sizeof(table) / sizeof(table[0]) == (unsigned)(ERR_NOMEM - ERR_LAST_),
	       "error table and enum disagree");

static const struct err_entry *lookup(int code)
{
	if (code > ERR_NOMEM || code <= ERR_LAST_)
		return NULL;
	return &table[ERR_NOMEM - code];
}

/* A few errno names the node meets often; others print as "errno N". */
static const char *errno_name(int e)
{
	switch (e) {
	case 1: return "EPERM";
	case 2: return "ENOENT";
	case 4: return "EINTR";
	case 5: return "EIO";
	case 9: return "EBADF";
	case 11: return "EAGAIN";
	case 12: return "ENOMEM";
	case 13: return "EACCES";
	case 17: return "EEXIST";
	case 20: return "ENOTDIR";
	case 21: return "EISDIR";
	case 22: return "EINVAL";
	case 24: return "EMFILE";
	case 28: return "ENOSPC";
	case 30: return "EROFS";
	case 32: return "EPIPE";
	case 98: return "EADDRINUSE";
	case 99: return "EADDRNOTAVAIL";
	case 104: return "ECONNRESET";
	case 110: return "ETIMEDOUT";
	case 111: return "ECONNREFUSED";
	case 125: return "ECANCELED";
	default: return "ERRNO";
	}
}

const char *err_name(int code)
{
	const struct err_entry *e;

	if (code == 0)
		return "OK";
	e = lookup(code);
	if (e)
		return e->name;
	if (code < 0 && code > -4096)
		return errno_name(-code);
	return "ERR_UNKNOWN";
}

const char *err_str(int code)
{
	const struct err_entry *e;

	if (code == 0)
		return "success";
	e = lookup(code);
	if (e)
		return e->text;
	if (code < 0 && code > -4096)
		return strerror(-code);
	return "unknown error";
}
