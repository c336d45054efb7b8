/*
 * standin_proc.h: runs tools/factorio-standin (or a real Factorio) as a
 * child process on a libuv loop for the RCON e2e tests and the RCON
 * benchmark: creates an instance folder with config.ini and a save, starts
 * the server with RCON on a given port, notices the "Starting RCON
 * interface at port N" line on stdout, kills it by PID.
 */
#ifndef CLUSTERD_TESTS_E2E_RCON_STANDIN_PROC_H
#define CLUSTERD_TESTS_E2E_RCON_STANDIN_PROC_H

#include <stdint.h>

#include <uv.h>

struct standin_proc {
	uv_loop_t *loop;
	uv_process_t proc;
	uv_pipe_t out;
	uv_timer_t tick;
	int running;     /* spawned and not yet exited */
	int rcon_ready;  /* the RCON line was seen */
	int open;        /* handles not yet closed */
	int64_t exit_status;
	int term_signal;
	char line[8192];
	size_t line_len;
	int echo;        /* copy the server's stdout to stderr */
};

/* Makes dir (an instance folder) with config.ini pointing at the install
 * that holds bin (…/bin/x64/factorio) and creates saves/test.zip with
 * --create. Returns 0 or -1 (after printing why). */
int standin_prepare(const char *bin, const char *dir);

/* Starts the server on the prepared folder. Returns 0 or a libuv code. */
int standin_start(struct standin_proc *s, uv_loop_t *loop, const char *bin,
		  const char *dir, uint16_t rcon_port, const char *password);

/* Runs the loop until the RCON line was seen or ms of loop time passed;
 * returns 1 when ready. */
int standin_wait_rcon(struct standin_proc *s, uint64_t ms);

/* Sends a signal to the server's PID. */
void standin_kill(struct standin_proc *s, int signum);

/* Runs the loop until the process has exited and its handles closed, at
 * most ms; returns 1 when it did. */
int standin_wait_exit(struct standin_proc *s, uint64_t ms);

/* A free TCP port on 127.0.0.1 (bound and released). */
uint16_t standin_free_port(void);

#endif
