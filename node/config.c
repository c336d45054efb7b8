/*
 * config.c: loading clusterd.json and merging command-line flags.
 */
#include "node/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "base/err.h"
#include "base/trace.h"

/* A configuration file larger than this is certainly not ours. */
#define CONFIG_FILE_MAX (1024 * 1024)

static const char *const known_keys[] = {
	"http", "node_name", "log_level", "bind", "advertise", "factorio_dir",
	"instances_dir", "instance_ports", "lua_dir",
	"cluster_metrics"};

/* Parses "LO-HI" (1 <= LO < HI <= 65535); ERR_CONFIG otherwise. */
static int parse_ports(const char *v, unsigned *lo, unsigned *hi)
{
	unsigned long a, b;
	char *end;

	if (!isdigit((unsigned char)v[0]))
		return ERR_CONFIG;
	a = strtoul(v, &end, 10);
	if (*end != '-' || !isdigit((unsigned char)end[1]))
		return ERR_CONFIG;
	b = strtoul(end + 1, &end, 10);
	if (*end != '\0' || a < 1 || b > 65535 || a >= b)
		return ERR_CONFIG;
	*lo = (unsigned)a;
	*hi = (unsigned)b;
	return 0;
}

static int copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return ERR_TOOBIG;
	memcpy(dst, src, n + 1);
	return 0;
}

int node_parse_addr(const char *s, struct sockaddr_storage *out)
{
	char host[NODE_ADDR_MAX];
	const char *colon, *port_s;
	char *end;
	long port;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return ERR_CONFIG;
		hlen = (size_t)(close - s - 1);
		if (hlen >= sizeof(host))
			return ERR_CONFIG;
		memcpy(host, s + 1, hlen);
		port_s = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return ERR_CONFIG;
		hlen = (size_t)(colon - s);
		if (hlen >= sizeof(host))
			return ERR_CONFIG;
		memcpy(host, s, hlen);
		/* IPv6 needs brackets: "::1:80" could be host ::1 port 80 or
		 * host ::1:80 with no port. */
		if (memchr(host, ':', hlen))
			return ERR_CONFIG;
		port_s = colon + 1;
	}
	host[hlen] = '\0';
	errno = 0;
	port = strtol(port_s, &end, 10);
	if (*port_s == '\0' || *end != '\0' || errno || port < 0 || port > 65535)
		return ERR_CONFIG;
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0)
		return 0;
	if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) == 0)
		return 0;
	return ERR_CONFIG;
}

/* Says what is wrong with a config path that exists but is no regular
 * file: a directory, a dangling symlink, a device. 1 if it is missing
 * (the defaults apply), 0 if it is a file to read, else ERR_CONFIG. */
static int check_path(const char *path, char *errmsg, size_t errsz)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(errmsg, errsz, "cannot read %s: %s", path, strerror(errno));
		return ERR_CONFIG;
	}
	if (S_ISLNK(st.st_mode) && stat(path, &st) != 0) {
		snprintf(errmsg, errsz, "%s is a symlink to %s", path,
			 errno == ENOENT ? "nothing (dangling)" : strerror(errno));
		return ERR_CONFIG;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(errmsg, errsz, "%s is a directory, expected a JSON file", path);
		return ERR_CONFIG;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(errmsg, errsz, "%s is not a regular file", path);
		return ERR_CONFIG;
	}
	return 0;
}

/* Reads the file into *out (caller frees), or leaves *out NULL when there
 * is no file. */
static int read_file(const char *path, char **out, char *errmsg, size_t errsz)
{
	FILE *f;
	char *buf;
	size_t n;
	int rv;

	*out = NULL;
	rv = check_path(path, errmsg, errsz);
	if (rv)
		return rv > 0 ? 0 : rv;
	f = fopen(path, "rb");
	if (!f) {
		snprintf(errmsg, errsz, "cannot read %s: %s", path, strerror(errno));
		return ERR_CONFIG;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		return ERR_NOMEM;
	}
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	rv = ferror(f);
	fclose(f);
	if (rv) {
		free(buf);
		snprintf(errmsg, errsz, "cannot read %s", path);
		return ERR_IO;
	}
	if (n > CONFIG_FILE_MAX) {
		free(buf);
		snprintf(errmsg, errsz, "%s: larger than %d bytes", path,
			 CONFIG_FILE_MAX);
		return ERR_CONFIG;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int is_known(const char *key)
{
	for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
		if (strcmp(key, known_keys[i]) == 0)
			return 1;
	return 0;
}

int node_name_check(const char *name, char *errmsg, size_t errsz)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (isalnum(c) && c < 0x80)
			continue;
		if (i > 0 && (c == '.' || c == '-' || c == '_'))
			continue;
		snprintf(errmsg, errsz,
			 "node name: character %zu (0x%02x) is not allowed; " NODE_NAME_RULE,
			 i + 1, c);
		return ERR_CONFIG;
	}
	if (n == 0 || n >= NODE_NAME_MAX) {
		snprintf(errmsg, errsz, "node name is %zu characters long; " NODE_NAME_RULE, n);
		return ERR_CONFIG;
	}
	return 0;
}

