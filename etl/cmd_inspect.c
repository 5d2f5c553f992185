/*
 * cmd_inspect.c - `crmetl inspect FILE`: describe a period file and check
 * every checksum.
 *
 * Read-only. The layout printed follows docs/period-format.md so a reader
 * of the spec can match what they see.
 */
#include <stdio.h>

#include "cli.h"
#include "crmp.h"
#include "period.h"

#include "banned.h"

static const struct cli_opt opts[] = {
	CLI_OPT_END
};

static const char *enc_name(enum crmp_enc enc)
{
	switch (enc) {
	case CRMP_PLAIN: return "plain";
	case CRMP_DELTA: return "delta";
	case CRMP_DICT: return "dictionary";
	case CRMP_FRONT: return "front-coded";
	case CRMP_NUMBERED: return "numbered";
	case CRMP_PLANES: return "planes";
	case CRMP_DAYS: return "days";
	}
	return "?";
}

/* The table's sort key as its directory states it (none in version 1 files). */
static void print_sort(const struct crmp_table_info *ti)
{
	size_t k;

	printf("  sorted by:");
	for (k = 0; k < ti->n_sort; k++)
		printf("%s %s", k ? "," : "", ti->cols[ti->sort[k]].name);
	printf("%s\n", ti->n_sort ? "" : " (not stated)");
}

static int run_inspect(struct crm_run *run, struct crm_err *e)
{
	struct crmp_file *f = NULL;
	char text[PERIOD_TEXT_MAX];
	unsigned major, minor;
	size_t t, c;
	int rc = crmp_open(run->opts->file, &f, e);

	if (rc)
		return rc;
	printf("file: %s\nsize: %llu bytes\nkind: %s\n", run->opts->file,
	       (unsigned long long)crmp_file_size(f),
	       crmp_kind(f) == CRMP_PERIOD ? "period" : "customers dimension");
	if (crmp_kind(f) == CRMP_PERIOD)
		printf("period: %s\n", period_format(crmp_period(f), text));
	crmp_version(f, &major, &minor);
	printf("format: version %u.%u\ntables: %zu\n", major, minor, crmp_n_tables(f));
	for (t = 0; t < crmp_n_tables(f); t++) {
		const struct crmp_table_info *ti = crmp_table_info(f, t);

		printf("\ntable %s: %llu rows, %zu columns\n", ti->name, (unsigned long long)ti->rows,
		       ti->n_cols);
		print_sort(ti);
		printf("  %-20s %-7s %-12s %8s %10s %10s %10s  %s\n", "column", "type", "encoding",
		       "nulls", "offset", "stored", "raw", "crc32");
		for (c = 0; c < ti->n_cols; c++) {
			const struct crmp_col_info *ci = &ti->cols[c];

			printf("  %-20s %-7s %-12s %8llu %10llu %10llu %10llu  %08x\n", ci->name,
			       ci->type == CRMP_INT ? "integer" : "string", enc_name(ci->enc),
			       (unsigned long long)ci->nulls, (unsigned long long)ci->offset,
			       (unsigned long long)ci->stored, (unsigned long long)ci->raw, ci->crc);
		}
	}
	rc = crmp_check_all(f, e);
	if (rc == 0)
		printf("\nchecksums: all good\n");
	crmp_close(f);
	return rc;
}

const struct cmd_desc cmd_inspect = {
	"inspect",
	"describe a period file: header, tables, columns, sizes, checksums",
	"FILE [options]",
	"Prints the header (format version), table directory (rows, sort key), columns (type, "
	"encoding, nulls, offset, stored and "
	"raw sizes, CRC-32), and row counts of a period file (docs/period-format.md), then decodes "
	"every column and checks every checksum. A damaged file is reported with its table and "
	"column and exit status 8.",
	opts,
	CMD_FILE_ARG,
	run_inspect
};
