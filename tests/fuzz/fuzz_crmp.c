/*
 * fuzz_crmp.c - fuzz target for the period file reader.
 *
 * Properties: opening and decoding every column never crashes or reads
 * out of bounds (the sanitizers watch); any failure is CRM_E_CORRUPT with
 * a message, never another code; decoded string codes always index the
 * dictionary; a table's sort key names distinct columns it has. The seed
 * corpus holds real period files (versions 1 and 2).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_table(const struct crmp_file *f, int t)
{
	const struct crmp_table_info *ti = crmp_table_info(f, (size_t)t);
	struct crm_err e = { 0 };
	size_t c;

	if (ti->n_sort > ti->n_cols)
		abort();
	for (c = 0; c < ti->n_sort; c++)
		if (ti->sort[c] >= ti->n_cols || memchr(ti->sort, ti->sort[c], c))
			abort();
	for (c = 0; c < ti->n_cols; c++) {
		if (ti->cols[c].type == CRMP_INT) {
			int64_t *v = malloc((ti->rows ? ti->rows : 1) * sizeof(*v));
			uint8_t *p = malloc(ti->rows ? ti->rows : 1);

			if (v && p && crmp_read_int(f, t, (int)c, v, p, &e) != 0 &&
			    (e.code != CRM_E_CORRUPT || !e.msg[0]))
				abort();
			free(v);
			free(p);
		} else {
			struct crmp_strs s;

			if (crmp_read_str(f, t, (int)c, &s, &e) == 0) {
				uint64_t r;

				for (r = 0; r < ti->rows; r++)
					if (s.codes[r] != UINT32_MAX && s.codes[r] >= s.n_dict)
						abort();
				crmp_strs_release(&s);
			} else if (e.code != CRM_E_CORRUPT || !e.msg[0]) {
				abort();
			}
		}
		memset(&e, 0, sizeof(e));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crmp_file *f = NULL;
	struct crm_err e = { 0 };
	size_t t;

	if (crmp_open_mem(data, size, "fuzz.crmp", &f, &e) != 0) {
		if ((e.code != CRM_E_CORRUPT && e.code != CRM_E_NOMEM) || !e.msg[0])
			abort();
		return 0;
	}
	for (t = 0; t < crmp_n_tables(f); t++)
		check_table(f, (int)t);
	crmp_close(f);
	return 0;
}