/* Applies one key of the file; the key is known and the value a string. */
static int apply_key(struct node_config *cfg, const char *key,
		     const char *value, const char *path, char *errmsg,
		     size_t errsz)
{
	size_t limit = 0;
	int lvl;

	if (strcmp(key, "http") == 0) {
		if (copy_str(cfg->http_addr, sizeof(cfg->http_addr), value))
			limit = sizeof(cfg->http_addr) - 1;
	} else if (strcmp(key, "bind") == 0) {
		if (copy_str(cfg->bind_addr, sizeof(cfg->bind_addr), value))
			limit = sizeof(cfg->bind_addr) - 1;
	} else if (strcmp(key, "advertise") == 0) {
		if (copy_str(cfg->advertise_addr, sizeof(cfg->advertise_addr),
			     value))
			limit = sizeof(cfg->advertise_addr) - 1;
	} else if (strcmp(key, "node_name") == 0) {
		char why[NODE_ERRMSG_MAX];

		if (node_name_check(value, why, sizeof(why))) {
			snprintf(errmsg, errsz, "%s: \"node_name\": %s", path, why);
			return ERR_CONFIG;
		}
		copy_str(cfg->node_name, sizeof(cfg->node_name), value);
	} else if (strcmp(key, "log_level") == 0) {
		lvl = trace_level_parse(value);
		if (lvl < 0) {
			snprintf(errmsg, errsz,
				 "%s: \"log_level\" must be one of debug, info, warn, error, off",
				 path);
			return ERR_CONFIG;
		}
		cfg->log_level = lvl;
	} else if (strcmp(key, "factorio_dir") == 0) {
		if (copy_str(cfg->factorio_dir, sizeof(cfg->factorio_dir),
			     value))
			limit = sizeof(cfg->factorio_dir) - 1;
	} else if (strcmp(key, "lua_dir") == 0) {
		if (copy_str(cfg->lua_dir, sizeof(cfg->lua_dir), value))
			limit = sizeof(cfg->lua_dir) - 1;
	} else if (strcmp(key, "instances_dir") == 0) {
		if (copy_str(cfg->instances_dir, sizeof(cfg->instances_dir),
			     value))
			limit = sizeof(cfg->instances_dir) - 1;
	} else if (strcmp(key, "instance_ports") == 0) {
		if (parse_ports(value, &cfg->instance_port_lo,
				&cfg->instance_port_hi) != 0) {
			snprintf(errmsg, errsz,
				 "%s: \"instance_ports\" must be \"LO-HI\" with 1 <= LO < HI <= 65535 (e.g. \"%s\")",
				 path, NODE_INSTANCE_PORTS_DEFAULT);
			return ERR_CONFIG;
		}
	} else if (strcmp(key, "cluster_metrics") == 0) {
		if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
			snprintf(errmsg, errsz,
				 "%s: \"cluster_metrics\" must be \"on\" or \"off\"", path);
			return ERR_CONFIG;
		}
		cfg->cluster_metrics_off = strcmp(value, "off") == 0;
	}
	if (limit) {
		snprintf(errmsg, errsz, "%s: value of \"%s\" is longer than %zu bytes",
			 path, key, limit);
		return ERR_CONFIG;
	}
	return 0;
}

