/*
 * met_stamp.h - does compute have anything to do? The inputs of the
 * metrics are the period files and a few configuration values; a stamp of
 * them (each period file's name, size and CRC-32, the values, the engine
 * version) is kept in <data_dir>/metrics/computed.txt with the periods
 * computed under it. When the stamp is unchanged and every requested
 * period's files are there, compute can skip the work (unless --force).
 *
 * computed.txt, text, written atomically:
 *   crmetl compute stamp 1
 *   <stamp lines>
 *   computed all            (a run without --period/--from/--to)
 *   computed YYYY-MM        (one line per period, sorted)
 */
#ifndef CRM_MET_STAMP_H
#define CRM_MET_STAMP_H

#include "buf.h"
#include "err.h"

struct cfg;

/*
 * Bump whenever any output of compute can change: a metric's definition,
 * the output format, or the numbers themselves (a fix, the CLV fits'
 * arithmetic), so that outputs computed by an older crmetl are computed
 * again after an upgrade instead of being kept as "nothing changed".
 * 3: the CLV predictions of fits at the edge (NaN before, 4484769) and
 * the edge fits' leap (33abe6f) changed values that version 2 wrote.
 */
#define MET_ENGINE_VERSION 3

/* The stamp text of the current inputs into out (appended). */
int met_stamp_make(const struct cfg *cfg, const char *periods_dir, struct buf *out,
		   struct crm_err *e);

/*
 * 1 when metrics_dir/computed.txt holds this stamp and covers the request
 * (all = 1: a run without a range; else periods from..to, each with its
 * three files present), else 0. Never an error: anything unreadable is 0.
 */
int met_stamp_done(const char *metrics_dir, const struct buf *stamp, int all, int from, int to);

/*
 * Record that the request was computed under this stamp: kept lines of the
 * same stamp are merged, any other stamp's are dropped.
 */
int met_stamp_record(const char *metrics_dir, const struct buf *stamp, int all, int from,
		     int to, struct crm_err *e);

#endif
