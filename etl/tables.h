/*
 * tables.h - the tables of a period file and how each column comes from a
 * canonical export field (docs/period-format.md, "Tables").
 *
 * One description serves the normalizer (export row -> columns), the
 * dumper (columns -> canonical CSV) and compute (column names), so the
 * three can never disagree about a column.
 */
#ifndef CRM_TABLES_H
#define CRM_TABLES_H

#include <stddef.h>

#include "crmp.h"
#include "schema.h"

enum tab_kind {
	TK_STR,   /* string field as written (ids, attributes, words) */
	TK_TIME,  /* timestamp field -> UTC seconds */
	TK_DAYOF, /* timestamp field -> local day number (derived column) */
	TK_DATE,  /* date field -> local day number */
	TK_MONEY, /* money field -> 1/10000 units */
	TK_ENUM,  /* enumeration field -> index in its value list */
	TK_INT,   /* integer field */
	TK_FLAG   /* not from a field: set by the normalizer (customers.derived) */
};

#define TAB_MAX_COLS 8
#define TAB_MAX_KEYS 4

struct tab_col {
	const char *name;
	enum tab_kind kind;
	int field;    /* index of the schema field it comes from, or -1 */
	int nullable;
};

struct tab_def {
	const char *name;           /* table name in the period file */
	enum schema_entity entity;
	size_t n_cols;
	struct tab_col cols[TAB_MAX_COLS];
	size_t n_keys;              /* sort key: column indexes, most significant first */
	int keys[TAB_MAX_KEYS];
	int time_col;               /* column whose local month places a row, or -1 */
	int id_cols;                /* leading key columns forming the dedupe id (0: none) */
	/*
	 * Another sort key a month may use instead (0 columns: none): the
	 * customer order, when it codes smaller (docs/period-format.md,
	 * "Canonical encoding"). Rows equal in it must be equal.
	 */
	size_t n_alt_keys;
	int alt_keys[TAB_MAX_KEYS];
};

/* The table of an entity. */
const struct tab_def *tab_for_entity(enum schema_entity ent);

/* The crmp type of a column kind (inline: asked for every value of every row). */
static inline enum crmp_type tab_col_type(enum tab_kind kind)
{
	return kind == TK_STR ? CRMP_STR : CRMP_INT;
}

#endif
