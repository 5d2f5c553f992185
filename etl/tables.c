/*
 * tables.c - period file tables (see tables.h and docs/period-format.md).
 *
 * Field indexes refer to etl/schema.c; a change to either must keep
 * docs/period-format.md in step (and bump its version).
 */
#include "tables.h"

#include "banned.h"

static const struct tab_def tables[ENT_COUNT] = {
	[ENT_CUSTOMERS] = { "customers", ENT_CUSTOMERS, 8, {
		{ "customer_id", TK_STR, 0, 0 },
		{ "signup_day", TK_DATE, 1, 1 },
		{ "channel", TK_STR, 2, 1 },
		{ "region", TK_STR, 3, 1 },
		{ "tier", TK_STR, 4, 1 },
		{ "referred_by", TK_STR, 5, 1 },
		{ "churn_day", TK_DATE, 6, 1 },
		{ "derived", TK_FLAG, -1, 0 } },
		1, { 0 }, -1, 1 },
	[ENT_ORDERS] = { "orders", ENT_ORDERS, 7, {
		{ "order_id", TK_STR, 0, 0 },
		{ "customer_id", TK_STR, 1, 0 },
		{ "ordered_at", TK_TIME, 2, 0 },
		{ "day", TK_DAYOF, 2, 0 },
		{ "amount", TK_MONEY, 3, 0 },
		{ "cost", TK_MONEY, 4, 1 },
		{ "status", TK_ENUM, 5, 1 } },
		2, { 2, 0 }, 3, 1, 3, { 1, 2, 0 } },
	[ENT_SPEND] = { "spend", ENT_SPEND, 4, {
		{ "day", TK_DATE, 0, 0 },
		{ "channel", TK_STR, 1, 0 },
		{ "purpose", TK_ENUM, 2, 0 },
		{ "amount", TK_MONEY, 3, 0 } },
		4, { 0, 1, 2, 3 }, 0, 0 },
	[ENT_SURVEYS] = { "surveys", ENT_SURVEYS, 6, {
		{ "response_id", TK_STR, 0, 0 },
		{ "customer_id", TK_STR, 1, 1 },
		{ "responded_at", TK_TIME, 2, 0 },
		{ "day", TK_DAYOF, 2, 0 },
		{ "kind", TK_ENUM, 3, 0 },
		{ "score", TK_INT, 4, 0 } },
		2, { 2, 0 }, 3, 1 },
	[ENT_TICKETS] = { "tickets", ENT_TICKETS, 7, {
		{ "ticket_id", TK_STR, 0, 0 },
		{ "customer_id", TK_STR, 1, 0 },
		{ "opened_at", TK_TIME, 2, 0 },
		{ "day", TK_DAYOF, 2, 0 },
		{ "first_response_at", TK_TIME, 3, 1 },
		{ "resolved_at", TK_TIME, 4, 1 },
		{ "kind", TK_ENUM, 5, 0 } },
		2, { 2, 0 }, 3, 1 },
	[ENT_INTERACTIONS] = { "interactions", ENT_INTERACTIONS, 4, {
		{ "customer_id", TK_STR, 0, 0 },
		{ "occurred_at", TK_TIME, 1, 0 },
		{ "day", TK_DAYOF, 1, 0 },
		{ "kind", TK_STR, 2, 0 } },
		3, { 1, 0, 3 }, 2, 0 },
	[ENT_LEADS] = { "leads", ENT_LEADS, 6, {
		{ "lead_id", TK_STR, 0, 0 },
		{ "stage", TK_ENUM, 1, 0 },
		{ "stage_at", TK_TIME, 2, 0 },
		{ "day", TK_DAYOF, 2, 0 },
		{ "channel", TK_STR, 3, 1 },
		{ "customer_id", TK_STR, 4, 1 } },
		3, { 2, 0, 1 }, 3, 2 },
};

const struct tab_def *tab_for_entity(enum schema_entity ent)
{
	return &tables[ent];
}
