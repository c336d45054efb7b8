/*
 * saves_int.h: what the saves API's files share (saves.c: parsing,
 * dispatch and the operations that answer at once; saves_move.c:
 * downloads, local or pulled from the owner, and transfers that push a
 * save to another node). See saves.c for the routes.
 */
#ifndef CLUSTERD_NODE_API_SAVES_INT_H
#define CLUSTERD_NODE_API_SAVES_INT_H

#include "node/api/api_int.h"

#define SAVE_AUTH_MAX 256
#define SAVE_PATH_MAX 512
/* A forwarded creation waits for the game (core.h's save_create); a
 * forwarded transfer for every part of the save to cross. */
#define SAVE_CREATE_WAIT_MS (11ull * 60 * 1000)
#define SAVE_TRANSFER_WAIT_MS (60ull * 60 * 1000)
/* One part of an upload or a transfer may take this long to be stored:
 * the last one syncs the whole file to disk and checks it, which for a
 * save of a GiB on a slow disk takes tens of seconds. */
#define SAVE_PART_WAIT_MS (5ull * 60 * 1000)
/* An error answer relayed from the owner of a download. */
#define SAVE_ERR_BODY_MAX (16 * 1024)

enum act {
	ACT_LIST = 1,
	ACT_CREATE,
	ACT_UPLOAD,
	ACT_DOWNLOAD,
	ACT_RENAME,
	ACT_COPY,
	ACT_TRANSFER,
	ACT_DELETE,
};

/* One save request, from parsing to its answer. */
struct sop {
	struct api_op op;
	int act;
	int forwarded;
	char inst[CORE_INST_NAME_MAX + 1];
	char save[CORE_SAVE_NAME_MAX + 1];
	char to[CORE_SAVE_NAME_MAX + 1];
	char dst[CORE_INST_NAME_MAX + 1]; /* transfer target instance */
	int copy;                         /* transfer: keep the source */
	char method[8];
	char path[SAVE_PATH_MAX]; /* raw path and query, for a forward */
	char auth[SAVE_AUTH_MAX];
	uint8_t *body; /* the request body, kept for a forward */
	size_t body_len;
	/* upload */
	char upload[CORE_UPLOAD_ID_MAX + 1];
	uint64_t offset, total;
	int overwrite;
	/* create */
	int has_seed;
	uint64_t seed;
	char *map_gen, *map; /* JSON texts */
	struct core_instance rec; /* the instance, after the barrier */
	/* download (local read or remote pull) and transfer */
	struct core_save_rd *rd;
	struct core_pull *pull;
	struct http_stream *st;
	int streaming;
	int relaying; /* collecting the owner's error answer */
	int relay_code;
	uint64_t size, sent;
	uint8_t *part; /* a transfer's part: fill bytes read, and filling
			* while a read is awaited */
	size_t fill;
	int filling;
	char dst_addr[CORE_ADDR_MAX + 1];
	char dst_name[CORE_INST_NAME_MAX + 1];
};

/* Frees what o holds (not o, not its answer). */
void api_sop_free(struct sop *o);
/* Frees what o holds, sends its answer and frees o. */
void api_sop_finish(struct sop *o);
/* The answer for a save operation's error (why: a reason, or NULL). */
void api_save_error(struct http_reply *rep, int rc, const struct sop *o,
		    const char *why);
/* The API address of live member id into addr. */
int api_member_http(const struct core *c, uint64_t id, char *addr,
		    size_t size);
/* A core_done_cb: answers a rename, copy, delete, create or transfer
 * (and deletes the source of a transfer that moves). */
void api_save_done(void *arg, int status, const char *msg);

/* saves_move.c: each takes o over and answers it. */
void api_save_download(struct sop *o, struct http_reply *rep);
void api_save_pull_wake(void *arg);
void api_save_transfer(struct sop *o, struct http_reply *rep);

#endif
