/*
 * clusterd-rcon: send commands to a Factorio server (or the stand-in) over
 * RCON with clusterd's own client, and print the replies in order.
 *
 * Commands come from the command line, or one per line from standard input
 * when none are given. They are sent as one ordered stream (each waits for
 * the previous reply), as a person typing them would expect. The tool
 * hands the client one command at a time, the next when the previous is
 * answered, so a command's deadline starts when it goes on the wire: a
 * script of any length runs, at the game's pace of about 60 commands a
 * second, without later lines expiring while they wait their turn.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>

#include "base/err.h"
#include "rcon/client.h"

#define LINE_MAX_BYTES 10000
#define TIMEOUT_MAX_MS (24ull * 3600 * 1000)

static const char usage_text[] =
	"usage: clusterd-rcon --port PORT [--host HOST] [--password PW] [--timeout MS] [COMMAND...]\n"
	"\n"
	"Sends each COMMAND (e.g. \"/sc rcon.print(game.tick)\") to a Factorio server's\n"
	"RCON interface and prints each reply. With no COMMAND, reads commands from\n"
	"standard input, one per line. The password may also come from $RCON_PASSWORD.\n"
	"Commands run one after another, each sent when the previous one is answered;\n"
	"a command that gets no reply in time stops the run (the order is lost).\n"
	"\n"
	"  --host HOST      server name or IP address (default 127.0.0.1)\n"
	"  --port PORT      RCON port (required)\n"
	"  --password PW    RCON password\n"
	"  --timeout MS     how long each command may wait for its reply once sent,\n"
	"                   1 to 86400000 (default 10000)\n"
	"  --version        print the version and exit\n"
	"  --help           print this help and exit\n"
	"\n"
	"Exit status: 0 when every command was answered, 1 when a command failed or\n"
	"the server could not be reached, 2 on a usage error.\n";

struct run {
	struct rcon_client *client;
	char where[300];      /* "host:port" for messages */
	char *line;           /* stdin line buffer, or NULL for argv mode */
	char **argv;          /* remaining argv commands */
	int argc;
	uint64_t timeout_ms;
	enum rcon_state last; /* the state before a failure */
	int failed;           /* a command failed */
	int conn_failed;      /* the connection failed; already reported */
	unsigned skipped;     /* commands never sent because of that */
};

static int submit_next(struct run *r);

static void on_reply(void *ud, int status, const char *body, size_t len)
{
	struct run *r = ud;

	if (status) {
		r->failed = 1;
		if (r->conn_failed) {
			r->skipped++;
		} else if (status == ERR_TIMEOUT) {
			fprintf(stderr, "clusterd-rcon: no reply from %s within %llu ms\n",
				r->where, (unsigned long long)r->timeout_ms);
		} else {
			fprintf(stderr, "clusterd-rcon: command failed: %s\n",
				err_str(status));
		}
	} else {
		fwrite(body, 1, len, stdout);
		if (len == 0 || body[len - 1] != '\n')
			fputc('\n', stdout);
		fflush(stdout);
	}
	/* After a timeout the expired command may still run later, so the
	 * stream's order is gone: stop there. */
	if (r->failed || submit_next(r) != 1)
		rcon_client_close(r->client, NULL, NULL);
}

/* Says why the connection failed, by the state it failed in. */
static void on_state(void *ud, enum rcon_state state, int err)
{
	struct run *r = ud;

	if (state != RCON_STATE_FAILED) {
		r->last = state;
		return;
	}
	r->conn_failed = 1;
	if (err == ERR_AUTH)
		fprintf(stderr, "clusterd-rcon: wrong RCON password for %s\n", r->where);
	else if (err == UV_ECONNREFUSED)
		fprintf(stderr, "clusterd-rcon: cannot connect to %s: connection refused (nothing listens there: is the RCON port right?)\n",
			r->where);
	else if (r->last == RCON_STATE_AUTHING && (err == ERR_MALFORMED || err == ERR_CLOSED || err == UV_EOF || err == UV_ECONNRESET))
		fprintf(stderr, "clusterd-rcon: %s is not an RCON server: it answered the login with %s\n",
			r->where, err == ERR_MALFORMED ? "something that is not RCON" : "a closed connection");
	else if (err == ERR_TIMEOUT)
		fprintf(stderr, "clusterd-rcon: %s did not %s in time (is it an RCON server?)\n",
			r->where, r->last == RCON_STATE_AUTHING ? "answer the login" : "accept the connection");
	else
		fprintf(stderr, "clusterd-rcon: connection to %s failed: %s\n",
			r->where, err_str(err));
}

/* Submits the next command, from argv or stdin. Returns 1 if one was
 * submitted, 0 at the end of the input, or an error (reported). */
