/*
 * config.h: the node's configuration.
 *
 * Sources, later overriding earlier: built-in defaults, `clusterd.json` in
 * the data directory, command-line flags. Unknown keys and ill-typed
 * values are errors naming the key, so a typo never silently falls back
 * to a default.
 */
#ifndef CLUSTERD_NODE_CONFIG_H
#define CLUSTERD_NODE_CONFIG_H

#include <stddef.h>

#define NODE_PATH_MAX 1024
#define NODE_ADDR_MAX 128
#define NODE_NAME_MAX 64
#define NODE_ERRMSG_MAX 512

/* The default HTTP listen address (docs/design.md: port 8081). Loopback until
 * API tokens exist, so a fresh node exposes nothing to the network. */
#define NODE_HTTP_DEFAULT "127.0.0.1:8081"
/* The default cluster address (docs/design.md: port 7946, TCP and UDP). Every
 * interface, since the other machines must reach it; the transport lets
 * in only members (docs/design.md, Security). */
#define NODE_BIND_DEFAULT "0.0.0.0:7946"

struct node_config {
	char data_dir[NODE_PATH_MAX];
	char http_addr[NODE_ADDR_MAX]; /* "HOST:PORT", numeric host */
	char node_name[NODE_NAME_MAX];
	char bind_addr[NODE_ADDR_MAX];      /* cluster port, TCP and UDP */
	char advertise_addr[NODE_ADDR_MAX]; /* what peers dial; "" derives it
					     * from bind_addr */
	int log_level; /* enum trace_level */
	/* Instances (issue 12): the Factorio install this node runs ("": none
	 * configured; instances assigned here then report so), where the
	 * instances' folders go ("": DATA_DIR/instances), and the ports the
	 * node allocates game and RCON ports from ("LO-HI"). */
	char factorio_dir[NODE_PATH_MAX];
	char instances_dir[NODE_PATH_MAX];
	unsigned instance_port_lo, instance_port_hi;
	/* The Lua modules patched into saves (issue 12): "" is the install's
	 * <bin>/../share/clusterd/lua. */
	char lua_dir[NODE_PATH_MAX];
	/* "cluster_metrics": "off" keeps this node out of the cluster-wide
	 * /metrics (no version in gossip, no pulls); "on" is the default. */
	int cluster_metrics_off;
};

/* The default instance port range: 100 ports, 50 instances. Factorio's own
 * default game port is 34197; this range sits just below it. */
#define NODE_INSTANCE_PORTS_DEFAULT "34100-34199"


/* Flags given on the command line; NULL means "not given". Borrowed. */
struct node_flags {
	const char *data_dir;
	const char *http_addr;
	const char *node_name;
	const char *bind_addr;
	const char *advertise_addr;
	const char *log_level;
};

/* Fills cfg from defaults, <data_dir>/clusterd.json (if present) and
 * flags. On error returns ERR_CONFIG (ERR_IO if the file cannot be read,
 * ERR_NOMEM) and writes a one-line message naming the problem into errmsg:
 * the file is a directory or a dangling symlink, is empty, is invalid
 * JSON (with line and column), gives a key twice, an unknown key, an
 * ill-typed or too long value (with the flag or key and the limit). */
int node_config_load(struct node_config *cfg, const struct node_flags *flags,
		     char *errmsg, size_t errmsg_size);

/* Writes cfg's node name, addresses and log level to
 * <data_dir>/clusterd.json (atomically), unless that file exists: the
 * flags of a node's first start (or of `clusterd init`) are remembered,
 * so `clusterd run --data-dir DIR` starts it the same way again. Returns
 * 0, 1 when the file existed (nothing written), or ERR_IO with errmsg. */
int node_config_remember(const struct node_config *cfg, char *errmsg,
			 size_t errmsg_size);

/* What a node name may be: it appears in logs, metrics labels and URLs,
 * so it holds nothing that needs quoting there. */
#define NODE_NAME_RULE \
	"use 1 to 63 ASCII letters, digits, '.', '-' or '_', starting with a letter or digit"

/* 0 if name is a valid node name; else ERR_CONFIG with errmsg saying which
 * character (by position and code, never echoed raw) or length is wrong. */
int node_name_check(const char *name, char *errmsg, size_t errmsg_size);

/* Parses "HOST:PORT" or "[V6]:PORT" with a numeric host into a socket
 * address (struct sockaddr_storage). ERR_CONFIG if malformed. */
struct sockaddr_storage;
int node_parse_addr(const char *s, struct sockaddr_storage *out);

#endif
