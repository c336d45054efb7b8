/*
 * player_ext.c: what a player carries besides the main inventory, for
 * inventory sync (issue 14): items with data (blueprints and books, kept
 * whole as their export string), the guns, ammo, armor and trash
 * inventories, the cursor stack, quick bar, crafting queue, personal
 * logistic requests, tag and colour, and the player's GUI elements. The
 * game keeps all of these; the stand-in keeps them as plain data, and
 * `sg_player_dump` prints them in a stable form tests compare.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "base/assert.h"
#include "base/err.h"
#include "tools/factorio-standin/standin.h"

static const uint32_t pinv_slots[SG_PINV_N] = {3, 3, 1, 20, 1};
static const char *const pinv_names[SG_PINV_N] = {"guns", "ammo", "armor",
						  "trash", "cursor"};

bool sg_item_has_data(const char *item)
{
	return strcmp(item, "blueprint") == 0 ||
	       strcmp(item, "blueprint-book") == 0 ||
	       strcmp(item, "deconstruction-planner") == 0 ||
	       strcmp(item, "upgrade-planner") == 0;
}

static struct sg_data_stack *data_at(const struct sg_inventory *inv,
				     uint32_t slot)
{
	for (uint32_t i = 0; i < inv->ndata; i++)
		if (inv->data[i].slot == slot)
			return &inv->data[i];
	return NULL;
}

uint32_t sg_inv_add_data(struct sg_inventory *inv, const char *item,
			 const char *data, uint32_t slot)
{
	struct sg_data_stack *d;

	if (inv->slots == 0 || sg_inv_used_slots(inv) >= inv->slots ||
	    strlen(data) > SG_DATA_MAX || strlen(item) >= SG_NAME_MAX)
		return 0;
	if (inv->data == NULL) {
		inv->data = calloc(inv->slots, sizeof(*inv->data));
		if (inv->data == NULL)
			return 0;
	}
	if (slot == 0 || slot > inv->slots || data_at(inv, slot) != NULL) {
		/* The first slot holding neither data nor a plain stack. */
		uint32_t plain = sg_inv_used_slots(inv) - inv->ndata;

		for (slot = 1; slot <= inv->slots; slot++) {
			if (data_at(inv, slot) != NULL)
				continue;
			if (plain == 0)
				break;
			plain--;
		}
	}
	ASSERT(slot <= inv->slots && inv->ndata < inv->slots);
	d = &inv->data[inv->ndata];
	d->data = strdup(data);
	if (d->data == NULL)
		return 0;
	d->slot = slot;
	snprintf(d->name, sizeof(d->name), "%s", item);
	inv->ndata++;
	return slot;
}

void sg_inv_remove_data(struct sg_inventory *inv, uint32_t slot)
{
	struct sg_data_stack *d = data_at(inv, slot);

	if (d == NULL)
		return;
	free(d->data);
	*d = inv->data[--inv->ndata];
}

void sg_inv_slot(const struct sg_inventory *inv, uint32_t slot,
		 struct sg_data_stack **data, const char **name,
		 uint32_t *count)
{
	uint32_t k = 0; /* plain stacks before this slot */

	*data = data_at(inv, slot);
	*name = NULL;
	*count = 0;
	if (*data != NULL)
		return;
	for (uint32_t s = 1; s < slot; s++)
		k += data_at(inv, s) == NULL;
	for (uint32_t i = 0; i < inv->n; i++) {
		uint32_t st = sg_proto_stack_size(inv->items[i].name);
		uint32_t c = inv->items[i].count;
		uint32_t stacks = (c + st - 1) / st;

		if (k < stacks) {
			*name = inv->items[i].name;
			*count = k + 1 < stacks ? st : c - k * st;
			return;
		}
		k -= stacks;
	}
}

int sg_pext_init(struct sg_player *p)
{
	p->x = calloc(1, sizeof(*p->x));
	if (p->x == NULL)
		return ERR_NOMEM;
	for (int i = 0; i < SG_PINV_N; i++)
		if (sg_inv_init(&p->x->inv[i], pinv_slots[i]) != 0)
			return ERR_NOMEM;
	p->x->color[0] = 1.0; /* the game's default orange-ish is ours: */
	p->x->color[1] = 0.6;
	p->x->color[3] = 1.0;
	return 0;
}

void sg_pext_free(struct sg_player *p)
{
	if (p->x == NULL)
		return;
	for (int i = 0; i < SG_PINV_N; i++)
		sg_inv_free(&p->x->inv[i]);
	free(p->x);
	p->x = NULL;
}

/* [[slot, name, count, data|null], ...] in slot order. */
static cJSON *inv_dump(const struct sg_inventory *inv)
{
	cJSON *a = cJSON_CreateArray();

	for (uint32_t s = 1; a != NULL && s <= inv->slots; s++) {
		struct sg_data_stack *d;
		const char *name;
		uint32_t count;
		cJSON *e;

		sg_inv_slot(inv, s, &d, &name, &count);
		if (d == NULL && count == 0)
			continue;
		e = cJSON_CreateArray();
		cJSON_AddItemToArray(e, cJSON_CreateNumber(s));
		cJSON_AddItemToArray(e, cJSON_CreateString(d ? d->name : name));
		cJSON_AddItemToArray(e, cJSON_CreateNumber(d ? 1 : count));
		cJSON_AddItemToArray(e, d ? cJSON_CreateString(d->data)
					  : cJSON_CreateNull());
		cJSON_AddItemToArray(a, e);
	}
	return a;
}

struct cJSON *sg_player_dump_json(const struct sg_player *p)
{
	const struct sg_pext *x = p->x;
	cJSON *o = cJSON_CreateObject(), *a;

