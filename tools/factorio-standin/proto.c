/*
 * proto.c: the item and entity prototypes the stand-in knows.
 *
 * Factorio rejects unknown item and entity names, so the stand-in does too.
 * The table holds common vanilla 2.0 items with their real stack sizes;
 * tests and demos that need modded items add them with `/standin item`.
 * The list is process-wide (prototypes are global in Factorio as well) and
 * bounded.
 */
#include <string.h>

#include "base/err.h"
#include "tools/factorio-standin/standin.h"

struct item_proto {
	char name[SG_NAME_MAX];
	uint32_t stack;
};

#define EXTRA_ITEMS_MAX 256

static const struct item_proto items_builtin[] = {
	{"wood", 100}, {"coal", 50}, {"stone", 50}, {"iron-ore", 50},
	{"copper-ore", 50}, {"uranium-ore", 50}, {"iron-plate", 100},
	{"copper-plate", 100}, {"steel-plate", 100}, {"stone-brick", 100},
	{"plastic-bar", 100}, {"sulfur", 50}, {"battery", 200},
	{"iron-gear-wheel", 100}, {"copper-cable", 200},
	{"electronic-circuit", 200}, {"advanced-circuit", 200},
	{"processing-unit", 100}, {"engine-unit", 50},
	{"electric-engine-unit", 50}, {"low-density-structure", 50},
	{"rocket-fuel", 20}, {"solid-fuel", 50}, {"iron-stick", 100},
	{"pipe", 100}, {"transport-belt", 100}, {"inserter", 50},
	{"burner-inserter", 50}, {"fast-inserter", 50},
	{"small-electric-pole", 50}, {"medium-electric-pole", 50},
	{"wooden-chest", 50}, {"iron-chest", 50}, {"steel-chest", 50},
	{"stone-furnace", 50}, {"burner-mining-drill", 50},
	{"electric-mining-drill", 50}, {"assembling-machine-1", 50},
	{"assembling-machine-2", 50}, {"lab", 10}, {"pistol", 5},
	{"submachine-gun", 5}, {"firearm-magazine", 200},
	{"piercing-rounds-magazine", 200}, {"automation-science-pack", 200},
	{"logistic-science-pack", 200}, {"military-science-pack", 200},
	{"chemical-science-pack", 200}, {"satellite", 1},
	{"rocket-part", 5}, {"repair-pack", 100}, {"grenade", 100},
	{"light-armor", 1}, {"heavy-armor", 1}, {"concrete", 100},
	{"landfill", 100}, {"rail", 100}, {"locomotive", 5},
	{"cargo-wagon", 5}, {"solar-panel", 50}, {"accumulator", 50},
	{"steam-engine", 10}, {"boiler", 50}, {"offshore-pump", 20},
	{"uranium-235", 100}, {"uranium-238", 100},
	/* Items with data (player_ext.c): one per stack. */
	{"blueprint", 1}, {"blueprint-book", 1},
	{"deconstruction-planner", 1}, {"upgrade-planner", 1},
};

static struct item_proto items_extra[EXTRA_ITEMS_MAX];
static size_t items_extra_n;

uint32_t sg_proto_stack_size(const char *item)
{
	for (size_t i = 0; i < sizeof(items_builtin) / sizeof(items_builtin[0]);
	     i++)
		if (strcmp(items_builtin[i].name, item) == 0)
			return items_builtin[i].stack;
	for (size_t i = 0; i < items_extra_n; i++)
		if (strcmp(items_extra[i].name, item) == 0)
			return items_extra[i].stack;
	return 0;
}

int sg_proto_item_add(const char *item, uint32_t stack_size)
{
	size_t len = strlen(item);
	if (len == 0 || len >= SG_NAME_MAX || stack_size == 0)
		return ERR_INVAL;
	if (sg_proto_stack_size(item) != 0)
		return ERR_EXISTS;
	if (items_extra_n == EXTRA_ITEMS_MAX)
		return ERR_AGAIN;
	memcpy(items_extra[items_extra_n].name, item, len + 1);
	items_extra[items_extra_n].stack = stack_size;
	items_extra_n++;
	return 0;
}

struct entity_proto {
	const char *name;
	const char *type;
	uint32_t slots;
};

/* Chest sizes are the 2.0 values; the others stand for buildings a player
 * may place (they carry no chest inventory here). */
static const struct entity_proto entities[] = {
	{"wooden-chest", "container", 16},
	{"iron-chest", "container", 32},
	{"steel-chest", "container", 48},
	{"passive-provider-chest", "logistic-container", 48},
	{"active-provider-chest", "logistic-container", 48},
	{"storage-chest", "logistic-container", 48},
	{"buffer-chest", "logistic-container", 48},
	{"requester-chest", "logistic-container", 48},
	{"infinity-chest", "infinity-container", 48},
	{"transport-belt", "transport-belt", 0},
	{"inserter", "inserter", 0},
	{"small-electric-pole", "electric-pole", 0},
	{"stone-furnace", "furnace", 0},
	{"assembling-machine-1", "assembling-machine", 0},
	{"rocket-silo", "rocket-silo", 0},
};

const char *sg_proto_entity(const char *name, uint32_t *slots)
{
	for (size_t i = 0; i < sizeof(entities) / sizeof(entities[0]); i++) {
		if (strcmp(entities[i].name, name) == 0) {
			*slots = entities[i].slots;
			return entities[i].type;
		}
	}
	*slots = 0;
	return NULL;
}
