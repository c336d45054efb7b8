/*
 * config.c: loading clusterd.json and merging command-line flags.
 */
#include "node/config.h"

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

static const char *const known_keys[] = {"http", "node_name", "log_level"};

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

static int read_file(const char *path, char **out, char *errmsg, size_t errsz)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	*out = NULL;
	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(errmsg, errsz, "cannot read %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		return ERR_NOMEM;
	}
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	fclose(f);
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

/* Applies one key of the file; the key is known and the value a string. */
static int apply_key(struct node_config *cfg, const char *key,
		     const char *value, const char *path, char *errmsg,
		     size_t errsz)
{
	int rv = 0, lvl;

	if (strcmp(key, "http") == 0) {
		rv = copy_str(cfg->http_addr, sizeof(cfg->http_addr), value);
	} else if (strcmp(key, "node_name") == 0) {
		rv = copy_str(cfg->node_name, sizeof(cfg->node_name), value);
	} else if (strcmp(key, "log_level") == 0) {
		lvl = trace_level_parse(value);
		if (lvl < 0) {
			snprintf(errmsg, errsz,
				 "%s: \"log_level\" must be one of debug, info, warn, error, off (got \"%s\")",
				 path, value);
			return ERR_CONFIG;
		}
		cfg->log_level = lvl;
	}
	if (rv) {
		snprintf(errmsg, errsz, "%s: value of \"%s\" is too long", path, key);
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
	root = cJSON_Parse(text);
	free(text);
	if (!root || !cJSON_IsObject(root)) {
		snprintf(errmsg, errsz, "%s: not a JSON object", path);
		cJSON_Delete(root);
		return ERR_CONFIG;
	}
	cJSON_ArrayForEach(item, root)
	{
		if (!is_known(item->string)) {
			snprintf(errmsg, errsz,
				 "%s: unknown key \"%s\" (known: http, node_name, log_level)",
				 path, item->string);
			rv = ERR_CONFIG;
			break;
		}
		if (!cJSON_IsString(item)) {
			snprintf(errmsg, errsz, "%s: \"%s\" must be a string",
				 path, item->string);
			rv = ERR_CONFIG;
			break;
		}
		rv = apply_key(cfg, item->string, item->valuestring, path,
			       errmsg, errsz);
		if (rv)
			break;
	}
	cJSON_Delete(root);
	return rv;
}

static void set_defaults(struct node_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	copy_str(cfg->http_addr, sizeof(cfg->http_addr), NODE_HTTP_DEFAULT);
	if (gethostname(cfg->node_name, sizeof(cfg->node_name)) != 0)
		copy_str(cfg->node_name, sizeof(cfg->node_name), "node");
	cfg->node_name[sizeof(cfg->node_name) - 1] = '\0';
	cfg->log_level = TRACE_INFO;
}

static int apply_flags(struct node_config *cfg, const struct node_flags *f,
		       char *errmsg, size_t errsz)
{
	int rv = 0;

	if (f->http_addr)
		rv = copy_str(cfg->http_addr, sizeof(cfg->http_addr), f->http_addr);
	if (!rv && f->node_name)
		rv = copy_str(cfg->node_name, sizeof(cfg->node_name), f->node_name);
	if (rv) {
		snprintf(errmsg, errsz, "a command-line value is too long");
		return ERR_CONFIG;
	}
	if (f->log_level) {
		int lvl = trace_level_parse(f->log_level);

		if (lvl < 0) {
			snprintf(errmsg, errsz,
				 "--log-level must be one of debug, info, warn, error, off (got \"%s\")",
				 f->log_level);
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
		snprintf(errmsg, errsz, "--data-dir path is too long");
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
	return 0;
}