/* Line and column (from 1) of pos in text, for syntax errors. */
static void line_col(const char *text, const char *pos, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = text; *p && p < pos; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* Parses the text into a JSON object, or says why it is none. */
static cJSON *parse_object(const char *text, const char *path, char *errmsg,
			   size_t errsz)
{
	const char *end = NULL;
	cJSON *root;
	int line, col;

	if (text[strspn(text, " \t\r\n")] == '\0') {
		snprintf(errmsg, errsz,
			 "%s is empty: write a JSON object (at least {}) or delete the file",
			 path);
		return NULL;
	}
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!root) {
		line_col(text, end ? end : text, &line, &col);
		snprintf(errmsg, errsz, "%s:%d:%d: invalid JSON", path, line, col);
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(errmsg, errsz, "%s: expected a JSON object {...}, found %s",
			 path, cJSON_IsArray(root) ? "an array" : "a single value");
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* Checks one member: known, a string, and not given twice. */
static int check_item(const cJSON *root, const cJSON *item, const char *path,
		      char *errmsg, size_t errsz)
{
	if (!is_known(item->string)) {
		snprintf(errmsg, errsz,
			 "%s: unknown key \"%s\" (known: http, node_name, bind, advertise, log_level, factorio_dir, instances_dir, instance_ports, lua_dir, cluster_metrics)",
			 path, item->string);
		return ERR_CONFIG;
	}
	for (const cJSON *prev = root->child; prev != item; prev = prev->next) {
		if (strcmp(prev->string, item->string) == 0) {
			snprintf(errmsg, errsz, "%s: key \"%s\" is given twice",
				 path, item->string);
			return ERR_CONFIG;
		}
	}
	if (!cJSON_IsString(item)) {
		snprintf(errmsg, errsz, "%s: \"%s\" must be a string", path,
			 item->string);
		return ERR_CONFIG;
	}
	return 0;
}

static int load_file(struct node_config *cfg, const char *path, char *errmsg,
		     size_t errsz)
{
	char *text;
	cJSON *root, *item;
	int rv = read_file(path, &text, errmsg, errsz);

	if (rv || !text)
		return rv;
	root = parse_object(text, path, errmsg, errsz);
	free(text);
	if (!root)
		return ERR_CONFIG;
	cJSON_ArrayForEach(item, root)
	{
		rv = check_item(root, item, path, errmsg, errsz);
		if (!rv)
			rv = apply_key(cfg, item->string, item->valuestring,
				       path, errmsg, errsz);
		if (rv)
			break;
	}
	cJSON_Delete(root);
	return rv;
}

static void set_defaults(struct node_config *cfg)
{
	char err[NODE_ERRMSG_MAX];

	memset(cfg, 0, sizeof(*cfg));
	copy_str(cfg->http_addr, sizeof(cfg->http_addr), NODE_HTTP_DEFAULT);
	copy_str(cfg->bind_addr, sizeof(cfg->bind_addr), NODE_BIND_DEFAULT);
	/* A host name that is no valid node name (too long, odd characters)
	 * gives way to "node" rather than stopping a node with no name set. */
	if (gethostname(cfg->node_name, sizeof(cfg->node_name)) != 0 ||
	    (cfg->node_name[sizeof(cfg->node_name) - 1] = '\0',
	     node_name_check(cfg->node_name, err, sizeof(err)) != 0))
		copy_str(cfg->node_name, sizeof(cfg->node_name), "node");
	cfg->log_level = TRACE_INFO;
	(void)parse_ports(NODE_INSTANCE_PORTS_DEFAULT, &cfg->instance_port_lo,
			  &cfg->instance_port_hi);
}

static int apply_flags(struct node_config *cfg, const struct node_flags *f,
		       char *errmsg, size_t errsz)
{
	if (f->http_addr &&
	    copy_str(cfg->http_addr, sizeof(cfg->http_addr), f->http_addr)) {
		snprintf(errmsg, errsz, "--http value is longer than %zu bytes",
			 sizeof(cfg->http_addr) - 1);
		return ERR_CONFIG;
	}
	if (f->bind_addr &&
	    copy_str(cfg->bind_addr, sizeof(cfg->bind_addr), f->bind_addr)) {
		snprintf(errmsg, errsz, "--bind value is longer than %zu bytes",
			 sizeof(cfg->bind_addr) - 1);
		return ERR_CONFIG;
	}
	if (f->advertise_addr &&
	    copy_str(cfg->advertise_addr, sizeof(cfg->advertise_addr),
		     f->advertise_addr)) {
		snprintf(errmsg, errsz, "--advertise value is longer than %zu bytes",
			 sizeof(cfg->advertise_addr) - 1);
		return ERR_CONFIG;
	}
	if (f->node_name) {
		if (node_name_check(f->node_name, errmsg, errsz))
			return ERR_CONFIG;
		copy_str(cfg->node_name, sizeof(cfg->node_name), f->node_name);
	}
	if (f->log_level) {
		int lvl = trace_level_parse(f->log_level);

		if (lvl < 0) {
			snprintf(errmsg, errsz,
				 "--log-level must be one of debug, info, warn, error, off");
			return ERR_CONFIG;
		}
		cfg->log_level = lvl;
	}
	return 0;
}

int node_config_load(struct node_config *cfg, const struct node_flags *flags,
		     char *errmsg, size_t errsz)
{
	char path[NODE_PATH_MAX + 32];
	struct sockaddr_storage ss;
	struct stat st;
	int rv;

	set_defaults(cfg);
	if (!flags->data_dir || !*flags->data_dir) {
		snprintf(errmsg, errsz, "--data-dir is required");
		return ERR_CONFIG;
	}
	if (copy_str(cfg->data_dir, sizeof(cfg->data_dir), flags->data_dir)) {
		snprintf(errmsg, errsz, "--data-dir path is longer than %zu bytes",
			 sizeof(cfg->data_dir) - 1);
		return ERR_CONFIG;
	}
	if (stat(cfg->data_dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		snprintf(errmsg, errsz, "data dir %s is not a directory", cfg->data_dir);
		return ERR_CONFIG;
	}
	snprintf(path, sizeof(path), "%s/clusterd.json", cfg->data_dir);
	rv = load_file(cfg, path, errmsg, errsz);
	if (rv)
		return rv;
	rv = apply_flags(cfg, flags, errmsg, errsz);
	if (rv)
		return rv;
	if (node_parse_addr(cfg->http_addr, &ss) != 0) {
		snprintf(errmsg, errsz,
			 "invalid HTTP address \"%s\": expected IP:PORT (e.g. 127.0.0.1:8081 or [::1]:8081)",
			 cfg->http_addr);
		return ERR_CONFIG;
	}
	if (node_parse_addr(cfg->bind_addr, &ss) != 0) {
		snprintf(errmsg, errsz,
			 "invalid cluster address \"%s\": expected IP:PORT (e.g. 0.0.0.0:7946)",
			 cfg->bind_addr);
		return ERR_CONFIG;
	}
	if (cfg->advertise_addr[0] &&
	    node_parse_addr(cfg->advertise_addr, &ss) != 0) {
		snprintf(errmsg, errsz,
			 "invalid advertised address \"%s\": expected IP:PORT",
			 cfg->advertise_addr);
		return ERR_CONFIG;
	}
	if (cfg->instances_dir[0] == '\0' &&
	    snprintf(cfg->instances_dir, sizeof(cfg->instances_dir),
		     "%s/instances", cfg->data_dir) >=
		    (int)sizeof(cfg->instances_dir)) {
		snprintf(errmsg, errsz,
			 "\"instances_dir\": DATA_DIR/instances is longer than %zu bytes",
			 sizeof(cfg->instances_dir) - 1);
		return ERR_CONFIG;
	}
	return 0;
}

int node_config_remember(const struct node_config *cfg, char *errmsg,
			 size_t errsz)
{
	char path[NODE_PATH_MAX + 32], tmp[NODE_PATH_MAX + 40];
	cJSON *o;
	char *text;
	FILE *f;
	int rv = 0;

	snprintf(path, sizeof(path), "%s/clusterd.json", cfg->data_dir);
	if (access(path, F_OK) == 0)
		return 1;
	o = cJSON_CreateObject();
	if (!o)
		return ERR_NOMEM;
	cJSON_AddStringToObject(o, "node_name", cfg->node_name);
	cJSON_AddStringToObject(o, "bind", cfg->bind_addr);
	cJSON_AddStringToObject(o, "http", cfg->http_addr);
	if (cfg->advertise_addr[0])
		cJSON_AddStringToObject(o, "advertise", cfg->advertise_addr);
	cJSON_AddStringToObject(o, "log_level",
				trace_level_name((enum trace_level)cfg->log_level));
	text = cJSON_Print(o);
	cJSON_Delete(o);
	if (!text)
		return ERR_NOMEM;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%s\n", text) < 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		snprintf(errmsg, errsz, "cannot write %s: %s", tmp, strerror(errno));
		rv = ERR_IO;
	}
	if (f)
		fclose(f);
	if (rv == 0 && rename(tmp, path) != 0) {
		snprintf(errmsg, errsz, "cannot write %s: %s", path, strerror(errno));
		rv = ERR_IO;
	}
	cJSON_free(text);
	return rv;
}