static int submit_next(struct run *r)
{
	const char *cmd = NULL;
	int rv;

	if (r->line) {
		while (fgets(r->line, LINE_MAX_BYTES + 2, stdin)) {
			r->line[strcspn(r->line, "\r\n")] = '\0';
			if (r->line[0] != '\0') {
				cmd = r->line;
				break;
			}
		}
	} else if (r->argc > 0) {
		cmd = r->argv[0];
		r->argv++;
		r->argc--;
	}
	if (!cmd)
		return 0;
	rv = rcon_client_command(r->client, cmd, strlen(cmd), RCON_CMD_ORDERED,
				 r->timeout_ms, on_reply, r);
	if (rv) {
		fprintf(stderr, "clusterd-rcon: cannot send \"%.60s\": %s\n", cmd,
			rv == ERR_TOOBIG ? "longer than the 10,000 bytes a command may have" : err_str(rv));
		r->failed = 1;
		return rv;
	}
	return 1;
}

/* Parses a whole decimal number in [min, max]; -1 if it is not one. */
static int parse_uint(const char *s, unsigned long long min,
		      unsigned long long max, unsigned long long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (*end || errno || *out < min || *out > max)
		return -1;
	return 0;
}

/* Resolves host (a name or an address) to a numeric address in buf. */
static int resolve(const char *host, char *buf, size_t size)
{
	struct addrinfo hints = {0}, *ai;
	int rv;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rv = getaddrinfo(host, NULL, &hints, &ai);
	if (rv) {
		fprintf(stderr, "clusterd-rcon: cannot resolve --host %s: %s\n", host,
			gai_strerror(rv));
		return -1;
	}
	rv = getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, (socklen_t)size, NULL,
			 0, NI_NUMERICHOST);
	freeaddrinfo(ai);
	if (rv) {
		fprintf(stderr, "clusterd-rcon: cannot resolve --host %s: %s\n", host,
			gai_strerror(rv));
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct rcon_client_config *cfg,
		      struct run *r)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'h'},
		{"port", required_argument, NULL, 'p'},
		{"password", required_argument, NULL, 'w'},
		{"timeout", required_argument, NULL, 't'},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, '?' + 256},
		{NULL, 0, NULL, 0},
	};
	unsigned long long port = 0, ms;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'h': cfg->host = optarg; break;
		case 'p':
			if (parse_uint(optarg, 1, 65535, &port)) {
				fprintf(stderr, "clusterd-rcon: --port must be a number from 1 to 65535 (got \"%s\")\n", optarg);
				return 2;
			}
			break;
		case 'w': cfg->password = optarg; break;
		case 't':
			if (parse_uint(optarg, 1, TIMEOUT_MAX_MS, &ms)) {
				fprintf(stderr, "clusterd-rcon: --timeout must be a number of milliseconds from 1 to %llu (got \"%s\")\n",
					TIMEOUT_MAX_MS, optarg);
				return 2;
			}
			r->timeout_ms = ms;
			break;
		case 'v': printf("clusterd-rcon %s\n", CLUSTERD_VERSION); return 0;
		case '?' + 256: fputs(usage_text, stdout); return 0;
		default:
			fprintf(stderr, "clusterd-rcon: unknown or incomplete option '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (port == 0) {
		fprintf(stderr, "clusterd-rcon: --port PORT (1-65535) is required\n");
		return 2;
	}
	cfg->port = (uint16_t)port;
	return -1;
}

int main(int argc, char **argv)
{
	struct rcon_client_config cfg = {0};
	struct run r = {0};
	char addr[NI_MAXHOST];
	uv_loop_t loop;
	int rv;

	cfg.host = "127.0.0.1";
	cfg.password = getenv("RCON_PASSWORD") ? getenv("RCON_PASSWORD") : "";
	r.timeout_ms = 10000;
	rv = parse_args(argc, argv, &cfg, &r);
	if (rv >= 0)
		return rv;
	if (resolve(cfg.host, addr, sizeof(addr)))
		return 1;
	snprintf(r.where, sizeof(r.where), "%s:%u", cfg.host, cfg.port);
	cfg.host = addr;
	cfg.no_reconnect = 1;
	cfg.timeout_ms = r.timeout_ms;
	cfg.on_state = on_state;
	cfg.state_ud = &r;
	r.argv = argv + optind;
	r.argc = argc - optind;
	if (r.argc == 0 && !(r.line = malloc(LINE_MAX_BYTES + 2))) {
		fprintf(stderr, "clusterd-rcon: out of memory\n");
		return 1;
	}
	uv_loop_init(&loop);
	rv = rcon_client_new(&r.client, &loop, &cfg);
	if (rv) {
		fprintf(stderr, "clusterd-rcon: %s\n", err_str(rv));
		goto out;
	}
	if (submit_next(&r) == 1)
		rcon_client_start(r.client);
	else
		rcon_client_close(r.client, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	r.skipped += r.line ? 0 : (unsigned)r.argc;
	if (r.skipped)
		fprintf(stderr, "clusterd-rcon: %u command%s not run\n", r.skipped,
			r.skipped == 1 ? "" : "s");
out:
	uv_loop_close(&loop);
	free(r.line);
	return rv || r.failed || r.conn_failed ? 1 : 0;
}
