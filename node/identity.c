/*
 * identity.c: the node's identity and cluster secret files. See identity.h.
 */
#include "node/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "base/err.h"

#define LINE_MAX_ 256

int identity_write_file(const char *dir, const char *name, const char *text,
			unsigned mode, char *errmsg, size_t errsz)
{
	char path[1200], tmp[1210];
	size_t len = strlen(text);
	int fd, dfd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (fd < 0)
		goto err;
	if (fchmod(fd, (mode_t)mode) != 0 ||
	    write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		close(fd);
		goto err;
	}
	close(fd);
	if (rename(tmp, path) != 0)
		goto err;
	/* The rename itself must survive a crash too. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
err:
	snprintf(errmsg, errsz, "cannot write %s: %s", path, strerror(errno));
	unlink(tmp);
	return ERR_IO;
}

/* Reads "key value" lines; calls fn for each. Returns the first non-zero
 * result of fn, ERR_NOTFOUND if the file is absent, ERR_CORRUPT on a line
 * without a value. */
static int read_lines(const char *path, int (*fn)(void *, const char *,
						  const char *),
		      void *arg, char *errmsg, size_t errsz)
{
	char line[LINE_MAX_];
	int rv = 0, n = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		if (errno == ENOENT)
			return ERR_NOTFOUND;
		snprintf(errmsg, errsz, "cannot read %s: %s", path,
			 strerror(errno));
		return ERR_IO;
	}
	while (rv == 0 && fgets(line, sizeof(line), f)) {
		char *sp;

		n++;
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		sp = strchr(line, ' ');
		if (!sp) {
			rv = ERR_CORRUPT;
			break;
		}
		*sp = '\0';
		rv = fn(arg, line, sp + 1);
	}
	fclose(f);
	if (rv != 0)
		snprintf(errmsg, errsz, "%s is corrupt at line %d", path, n);
	return rv;
}

static int hex_key(const char *hex, uint8_t out[IDENTITY_KEY_BYTES])
{
	size_t n = 0;

	if (strlen(hex) != 2 * IDENTITY_KEY_BYTES ||
	    sodium_hex2bin(out, IDENTITY_KEY_BYTES, hex, strlen(hex), NULL, &n,
			   NULL) != 0 ||
	    n != IDENTITY_KEY_BYTES)
		return ERR_CORRUPT;
	return 0;
}

struct id_parse {
	struct node_identity *id;
	int seen; /* bit per field */
};

static int id_line(void *arg, const char *k, const char *v)
{
	struct id_parse *p = arg;
	char *end;

	if (strcmp(k, "id") == 0) {
		errno = 0;
		p->id->id = strtoull(v, &end, 16);
		if (errno || *end || p->id->id == 0 || strlen(v) != 16 ||
		    p->id->id >= ((uint64_t)1 << 62))
			return ERR_CORRUPT;
		p->seen |= 1;
	} else if (strcmp(k, "pk") == 0) {
		if (hex_key(v, p->id->pk) != 0)
			return ERR_CORRUPT;
		p->seen |= 2;
	} else if (strcmp(k, "sk") == 0) {
		if (hex_key(v, p->id->sk) != 0)
			return ERR_CORRUPT;
		p->seen |= 4;
	}
	return 0; /* unknown keys: a newer version's; ignored */
}

static int identity_save(const char *dir, const struct node_identity *id,
			 char *errmsg, size_t errsz)
{
	char pk[2 * IDENTITY_KEY_BYTES + 1], sk[2 * IDENTITY_KEY_BYTES + 1];
	char text[LINE_MAX_];

	sodium_bin2hex(pk, sizeof(pk), id->pk, sizeof(id->pk));
	sodium_bin2hex(sk, sizeof(sk), id->sk, sizeof(id->sk));
	snprintf(text, sizeof(text), "id %016llx\npk %s\nsk %s\n",
		 (unsigned long long)id->id, pk, sk);
	sodium_memzero(sk, sizeof(sk));
	return identity_write_file(dir, "identity", text, 0600, errmsg, errsz);
}

int identity_load_or_create(const char *dir, struct node_identity *out,
			    char *errmsg, size_t errsz)
{
	struct id_parse p = {.id = out};
	char path[1200];
	int rv;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/identity", dir);
	rv = read_lines(path, id_line, &p, errmsg, errsz);
	if (rv == 0 && p.seen != 7) {
		snprintf(errmsg, errsz, "%s is corrupt: id, pk or sk missing",
			 path);
		return ERR_CORRUPT;
	}
	if (rv != ERR_NOTFOUND)
		return rv;
	/* Raft ids travel in messages whose numbers must stay below 2^62
	 * (raft.h, RAFT_NUM_MAX): draw 62 random bits. */
	do {
		randombytes_buf(&out->id, sizeof(out->id));
		out->id &= ((uint64_t)1 << 62) - 1;
	} while (out->id == 0);
	crypto_box_keypair(out->pk, out->sk);
	return identity_save(dir, out, errmsg, errsz);
}

struct cl_parse {
	struct node_cluster_secret *c;
	int seen;
};

static int cl_line(void *arg, const char *k, const char *v)
{
	struct cl_parse *p = arg;

	if (strcmp(k, "secret") == 0) {
		if (hex_key(v, p->c->secret) != 0)
			return ERR_CORRUPT;
		p->seen |= 1;
	} else if (strcmp(k, "cluster_id") == 0) {
		if (strlen(v) == 0 || strlen(v) >= sizeof(p->c->cluster_id))
			return ERR_CORRUPT;
		strcpy(p->c->cluster_id, v);
		p->seen |= 2;
	}
	return 0;
}

int identity_cluster_load(const char *dir, struct node_cluster_secret *out,
			  char *errmsg, size_t errsz)
{
	struct cl_parse p = {.c = out};
	char path[1200];
	int rv;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "%s/cluster", dir);
	rv = read_lines(path, cl_line, &p, errmsg, errsz);
	if (rv == 0 && p.seen != 3) {
		snprintf(errmsg, errsz, "%s is corrupt: secret or cluster_id missing",
			 path);
		return ERR_CORRUPT;
	}
	return rv;
}

int identity_cluster_save(const char *dir, const struct node_cluster_secret *c,
			  char *errmsg, size_t errsz)
{
	char hex[2 * IDENTITY_KEY_BYTES + 1], text[LINE_MAX_];
	int rv;

	sodium_bin2hex(hex, sizeof(hex), c->secret, sizeof(c->secret));
	snprintf(text, sizeof(text), "secret %s\ncluster_id %s\n", hex,
		 c->cluster_id);
	rv = identity_write_file(dir, "cluster", text, 0600, errmsg, errsz);
	sodium_memzero(hex, sizeof(hex));
	sodium_memzero(text, sizeof(text));
	return rv;
}

void identity_cluster_new(struct node_cluster_secret *out)
{
	uint8_t raw[16];

	randombytes_buf(out->secret, sizeof(out->secret));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out->cluster_id, sizeof(out->cluster_id), raw,
		       sizeof(raw));
}

int identity_forget(const char *dir, char *errmsg, size_t errsz)
{
	static const char *const names[] = {"cluster", "identity"};
	char path[1200];

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) != 0 && errno != ENOENT) {
			snprintf(errmsg, errsz, "cannot delete %s: %s", path,
				 strerror(errno));
			return ERR_IO;
		}
	}
	return 0;
}
