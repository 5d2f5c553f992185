/*
 * cmd_dump.c - `crmetl dump FILE --table T`: a table of a period file back
 * to the canonical export CSV (EXPORTS.md header and value forms), so that
 * export -> period file -> CSV can be checked by a round trip.
 *
 * Times come out in UTC ("2026-10-03T12:34:56Z"), days as dates, money as
 * exact decimals; derived columns (day, derived) are not part of the
 * export and are left out. The meta table dumps as key,value.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crmp.h"
#include "schema.h"
#include "tables.h"
#include "val.h"

#include "banned.h"

static const struct cli_opt opts[] = {
	{ "table", 'T', CLI_NAME, OPT_TABLE, "TABLE", "table to dump: customers, orders, spend, surveys, tickets, interactions, leads or meta", NULL },
	CLI_OPT_END
};

/* One decoded column of the table being dumped. */
struct dcol {
	const struct tab_col *def; /* NULL for the meta table */
	int64_t *iv;
	uint8_t *pres;
	struct crmp_strs s;
};

static void put_csv(const char *s, size_t len)
{
	size_t i;

	if (strcspn(s, ",\"\r\n") >= len) {
		fwrite(s, 1, len, stdout);
		return;
	}
	putchar('"');
	for (i = 0; i < len; i++) {
		if (s[i] == '"')
			putchar('"');
		putchar(s[i]);
	}
	putchar('"');
}

static void put_value(const struct dcol *c, const struct schema_field *f, uint64_t row)
{
	char buf[64];
	size_t len;

	if (c->iv && !c->pres[row])
		return;
	switch (c->def ? c->def->kind : TK_STR) {
	case TK_STR:
		if (c->s.codes[row] != UINT32_MAX)
			put_csv(c->s.dict[c->s.codes[row]], c->s.lens[c->s.codes[row]]);
		return;
	case TK_TIME:
		len = val_format_timestamp(c->iv[row], buf);
		break;
	case TK_DATE:
		len = val_format_day((int32_t)c->iv[row], buf);
		break;
	case TK_MONEY:
		len = val_format_money(c->iv[row], buf);
		break;
	case TK_ENUM: {
		int64_t i, v = c->iv[row];

		for (i = 0; f->values[i] && i < v; i++)
			;
		if (f->values[i])
			fputs(f->values[i], stdout);
		return;
	}
	default:
		len = (size_t)snprintf(buf, sizeof(buf), "%" PRId64, c->iv[row]);
	}
	fwrite(buf, 1, len, stdout);
}

/*
 * Column `name` read as the type its table gives it (`type`), not as the
 * file says: put_value formats by the table, and the reader refuses a
 * column of another type.
 */
static int load_col(const struct crmp_file *f, int t, const char *name, enum crmp_type type,
		    struct dcol *c, struct crm_err *e)
{
	int k = crmp_find_column(f, t, name);
	uint64_t rows = crmp_table_info(f, (size_t)t)->rows;

	if (k < 0)
		return err_at(e, CRM_E_CORRUPT, NULL, 0, name, "period file has no column '%s'", name);
	if (type == CRMP_STR)
		return crmp_read_str(f, t, k, &c->s, e);
	c->iv = malloc((rows ? rows : 1) * sizeof(*c->iv));
	c->pres = malloc(rows ? rows : 1);
	if (!c->iv || !c->pres)
		return err_set(e, CRM_E_NOMEM, "out of memory");
	return crmp_read_int(f, t, k, c->iv, c->pres, e);
}

static int dump_table(const struct crmp_file *f, int t, const char *table, struct crm_err *e)
{
	int ent = schema_entity_by_name(table);
	const struct schema_entity_def *def = ent >= 0 ? schema_entity((enum schema_entity)ent) : NULL;
	const struct tab_def *tab = ent >= 0 ? tab_for_entity((enum schema_entity)ent) : NULL;
	struct dcol cols[SCHEMA_MAX_FIELDS];
	size_t n = def ? def->n_fields : 2, i, k;
	uint64_t row, rows = crmp_table_info(f, (size_t)t)->rows;
	static const char *const meta[] = { "key", "value" };
	int rc = 0;

	memset(cols, 0, sizeof(cols));
	for (i = 0; i < n && rc == 0; i++) {
		const char *name = def ? def->fields[i].name : meta[i];

		/* The column holding field i; period-file names equal field names but for days. */
		for (k = 0; tab && k < tab->n_cols; k++)
			if (tab->cols[k].field == (int)i && tab->cols[k].kind != TK_DAYOF)
				break;
		if (tab) {
			cols[i].def = &tab->cols[k];
			name = tab->cols[k].name;
		}
		rc = load_col(f, t, name, tab ? tab_col_type(tab->cols[k].kind) : CRMP_STR, &cols[i], e);
		printf("%s%s", i ? "," : "", def ? def->fields[i].name : meta[i]);
	}
	putchar('\n');
	for (row = 0; rc == 0 && row < rows; row++) {
		for (i = 0; i < n; i++) {
			if (i)
				putchar(',');
			put_value(&cols[i], def ? &def->fields[i] : NULL, row);
		}
		putchar('\n');
	}
	for (i = 0; i < n; i++) {
		free(cols[i].iv);
		free(cols[i].pres);
		crmp_strs_release(&cols[i].s);
	}
	return rc;
}

static int run_dump(struct crm_run *run, struct crm_err *e)
{
	const struct crm_opts *o = run->opts;
	struct crmp_file *f = NULL;
	int t, rc;

	if (!o->table)
		return err_set(e, CRM_E_USAGE, "dump needs --table T (see 'crmetl inspect %s')", o->file);
	rc = crmp_open(o->file, &f, e);
	if (rc)
		return rc;
	t = crmp_find_table(f, o->table);
	if (t < 0)
		rc = err_at(e, CRM_E_USAGE, o->file, 0, NULL, "no table '%s' in this file", o->table);
	else
		rc = dump_table(f, t, o->table, e);
	if (rc)
		err_context(e, o->file, 0);
	crmp_close(f);
	return rc;
}

const struct cmd_desc cmd_dump = {
	"dump",
	"write a table of a period file back out as canonical CSV",
	"FILE --table T [options]",
	"Writes one table of a period file to standard output as CSV with the canonical export "
	"header of EXPORTS.md: times in UTC, days as dates, money as exact decimals. Importing "
	"that CSV again gives the same period file.",
	opts,
	CMD_FILE_ARG,
	run_dump
};
