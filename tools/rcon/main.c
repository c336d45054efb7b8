/*
 * clusterd-rcon: send commands to a Factorio server (or the stand-in) over
 * RCON with clusterd's own client, and print the replies in order.
 *
 * Commands come from the command line, or one per line from standard input
 * when none are given. They are sent as one ordered stream (each waits for
 * the previous reply), as a person typing them would expect.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "base/err.h"
#include "rcon/client.h"

#define LINE_MAX_BYTES 10000

static const char usage_text[] =
	"usage: clusterd-rcon --port PORT [--host IP] [--password PW] [--timeout MS] [COMMAND...]\n"
	"\n"
	"Sends each COMMAND (e.g. \"/sc rcon.print(game.tick)\") to a Factorio server's\n"
	"RCON interface and prints each reply. With no COMMAND, reads commands from\n"
	"standard input, one per line. The password may also come from $RCON_PASSWORD.\n"
	"\n"
	"  --host IP        server address (default 127.0.0.1)\n"
	"  --port PORT      RCON port (required)\n"
	"  --password PW    RCON password\n"
	"  --timeout MS     per-command deadline (default 10000)\n"
	"\n"
	"Exit status: 0 when every command was answered, 1 otherwise.\n";

struct run {
	struct rcon_client *client;
	unsigned pending;
	int failed;
	int auth_failed;
};

static void on_reply(void *ud, int status, const char *body, size_t len)
{
	struct run *r = ud;

	r->pending--;
	if (status) {
		fprintf(stderr, "clusterd-rcon: command failed: %s\n", err_str(status));
		r->failed = 1;
	} else {
		fwrite(body, 1, len, stdout);
		if (len == 0 || body[len - 1] != '\n')
			fputc('\n', stdout);
		fflush(stdout);
	}
	if (r->pending == 0)
		rcon_client_close(r->client, NULL, NULL);
}

static void on_state(void *ud, enum rcon_state state, int err)
{
	struct run *r = ud;

	if (state == RCON_STATE_FAILED) {
		fprintf(stderr, "clusterd-rcon: %s\n",
			err == ERR_AUTH ? "wrong RCON password" : err_str(err));
		r->auth_failed = 1;
	}
}

static int submit(struct run *r, const char *cmd, uint64_t timeout_ms)
{
	int rv = rcon_client_command(r->client, cmd, strlen(cmd), RCON_CMD_ORDERED,
				     timeout_ms, on_reply, r);

	if (rv) {
		fprintf(stderr, "clusterd-rcon: cannot send \"%.60s\": %s\n", cmd,
			err_str(rv));
		return rv;
	}
	r->pending++;
	return 0;
}

static int submit_stdin(struct run *r, uint64_t timeout_ms)
{
	char *line = malloc(LINE_MAX_BYTES + 2);
	int rv = 0;

	if (!line)
		return ERR_NOMEM;
	while (rv == 0 && fgets(line, LINE_MAX_BYTES + 2, stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '\0')
			rv = submit(r, line, timeout_ms);
	}
	free(line);
	return rv;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"password", required_argument, NULL, 'w'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, '?' + 256},
		{NULL, 0, NULL, 0},
	};
	struct rcon_client_config cfg = {0};
	struct run r = {0};
	uv_loop_t loop;
	long port = 0;
	uint64_t timeout_ms = 10000;
	int c, rv = 0;

	cfg.host = "127.0.0.1";
	cfg.password = getenv("RCON_PASSWORD") ? getenv("RCON_PASSWORD") : "";
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'h': cfg.host = optarg; break;
		case 'p': port = strtol(optarg, NULL, 10); break;
		case 'w': cfg.password = optarg; break;
		case 't': timeout_ms = strtoull(optarg, NULL, 10); break;
		case '?' + 256: fputs(usage_text, stdout); return 0;
		default:
			fprintf(stderr, "clusterd-rcon: unknown or incomplete option '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "clusterd-rcon: --port PORT (1-65535) is required\n");
		return 2;
	}
	cfg.port = (uint16_t)port;
	cfg.no_reconnect = 1;
	cfg.timeout_ms = timeout_ms;
	cfg.on_state = on_state;
	cfg.state_ud = &r;
	uv_loop_init(&loop);
	rv = rcon_client_new(&r.client, &loop, &cfg);
	if (rv) {
		fprintf(stderr, "clusterd-rcon: %s\n", err_str(rv));
		uv_loop_close(&loop);
		return 1;
	}
	for (int i = optind; i < argc && rv == 0; i++)
		rv = submit(&r, argv[i], timeout_ms);
	if (rv == 0 && optind == argc)
		rv = submit_stdin(&r, timeout_ms);
	if (rv || r.pending == 0)
		rcon_client_close(r.client, NULL, NULL);
	else
		rcon_client_start(r.client);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return rv || r.failed || r.auth_failed ? 1 : 0;
}
