/*
 * idomain.h: the "instances" domain of the state machine: the Factorio
 * servers the cluster manages (issue 12). Each node's instance manager
 * (node/instances) makes its machine match what this domain says.
 *
 * Records (domain key -> value, values msgpack [version, record]):
 *   "i" | id (u64 BE)              an instance (below);
 *   "n" | name                     the id of the instance with that name
 *                                  (u64 BE), so names are unique;
 *   "p" | node (u64 BE) | port (u16 BE)  the id holding that port on
 *                                  that node (game and RCON ports alike),
 *                                  so no two instances of a node share a
 *                                  port.
 * An instance's id is the log index of the entry that created it: every
 * node applies the same entry to the same id, with no counter to keep.
 *
 * Commands: body [op, ...]:
 *   CREATE  [0, inst]          inst.id is ignored (the index is the id);
 *                              ERR_EXISTS if the name is taken,
 *                              ERR_CONFLICT if a port is taken on its node
 *   ASSIGN  [1, id, node, game_port, rcon_port]   node 0 unassigns (ports
 *                              are then dropped); ERR_NOTFOUND,
 *                              ERR_CONFLICT as above
 *   DESIRED [2, id, desired]   ERR_NOTFOUND
 *   DELETE  [3, id]            ERR_NOTFOUND
 *   CONFIG  [4, id, auto_start, exclude_from_start_all, stop_timeout_ms,
 *           settings]          replaces those fields; ERR_NOTFOUND
 * inst = [id, name, node, game_port, rcon_port, rcon_password, auto_start,
 * desired, save, exclude_from_start_all, stop_timeout_ms, settings].
 *
 * Versions: a record is [2, inst] since the instance configuration came
 * (exclude_from_start_all, stop timeout, server settings); version 1
 * records and CREATE commands of 9 fields (written before) still read,
 * with those three fields at their defaults (0, 0, ""). Nothing rewrites
 * old records: the next command on an instance writes it as version 2.
 * settings is the JSON text of an object of server-settings.json fields
 * that override the node's defaults ("" means none); the domain checks
 * only its length, the API checks its content.
 *
 * The RCON password is drawn by the proposer and travels in the command:
 * the domain never draws randomness. It is a secret: nothing logs it.
 */
#ifndef CLUSTERD_STORAGE_IDOMAIN_H
#define CLUSTERD_STORAGE_IDOMAIN_H

#include <stddef.h>
#include <stdint.h>

#include "base/mp.h"

struct stor;

#define STOR_DOMAIN_INSTANCES 4

/* Names (instance and save) match [A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}: no
 * '/', no leading '.', so a name is always one plain path component. */
#define STOR_INST_NAME_MAX 64
#define STOR_INST_PW_MAX 64
/* A bound on instances per cluster (Clusterio's largest known cluster has
 * about 160). */
#define STOR_INST_MAX 1024
/* The overridden server settings, as JSON text (a handful of fields;
 * Factorio's whole example file is about 2 kB). */
#define STOR_INST_SETTINGS_MAX 2048
/* Stop timeout bound: a day (the node's default is 300 s). */
#define STOR_INST_STOP_TIMEOUT_MS_MAX (24ull * 3600 * 1000)

enum {
	STOR_INST_CREATE = 0,
	STOR_INST_ASSIGN = 1,
	STOR_INST_DESIRED = 2,
	STOR_INST_DELETE = 3,
	STOR_INST_CONFIG = 4,
};

enum {
	STOR_INST_STOPPED = 0,
	STOR_INST_RUNNING = 1,
};

struct stor_inst {
	uint64_t id;
	char name[STOR_INST_NAME_MAX + 1];
	uint64_t node; /* raft id of the assigned node; 0: unassigned */
	uint16_t game_port, rcon_port; /* 0: not allocated yet */
	char rcon_pw[STOR_INST_PW_MAX + 1];
	uint8_t auto_start;
	uint8_t desired; /* STOR_INST_STOPPED or _RUNNING */
	char save[STOR_INST_NAME_MAX + 1]; /* saves/<save>.zip */
	uint8_t exclude_from_start_all;
	uint64_t stop_timeout_ms; /* 0: the node's default */
	char settings[STOR_INST_SETTINGS_MAX + 1]; /* JSON object or "" */
};

struct stor_inst_cmd {
	int op;
	struct stor_inst inst; /* CREATE: all; others: id, node, ports,
				  desired, config fields as the op says */
};

/* 1 if s is a valid instance or save name (rule above). */
int stor_inst_name_ok(const char *s);

/* Registers the domain (stor_open does so already). */
int stor_inst_register(struct stor *s);
/* Encodes a command with its envelope; the caller frees *out. ERR_INVAL
 * for a field out of bounds (bad name, desired not 0 or 1). */
int stor_inst_encode(const struct stor_inst_cmd *c, uint8_t **out,
		     size_t *len);
/* Decodes and checks a body without applying it (the fuzzer). */
int stor_inst_check(const msgpack_object *body);

/* Reads (outside apply, the owner thread). ERR_NOTFOUND when absent. */
int stor_inst_get(struct stor *s, uint64_t id, struct stor_inst *out);
int stor_inst_by_name(struct stor *s, const char *name,
		      struct stor_inst *out);
/* Up to max instances in id order; *n how many were written. */
int stor_inst_list(struct stor *s, struct stor_inst *out, size_t max,
		   size_t *n);

/* Inside another domain's apply (storage/ledger.c): the node instance id
 * is assigned to (0: none), as the state is at this entry. ERR_NOTFOUND
 * for an unknown instance. */
struct stor_apply_ctx;
int stor_inst_ax_node(struct stor_apply_ctx *ax, uint64_t id, uint64_t *node);

#endif
