/*
 * pull.h: core.h's http_pull / pull_head / pull_next / pull_close (see
 * there for the contract and pull.c for the design).
 */
#ifndef CLUSTERD_NODE_INSTANCES_PULL_H
#define CLUSTERD_NODE_INSTANCES_PULL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "node/core.h"

/* Downloads one process proxies at once; more answer ERR_AGAIN. Each
 * holds a thread and 1 MiB of buffers. */
#define INST_PULLS_MAX 16

/* auth and path are copied; wake(arg) runs on loop's thread. */
int inst_http_pull(uv_loop_t *loop, const char *http_addr, const char *path,
		   const char *auth, void (*wake)(void *arg), void *arg,
		   struct core_pull **out);
int inst_pull_head(struct core_pull *p, int *code, int64_t *length);
int inst_pull_next(struct core_pull *p, const uint8_t **data, size_t *len,
		   int *done);
void inst_pull_close(struct core_pull *p);
/* How many pulls are open now (tests, metrics). */
unsigned inst_pulls_running(void);

#endif
