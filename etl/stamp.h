/*
 * stamp.h - fingerprints of the files a piece of work read and wrote, so
 * `crmetl run` can tell that nothing changed since it last did that work.
 *
 * A stamp is a SHA-256 over text and file identities. A file's identity is
 * its name, device, inode, size and modification time (ns), not its bytes:
 * every file crmetl writes is replaced by a rename, which gives it a new
 * inode, so an identity that did not change is a file that was not
 * rewritten, and reading gigabytes to prove it is not needed. A missing
 * file has an identity too ("missing"), so appearing or vanishing counts.
 *
 * Lifecycle: stamp_init, any number of stamp_text / stamp_file /
 * stamp_dir, then stamp_hex once. Nothing is allocated but in stamp_dir.
 */
#ifndef CRM_STAMP_H
#define CRM_STAMP_H

#include "err.h"
#include "sha256.h"

struct stamp {
	struct sha256 c;
};

void stamp_init(struct stamp *s);

/* Add a piece of text (a setting, a name). */
void stamp_text(struct stamp *s, const char *text);

/* Add the identity of `path` (following a symbolic link), or "missing". */
void stamp_file(struct stamp *s, const char *path);

/*
 * Add the identities of every file in `dir` whose name ends in `suffix`,
 * in name order (a missing directory adds "no directory").
 */
int stamp_dir(struct stamp *s, const char *dir, const char *suffix, struct crm_err *e);

/*
 * Add the identity of the running program: its executable, every shared
 * object loaded (libm and zlib decide bits of what it computes) and, on
 * x86, the CPU features glibc picks its maths code by. -1 without
 * /proc/self/exe: then nothing the program made may be taken as its own.
 */
int stamp_program(struct stamp *s);

/* The fingerprint as 64 lowercase hex digits and a NUL. */
void stamp_hex(struct stamp *s, char out[SHA256_HEX_LEN + 1]);

#endif
