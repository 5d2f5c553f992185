/*
 * schema.c - the field tables of the seven canonical exports (EXPORTS.md).
 *
 * Changing a table here changes the input contract: keep it in step with
 * ../shared/EXPORTS.md and with docs/period-format.md.
 */
#include "schema.h"

#include <string.h>

#include "banned.h"

static const char *const order_status[] = { "completed", "refunded", "cancelled", NULL };
static const char *const spend_purpose[] = { "acquisition", "retention", NULL };
static const char *const survey_kind[] = { "nps", "csat", NULL };
static const char *const ticket_kind[] = { "complaint", "request", "question", NULL };
static const char *const lead_stage[] = { "lead", "mql", "sql", "opportunity", "won", "lost", NULL };

static const struct schema_entity_def entities[ENT_COUNT] = {
	[ENT_CUSTOMERS] = { "customers", "customer", 7, {
		{ "customer_id", FT_ID, 1, NULL },
		{ "signup_date", FT_DATE, 1, NULL },
		{ "channel", FT_TEXT, 0, NULL },
		{ "region", FT_TEXT, 0, NULL },
		{ "tier", FT_TEXT, 0, NULL },
		{ "referred_by", FT_ID, 0, NULL },
		{ "churn_date", FT_DATE, 0, NULL } } },
	[ENT_ORDERS] = { "orders", "order", 6, {
		{ "order_id", FT_ID, 1, NULL },
		{ "customer_id", FT_ID, 1, NULL },
		{ "ordered_at", FT_TIMESTAMP, 1, NULL },
		{ "amount", FT_MONEY, 1, NULL },
		{ "cost", FT_MONEY, 0, NULL },
		{ "status", FT_ENUM, 0, order_status } } },
	[ENT_SPEND] = { "spend", "spend", 4, {
		{ "date", FT_DATE, 1, NULL },
		{ "channel", FT_TEXT, 1, NULL },
		{ "purpose", FT_ENUM, 1, spend_purpose },
		{ "amount", FT_MONEY, 1, NULL } } },
	[ENT_SURVEYS] = { "surveys", "survey", 5, {
		{ "response_id", FT_ID, 1, NULL },
		{ "customer_id", FT_ID, 0, NULL },
		{ "responded_at", FT_TIMESTAMP, 1, NULL },
		{ "kind", FT_ENUM, 1, survey_kind },
		{ "score", FT_INT, 1, NULL } } },
	[ENT_TICKETS] = { "tickets", "ticket", 6, {
		{ "ticket_id", FT_ID, 1, NULL },
		{ "customer_id", FT_ID, 1, NULL },
		{ "opened_at", FT_TIMESTAMP, 1, NULL },
		{ "first_response_at", FT_TIMESTAMP, 0, NULL },
		{ "resolved_at", FT_TIMESTAMP, 0, NULL },
		{ "kind", FT_ENUM, 1, ticket_kind } } },
	[ENT_INTERACTIONS] = { "interactions", "interaction", 3, {
		{ "customer_id", FT_ID, 1, NULL },
		{ "occurred_at", FT_TIMESTAMP, 1, NULL },
		{ "kind", FT_WORD, 1, NULL } } },
	[ENT_LEADS] = { "leads", "lead", 5, {
		{ "lead_id", FT_ID, 1, NULL },
		{ "stage", FT_ENUM, 1, lead_stage },
		{ "stage_at", FT_TIMESTAMP, 1, NULL },
		{ "channel", FT_TEXT, 0, NULL },
		{ "customer_id", FT_ID, 0, NULL } } },
};

const struct schema_entity_def *schema_entity(enum schema_entity ent)
{
	return &entities[ent];
}

int schema_entity_by_name(const char *name)
{
	int i;

	for (i = 0; i < ENT_COUNT; i++)
		if (strcmp(entities[i].name, name) == 0)
			return i;
	return -1;
}

int schema_field_index(enum schema_entity ent, const char *name)
{
	size_t i;

	for (i = 0; i < entities[ent].n_fields; i++)
		if (strcmp(entities[ent].fields[i].name, name) == 0)
			return (int)i;
	return -1;
}
