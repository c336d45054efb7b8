/*
 * fake_factorio: the unit tests' fake RCON server behind Factorio's command
 * line, installed as <build>/tests/e2e/rcon/fake-install/bin/x64/factorio.
 * It lets the RCON e2e driver and benchmark be checked without the
 * stand-in (development aid; the registered e2e tests use the stand-in).
 * --create touches the save; --start-server prints the RCON line and
 * serves until killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "tests/unit/rcon/fake_server.h"

int main(int argc, char **argv)
{
	const char *pw = "", *create = NULL;
	uint16_t port = 0;
	uv_loop_t *loop = uv_default_loop();

	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--rcon-port") == 0)
			port = (uint16_t)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--rcon-password") == 0)
			pw = argv[i + 1];
		else if (strcmp(argv[i], "--create") == 0)
			create = argv[i + 1];
	}
	if (create != NULL) {
		FILE *f = fopen(create, "w");

		return f != NULL && fclose(f) == 0 ? 0 : 1;
	}
	if (fake_server_start(loop, port, pw) == NULL)
		return 1;
	printf("   0.100 Info RemoteCommandProcessor.cpp:131: Starting RCON interface at port %u\n",
	       port);
	fflush(stdout);
	return uv_run(loop, UV_RUN_DEFAULT);
}
