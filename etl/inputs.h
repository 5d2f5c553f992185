/*
 * inputs.h - what a normalize run reads, written down so the next run can
 * tell whether anything changed.
 *
 * The description is plain text: the settings that shape period files
 * (timezone, currency, each source's entity, format and mapping) and, for
 * every export file a source's glob finds, its path, size and CRC-32. Two
 * runs over the same inputs give the same text byte for byte, so "nothing
 * changed" is a string comparison; reading a file for its CRC costs far
 * less than parsing it.
 */
#ifndef CRM_INPUTS_H
#define CRM_INPUTS_H

#include "buf.h"
#include "cfg.h"
#include "err.h"

/* Append the description of cfg's inputs to `out` (initialised by the caller). */
int inputs_describe(const struct cfg *cfg, struct buf *out, struct crm_err *e);

#endif
