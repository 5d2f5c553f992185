/*
 * crmp.h - period files (docs/period-format.md is the specification).
 *
 * Writer: collect tables of columns in memory (crmp_writer_*), encode,
 * compress and write them atomically with crmp_writer_commit(). The writer
 * copies nothing it is given until commit: column arrays are borrowed and
 * must stay valid until crmp_writer_free().
 *
 * Reader: crmp_open() reads a whole file, checks header and directory
 * (every length, offset and checksum) and keeps the raw bytes; columns are
 * decoded on demand into caller-owned arrays. The reader never trusts a
 * length it has not checked against the buffer it indexes.
 */
#ifndef CRM_CRMP_H
#define CRM_CRMP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum crmp_kind { CRMP_PERIOD = 1, CRMP_DIMENSION = 2 };
enum crmp_type { CRMP_INT = 1, CRMP_STR = 2 };
enum crmp_enc {
	CRMP_PLAIN = 1, CRMP_DELTA = 2, CRMP_DICT = 3, CRMP_FRONT = 4, CRMP_NUMBERED = 5,
	CRMP_PLANES = 6, CRMP_DAYS = 7
};

#define CRMP_MAX_TABLES 16
#define CRMP_MAX_COLUMNS 32
#define CRMP_MAX_STRING 65535
#define CRMP_MAX_RAW (1u << 30)
/*
 * Rows of one table. A chunk can state any number of equal or absent
 * values in a few bytes, so the reader cannot tell a file's real size
 * from its bytes, and every reader allocates rows x 8 bytes a column; this
 * cap bounds what a file of a few hundred bytes can make a reader ask
 * for to what a genuine table of the most rows needs (2 GiB a column),
 * instead of 32 GiB.
 */
#define CRMP_MAX_ROWS ((uint64_t)1 << 28)

/* A string column as the reader returns it: a dictionary and a code per row. */
struct crmp_strs {
	uint32_t n_dict;      /* entries in dict: distinct values, or present rows (front-coded) */
	const char **dict;    /* owned array of n_dict NUL-terminated values: ascending and
				 distinct, but for a front-coded column one a present row,
				 in row order */
	uint32_t *lens;       /* owned: byte length of each dictionary value */
	uint32_t *codes;      /* owned: per row, index into dict; UINT32_MAX = null */
	char *bytes;          /* owned storage the dict points into */
};

/* ---- writer ---- */

struct crmp_writer;

struct crmp_writer *crmp_writer_new(enum crmp_kind kind, int period);

/* Start a table of `rows` rows; columns follow with crmp_writer_int/str. */
int crmp_writer_table(struct crmp_writer *w, const char *name, uint64_t rows,
		      struct crm_err *e);

/*
 * The current table's sort key (docs/period-format.md, "Directory"):
 * its rows are in ascending order of columns cols[0..n) (indexes in the
 * order the columns are added, most significant first). Without it the
 * key is empty: no order is stated. Checked against the columns when the
 * table is encoded.
 */
int crmp_writer_sorted(struct crmp_writer *w, const int *cols, size_t n, struct crm_err *e);
/* An integer column: values[rows]; present[rows] (1/0) or NULL = all present. */
int crmp_writer_int(struct crmp_writer *w, const char *name, const int64_t *values,
		    const uint8_t *present, struct crm_err *e);

/*
 * An integer column of the local days (days since 1970-01-01) of the
 * times (UTC seconds) in column `ref` of the same table, added before: an
 * integer column without nulls (present NULL). values[rows], all present.
 * Stored as each day's difference to the UTC day of its time, which the
 * timezone keeps small (docs/period-format.md, encoding 7).
 */
int crmp_writer_days(struct crmp_writer *w, const char *name, const int64_t *values, int ref,
		     struct crm_err *e);
/* A string column: vals[rows] (NULL = absent) with lens[rows]. */
int crmp_writer_str(struct crmp_writer *w, const char *name, const char *const *vals,
		    const uint32_t *lens, struct crm_err *e);

/*
 * A string column whose present values are all `prefix` (plen bytes, not
 * ending in a digit) followed by exactly `width` digits (1..18, leading
 * zeros kept), given as their numbers: nums[rows], present[rows] (1/0) or
 * NULL = all present. The bytes are those crmp_writer_str would write for
 * the same strings (the numbered encoding), but no string is read: the
 * normalizer keeps ids as numbers while it sorts. prefix is borrowed.
 */
int crmp_writer_numbered(struct crmp_writer *w, const char *name, const char *prefix,
			 uint32_t plen, unsigned width, const int64_t *nums,
			 const uint8_t *present, struct crm_err *e);

/*
 * A string column whose present values are all `prefix` (plen bytes)
 * followed by 1 to 15 digits of any width, given as digit keys:
 * keys[rows] (absent rows ignored), present[rows] (1/0) or NULL = all
 * present. A key is crmp_digits_key of the digits: it orders as the
 * digits' bytes do and differs when they differ, so the normalizer sorts
 * ids whose width grew ("c999999", "c1000000") as numbers. The bytes are
 * those crmp_writer_str would write for the same strings. prefix is
 * borrowed, like the arrays.
 */
int crmp_writer_digits(struct crmp_writer *w, const char *name, const char *prefix,
		       uint32_t plen, const int64_t *keys, const uint8_t *present,
		       struct crm_err *e);

#define CRMP_DIGITS_MAX 15

