/*
 * err.h: the one error table of clusterd.
 *
 * Every fallible function returns 0 on success or a negative code. Codes
 * from libuv (negative errno values, all above -4096) pass through
 * unchanged, so our own codes live at -10000 and below and never collide
 * with them. err_name() and err_str() understand both kinds.
 */
#ifndef CLUSTERD_BASE_ERR_H
#define CLUSTERD_BASE_ERR_H

enum {
	ERR_OK = 0,
	ERR_NOMEM = -10000,  /* an allocation failed */
	ERR_IO = -10001,     /* a disk or OS operation failed */
	ERR_MALFORMED = -10002, /* input from outside violates its format */
	ERR_CORRUPT = -10003,   /* stored data fails its checksum */
	ERR_NOTLEADER = -10004, /* this raft node is not the leader */
	ERR_AGAIN = -10005,     /* a bound is reached; retry later */
	ERR_NOTFOUND = -10006,  /* no such key, member or object */
	ERR_INVAL = -10007,     /* an argument is invalid */
	ERR_TOOBIG = -10008,    /* a size exceeds its limit */
	ERR_EXISTS = -10009,    /* the object already exists */
	ERR_TIMEOUT = -10010,   /* the operation did not finish in time */
	ERR_SHUTDOWN = -10011,  /* the component is shutting down */
	ERR_NOSPACE = -10012,   /* the disk is full */
	ERR_BUSY = -10013,      /* the resource is held by someone else */
	ERR_CONFIG = -10014,    /* the configuration is invalid */
	ERR_PERM = -10015,      /* permission denied */
	ERR_VERSION = -10016,   /* an unsupported format or protocol version */
	ERR_CLOSED = -10017,    /* the connection or handle is closed */
	ERR_AUTH = -10018,      /* authentication failed */
	ERR_CONFLICT = -10019,  /* a compare-and-set or term check failed */
	ERR_CANCELED = -10020,  /* the operation was canceled */
	ERR_EXPIRED = -10021,   /* too old to answer: not applied now, and the
				   first attempt's outcome is forgotten */
	ERR_LAST_ = -10022,
};

/* Symbolic name of an error code ("ERR_MALFORMED", "ENOENT"). Never NULL;
 * the returned string is static. */
const char *err_name(int code);

/* Human-readable description of an error code. Never NULL; static, except
 * for errno codes, where it is strerror()'s text (valid until the next
 * call of strerror in this thread). */
const char *err_str(int code);

#endif
