/*
 * server.h: the stand-in's event loop (libuv): the 60 Hz tick timer, the
 * RCON server, the game port, stdin console and signals.
 */
#ifndef CLUSTERD_STANDIN_SERVER_H
#define CLUSTERD_STANDIN_SERVER_H

#include <stdint.h>

#include "tools/factorio-standin/standin.h"

/* Body limit of one incoming RCON packet. Factorio took commands of
 * 13 kB and more (it crashed on them only up to 1.1.60), so
 * the bound is well above that; anything longer closes the connection. */
#define SG_RCON_BODY_MAX 65536
#define SG_RCON_CLIENTS_MAX 64
#define SG_RCON_PENDING_MAX 4096 /* queued commands per client */
#define SG_RCON_WRITE_QUEUE_MAX (64u << 20) /* unsent reply bytes */

struct sg_server_opts {
	int game_port;           /* UDP, 0 = none */
	int rcon_port;           /* 0 = no RCON */
	const char *rcon_password;
	const char *bind_address; /* default 0.0.0.0 for the game port */
};

/* Runs the started game until it quits; returns the process exit code.
 * g must have been started (sg_start); out.ctx must be the struct
 * sg_stdout passed around by main. */
int sg_server_run(struct sg_game *g, const struct sg_server_opts *o);

/* The stdout sink: line, uptime and date over a shared start time. */
struct sg_stdout {
	uint64_t start_ns;
};
void sg_stdout_line(void *ctx, const char *line);
double sg_stdout_uptime(void *ctx);
void sg_stdout_date(void *ctx, char out[32]);

#endif