	if (o == NULL)
		return NULL;
	cJSON_AddItemToObject(o, "main", inv_dump(&p->main));
	for (int i = 0; i < SG_PINV_N; i++)
		cJSON_AddItemToObject(o, pinv_names[i], inv_dump(&x->inv[i]));
	a = cJSON_AddArrayToObject(o, "quickbar");
	for (int i = 0; i < SG_QUICKBAR_SLOTS; i++)
		if (x->quickbar[i][0] != '\0') {
			cJSON *e = cJSON_CreateArray();

			cJSON_AddItemToArray(e, cJSON_CreateNumber(i + 1));
			cJSON_AddItemToArray(e,
					     cJSON_CreateString(x->quickbar[i]));
			cJSON_AddItemToArray(a, e);
		}
	a = cJSON_AddArrayToObject(o, "crafting");
	for (uint32_t i = 0; i < x->ncraft; i++) {
		cJSON *e = cJSON_CreateArray();

		cJSON_AddItemToArray(e, cJSON_CreateString(x->craft[i].recipe));
		cJSON_AddItemToArray(e, cJSON_CreateNumber(x->craft[i].count));
		cJSON_AddItemToArray(a, e);
	}
	a = cJSON_AddArrayToObject(o, "logistics");
	for (int i = 0; i < SG_LOGI_SLOTS; i++)
		if (x->logi[i].name[0] != '\0') {
			cJSON *e = cJSON_CreateArray();

			cJSON_AddItemToArray(e, cJSON_CreateNumber(i + 1));
			cJSON_AddItemToArray(e, cJSON_CreateString(x->logi[i].name));
			cJSON_AddItemToArray(e, cJSON_CreateNumber(x->logi[i].min));
			cJSON_AddItemToArray(e, cJSON_CreateNumber(x->logi[i].max));
			cJSON_AddItemToArray(a, e);
		}
	cJSON_AddStringToObject(o, "tag", x->tag);
	a = cJSON_AddArrayToObject(o, "color");
	for (int i = 0; i < 4; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(x->color[i]));
	return o;
}

char *sg_player_dump(const struct sg_player *p)
{
	cJSON *o = sg_player_dump_json(p);
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return s;
}

static double num_at(const cJSON *a, int i)
{
	const cJSON *v = cJSON_GetArrayItem(a, i);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str_at(const cJSON *a, int i)
{
	const cJSON *v = cJSON_GetArrayItem(a, i);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Plain stacks are inserted first, then the data stacks at their slots
 * (so the layout comes back as it was written). */
static void inv_load(struct sg_inventory *inv, const cJSON *a)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, a) {
		const char *name = str_at(e, 1);

		if (name != NULL && cJSON_IsNull(cJSON_GetArrayItem(e, 3)) &&
		    sg_proto_stack_size(name) != 0 && num_at(e, 2) > 0)
			(void)sg_inv_insert(inv, name, (uint32_t)num_at(e, 2));
	}
	cJSON_ArrayForEach(e, a) {
		const char *name = str_at(e, 1), *data = str_at(e, 3);

		if (name != NULL && data != NULL && sg_item_has_data(name))
			(void)sg_inv_add_data(inv, name, data,
					      (uint32_t)num_at(e, 0));
	}
}

int sg_player_load_json(struct sg_player *p, const struct cJSON *o)
{
	struct sg_pext *x = p->x;
	const cJSON *a, *e;
	int i;

	if (!cJSON_IsObject(o))
		return 0;
	a = cJSON_GetObjectItemCaseSensitive(o, "main");
	if (cJSON_IsArray(a)) { /* with the data stacks "main" lacks */
		sg_inv_clear(&p->main);
		inv_load(&p->main, a);
	}
	for (i = 0; i < SG_PINV_N; i++)
		inv_load(&x->inv[i],
			 cJSON_GetObjectItemCaseSensitive(o, pinv_names[i]));
	a = cJSON_GetObjectItemCaseSensitive(o, "quickbar");
	cJSON_ArrayForEach(e, a) {
		int s = (int)num_at(e, 0);

		if (s >= 1 && s <= SG_QUICKBAR_SLOTS && str_at(e, 1))
			snprintf(x->quickbar[s - 1], SG_NAME_MAX, "%s",
				 str_at(e, 1));
	}
	a = cJSON_GetObjectItemCaseSensitive(o, "crafting");
	cJSON_ArrayForEach(e, a) {
		if (x->ncraft < SG_CRAFT_MAX && str_at(e, 0)) {
			snprintf(x->craft[x->ncraft].recipe, SG_NAME_MAX, "%s",
				 str_at(e, 0));
			x->craft[x->ncraft++].count = (uint32_t)num_at(e, 1);
		}
	}
	a = cJSON_GetObjectItemCaseSensitive(o, "logistics");
	cJSON_ArrayForEach(e, a) {
		int s = (int)num_at(e, 0);

		if (s >= 1 && s <= SG_LOGI_SLOTS && str_at(e, 1)) {
			snprintf(x->logi[s - 1].name, SG_NAME_MAX, "%s",
				 str_at(e, 1));
			x->logi[s - 1].min = (uint32_t)num_at(e, 2);
			x->logi[s - 1].max = (uint32_t)num_at(e, 3);
		}
	}
	e = cJSON_GetObjectItemCaseSensitive(o, "tag");
	if (cJSON_IsString(e))
		snprintf(x->tag, sizeof(x->tag), "%s", e->valuestring);
	a = cJSON_GetObjectItemCaseSensitive(o, "color");
	for (i = 0; i < 4 && cJSON_IsArray(a); i++)
		x->color[i] = num_at(a, i);
	return 0;
}
