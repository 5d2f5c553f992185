/*
 * schema.h - the canonical exports of EXPORTS.md as data.
 *
 * Seven entities, each an ordered list of fields with a type and a required
 * flag. The config checks map.<field> keys against it, the normalizer parses
 * by it, the generator and the tests write by it. Nothing here allocates.
 */
#ifndef CRM_SCHEMA_H
#define CRM_SCHEMA_H

#include <stddef.h>

enum schema_entity {
	ENT_CUSTOMERS,
	ENT_ORDERS,
	ENT_SPEND,
	ENT_SURVEYS,
	ENT_TICKETS,
	ENT_INTERACTIONS,
	ENT_LEADS,
	ENT_COUNT
};

enum schema_type {
	FT_ID,        /* opaque string, at most SCHEMA_ID_MAX bytes */
	FT_TEXT,      /* attribute string (channel, region, tier) */
	FT_DATE,      /* YYYY-MM-DD, or a timestamp keeping its local day */
	FT_TIMESTAMP, /* ISO 8601, see EXPORTS.md */
	FT_MONEY,     /* decimal, at most 4 fraction digits, to 1/10000 units */
	FT_INT,       /* integer (survey score) */
	FT_ENUM,      /* one of a fixed list of words */
	FT_WORD       /* any word (interaction kind): letters, digits, '_' */
};

#define SCHEMA_ID_MAX 64
#define SCHEMA_MAX_FIELDS 8

struct schema_field {
	const char *name;
	enum schema_type type;
	int required;
	const char *const *values; /* FT_ENUM: NULL-terminated list, else NULL */
};

struct schema_entity_def {
	const char *name;    /* "orders" */
	const char *record;  /* default XML record element: "order" */
	size_t n_fields;
	struct schema_field fields[SCHEMA_MAX_FIELDS];
};

/* The definition of an entity; `ent` must be < ENT_COUNT. */
const struct schema_entity_def *schema_entity(enum schema_entity ent);

/* Entity by name ("orders"); returns -1 when unknown. */
int schema_entity_by_name(const char *name);

/* Index of a field in an entity, or -1. */
int schema_field_index(enum schema_entity ent, const char *name);

#endif
