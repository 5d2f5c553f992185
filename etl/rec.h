/*
 * rec.h - one input record as the CSV and XML readers hand it out.
 *
 * A reader is opened with the list of export names it should collect (one
 * per canonical field, after map.<field> is applied); each record then
 * carries, at the same positions, the value found for each name. The
 * normalizer validates and converts them; readers only split text.
 *
 * Values are NUL-terminated and borrowed: valid until the reader's next
 * call. A field that is absent has val == NULL; an empty field has len 0
 * (both mean "missing" to the normalizer, EXPORTS.md).
 */
#ifndef CRM_REC_H
#define CRM_REC_H

#include <stddef.h>

#define REC_MAX_FIELDS 16

struct rec {
	long line;                       /* 1-based line where the record starts */
	int bad;                         /* malformed record: values unusable */
	const char *reason;              /* why it is bad (borrowed), else NULL */
	const char *val[REC_MAX_FIELDS]; /* value per wanted name, or NULL */
	size_t len[REC_MAX_FIELDS];
};

#endif
