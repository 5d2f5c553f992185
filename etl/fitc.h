/*
 * fitc.h - the CLV fits of a period kept from one compute to the next.
 *
 * Why: the nightly run computes the last 13 periods again (the report
 * compares with a year before), because the customers dimension changes
 * every night. But a period's BG/NBD and Gamma-Gamma fits depend only on
 * its model inputs, which change only when that period's order history
 * does: refitting twelve unchanged periods was most of the nightly
 * compute.
 *
 * A fit is deterministic, so the cache may only return what a new fit
 * would: an entry is keyed by the SHA-256 of the exact inputs (every
 * customer's x, t_x, T and mean spend, in order, or what makes them:
 * fitc_key_days) and of a salt naming
 * the program that fitted (fitc_salt: the compute engine version, the
 * identity of the running executable and of every shared library loaded,
 * libm's exp and log above all, and the CPU features glibc picks their
 * code by), and holds the parameters in exact hexadecimal floating
 * point. Anything else (another key, a torn or foreign file) is a miss,
 * and the caller fits again.
 *
 * One file per period, <dir>/YYYY-MM.fit, replaced by a rename; not
 * synced: losing it costs a fit, not a result.
 */
#ifndef CRM_FITC_H
#define CRM_FITC_H

#include <stddef.h>
#include <stdint.h>

#include "clv.h"
#include "sha256.h"

#define FITC_KEY_LEN SHA256_HEX_LEN

/* What a period's fits gave: bg always (it is only cached when fitted). */
struct fitc_entry {
	struct clv_bgnbd bg;
	int gg_fitted;         /* gg holds a fit */
	struct clv_gg gg;
};

/*
 * The salt of this program (64 hex digits and a NUL), from `program` (the
 * engine version, say) and the identities above; -1 without
 * /proc/self/exe (then nothing may be cached).
 */
int fitc_salt(const char *program, char salt[FITC_KEY_LEN + 1]);

/* The key of inputs c[0..n) under `salt` (64 hex digits and a NUL). */
void fitc_key(const struct clv_cust *c, size_t n, const char *salt,
	      char key[FITC_KEY_LEN + 1]);

/*
 * The key of inputs c[0..n) made of whole days, as compute's are, from
 * what they are made of: per customer xT[i] = x << 32 | T in days,
 * txd[i] = t_x in days, and c[i].mean_spend; x, t_x = txd / 7.0 and
 * T = (xT & 0xffffffff) / 7.0 are then c[i]'s other fields, so these
 * 20 bytes a customer key the same inputs as fitc_key's 32 (a SHA-256
 * of some 20 MB, not 30, at a million customers). Its keys never equal
 * fitc_key's (a tag of its own).
 */
void fitc_key_days(const uint64_t *xT, const int32_t *txd, const struct clv_cust *c, size_t n,
		   const char *salt, char key[FITC_KEY_LEN + 1]);

/* 1 with *out filled when `path` holds an entry of `key`; 0 otherwise. */
int fitc_load(const char *path, const char *key, struct fitc_entry *out);

/* Store the entry under `key` at `path` (its directory must exist); -1 when it could not. */
int fitc_save(const char *path, const char *key, const struct fitc_entry *en);

#endif
