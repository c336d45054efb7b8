/*
 * saves.h: the saves of the instances this node runs (issue 12), behind
 * core.h's save_* operations (see there for the contracts; the
 * functions below have the same ones, with the manager in place of the
 * core's context).
 *
 * Files live in <instances_dir>/<instance>/saves/. Every change is made
 * on a hidden work file (a name starting with '.') and renamed into
 * place, so a crash, a failed check or a killed game never leaves half
 * a save under a listed name:
 *   .upload-<id>-<save>   an upload in progress (parts append to it)
 *   .copy-<save>          a copy in progress (uv_fs_copyfile, off-loop)
 *   .create-<save>        the game's --create output
 * Work files untouched for SAVE_STALE_S (a crash, a client that gave up)
 * are removed by the next list of that instance.
 *
 * An upload part is written on libuv's thread pool (a write may wait
 * for the kernel's dirty-page throttling, the last part for fdatasync and
 * the zip check, none of which may stall the loop); the work file is
 * locked (flock) for it, so two parts of one upload never interleave. A
 * copy runs on the pool too, and so do the reads of a download: two
 * buffers of SAVE_READ_BUF, one lent out while the other is read.
 */
#ifndef CLUSTERD_NODE_INSTANCES_SAVES_H
#define CLUSTERD_NODE_INSTANCES_SAVES_H

#include <stddef.h>
#include <stdint.h>

#include "node/core.h"

struct inst_mgr;

/* One read of a download: 256 KiB, h2o's socket writes are of that
 * order, and it keeps a download at one buffer per client. */
#define SAVE_READ_BUF (256u * 1024)
/* A work file untouched for an hour is abandoned. */
#define SAVE_STALE_S 3600
/* Creations running at once on a node, and how long one may take. */
#define SAVE_CREATES_MAX 8
#define SAVE_CREATE_TIMEOUT_MS (10ull * 60 * 1000)

int inst_save_list(struct inst_mgr *m, const char *inst,
		   struct core_save *out, size_t max, size_t *n);
int inst_save_put(struct inst_mgr *m, const struct core_save_part *part,
		  core_save_put_cb cb, void *arg);
int inst_save_open(struct inst_mgr *m, const char *inst, const char *save,
		   void (*wake)(void *arg), void *arg,
		   struct core_save_rd **out, uint64_t *size);
int inst_save_read(struct core_save_rd *r, const uint8_t **p, size_t *len,
		   int *done);
void inst_save_close(struct core_save_rd *r);
int inst_save_rename(struct inst_mgr *m, const char *inst, const char *save,
		     const char *to);
int inst_save_delete(struct inst_mgr *m, const char *inst, const char *save);
int inst_save_copy(struct inst_mgr *m, const char *inst, const char *save,
		   const char *dst_inst, const char *to, core_done_cb cb,
		   void *arg);
int inst_save_create(struct inst_mgr *m, const struct core_save_create *c,
		     core_done_cb cb, void *arg);

/* 1 while a creation runs for instance id (its status is then
 * creating_save). */
int inst_save_creating(const struct inst_mgr *m, uint64_t id);
/* At the manager's stop: kills running creations (their callbacks get
 * ERR_SHUTDOWN); inst_save_idle says when their handles are closed. */
void inst_save_stop(struct inst_mgr *m);
int inst_save_idle(const struct inst_mgr *m);

/* Checks that path is a Factorio save zip: it opens with libzip's
 * consistency checks and holds a level.dat* or level-init.dat entry in
 * a root folder. 0, or ERR_MALFORMED with the reason in why. */
int inst_save_check_zip(const char *path, char *why, size_t why_size);

#endif