/*
 * The key of digits d[0..n) (n 1..15): each digit plus one in a 4-bit
 * group, first digit highest, padded with zero groups to 15, so a digit
 * string that is a prefix of another comes first, as in byte order (a
 * base of 16, not 11, so that the digits come back with shifts). Below
 * 2^60.
 */
int64_t crmp_digits_key(const char *d, uint32_t n);
/* The same for `number` written in `width` digits, zero-padded (it must fit). */
int64_t crmp_number_key(uint64_t number, unsigned width);
/* The digits of a key back into out (room for 15); returns how many. */
unsigned crmp_key_digits(int64_t key, char *out);

/*
 * A string column of few distinct values, given as a code per row:
 * codes[rows], each < n_vals (value vals[code] of lens[code] bytes), or
 * CRMP_CODE_ABSENT. The bytes are those crmp_writer_str would write for
 * the same strings; the normalizer keeps such columns (kinds, channels)
 * as one byte a row instead of a pointer and a length. vals[n_vals] must
 * be distinct. All arrays are borrowed.
 */
#define CRMP_CODE_ABSENT 255
#define CRMP_MAX_CODES 255

int crmp_writer_coded(struct crmp_writer *w, const char *name, const char *const *vals,
		      const uint32_t *lens, unsigned n_vals, const uint8_t *codes,
		      struct crm_err *e);

/*
 * Encode, compress and write to `path` atomically. When the file already
 * exists with the same bytes nothing is written and *changed = 0.
 */
int crmp_writer_commit(struct crmp_writer *w, const char *path, int *changed,
		       struct crm_err *e);

/*
 * Encode the tables added so far (all their columns must be there) and
 * stop borrowing their arrays: a caller writing a big file may free each
 * table's columns right after adding it. Tables added later follow. The
 * bytes are the same as without flushing. A table of many rows is encoded
 * on a helper thread as well as the caller's (the columns are only read).
 */
int crmp_writer_flush(struct crmp_writer *w, struct crm_err *e);

/* Encode into a heap buffer instead (tests, verify); caller frees *out. Once per writer. */
int crmp_writer_encode(struct crmp_writer *w, unsigned char **out, size_t *len,
		       struct crm_err *e);

void crmp_writer_free(struct crmp_writer *w);

/* ---- reader ---- */

struct crmp_col_info {
	char name[64];
	enum crmp_type type;
	enum crmp_enc enc;
	uint64_t nulls, offset, stored, raw;
	uint32_t crc;
};

struct crmp_table_info {
	char name[64];
	uint64_t rows;
	size_t n_sort;                  /* sort key, most significant first; 0 in version 1 files */
	uint8_t sort[CRMP_MAX_COLUMNS]; /* column indexes, distinct, < n_cols */
	size_t n_cols;
	struct crmp_col_info cols[CRMP_MAX_COLUMNS];
};

struct crmp_file;

/* Read and check a whole file (header, directory, chunk ranges). */
int crmp_open(const char *path, struct crmp_file **out, struct crm_err *e);
/* Same from memory (copied); `name` is used in messages. */
int crmp_open_mem(const void *data, size_t len, const char *name,
		  struct crmp_file **out, struct crm_err *e);
void crmp_close(struct crmp_file *f);

enum crmp_kind crmp_kind(const struct crmp_file *f);
int crmp_period(const struct crmp_file *f);
uint64_t crmp_file_size(const struct crmp_file *f);
/* The format version in the header (major 1 or 2; any minor). */
void crmp_version(const struct crmp_file *f, unsigned *major, unsigned *minor);
size_t crmp_n_tables(const struct crmp_file *f);
const struct crmp_table_info *crmp_table_info(const struct crmp_file *f, size_t i);

/* Index of a table by name, or -1. */
int crmp_find_table(const struct crmp_file *f, const char *name);
/* Index of a column by name in table t, or -1. */
int crmp_find_column(const struct crmp_file *f, int t, const char *name);

/*
 * Decode integer column c of table t into values (rows entries, 0 where
 * absent) and present (rows bytes, or NULL if not wanted). Caller allocates.
 */
int crmp_read_int(const struct crmp_file *f, int t, int c, int64_t *values,
		  uint8_t *present, struct crm_err *e);

/* Decode string column c of table t; release with crmp_strs_release(). */
int crmp_read_str(const struct crmp_file *f, int t, int c, struct crmp_strs *out,
		  struct crm_err *e);

/* The shape of a numbered string column: value = prefix + the number in `width` digits. */
struct crmp_numbered {
	char prefix[64];      /* NUL-terminated */
	uint32_t plen;
	unsigned width;       /* digits, leading zeros kept; 0: no leading zeros, any width */
};

/*
 * A string column of numbered ids ("c000123") read as numbers, without
 * making a string per row: nums[rows] (absent rows 0), present[rows] (1/0,
 * may be NULL) and the shape. Returns 1, reading nothing, when the column
 * is not stored numbered in this file (then use crmp_read_str); 0 or a
 * CRM_E_* error as the other readers. Equal ids have equal numbers.
 */
int crmp_read_numbered(const struct crmp_file *f, int t, int c, int64_t *nums,
		       uint8_t *present, struct crmp_numbered *shape, struct crm_err *e);
void crmp_strs_release(struct crmp_strs *s);

/* Check every chunk's CRC and decode every column (inspect, verify). */
int crmp_check_all(const struct crmp_file *f, struct crm_err *e);

#endif
