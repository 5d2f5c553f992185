/*
 * inputs.c - describe a pipeline's inputs for change detection (inputs.h).
 *
 * Sources with a url are described by the file the fetch stage stored
 * (fetch_current) and the SHA-256 it recorded, so a fetch that brought new
 * bytes makes the next normalize run, and a 304 does not. Export files on
 * disk are hashed here when their hashes decide whether anything changed;
 * when the sizes already say so, normalize hashes each file while it
 * parses it (inputs_set_hash), and inputs_hash_files any it did not read.
 */
#include "inputs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "schema.h"
#include "sha256.h"
#include "stamp.h"

#include "banned.h"

int inputs_hash_file(const char *path, unsigned long long *size,
		     char hex[SHA256_HEX_LEN + 1], struct crm_err *e)
{
	unsigned char *block = malloc(1 << 20), digest[SHA256_LEN];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	struct sha256 ctx;
	ssize_t n;

	*size = 0;
	hex[0] = '\0';
	sha256_init(&ctx);
	if (!block || fd < 0) {
		rc = fd < 0 ? err_sys(e, CRM_E_INPUT, errno, path, "cannot open")
			    : err_set(e, CRM_E_NOMEM, "out of memory");
		goto out;
	}
	while ((n = read(fd, block, 1 << 20)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_sys(e, CRM_E_IO, errno, path, "cannot read");
			break;
		}
		sha256_update(&ctx, block, (size_t)n);
		*size += (unsigned long long)n;
	}
	sha256_final(&ctx, digest);
	sha256_hex(digest, hex);
out:
	if (fd >= 0)
		close(fd);
	free(block);
	return rc;
}

void inputs_files_release(struct inputs_files *files)
{
	size_t i;

	if (!files)
		return;
	for (i = 0; i < files->n; i++)
		free(files->v[i].path);
	free(files->v);
	files->v = NULL;
	files->n = 0;
}

const struct inputs_file *inputs_find(const struct inputs_files *files, size_t source,
				      const char *path)
{
	size_t i;

	for (i = 0; files && i < files->n; i++)
		if (files->v[i].source == source && strcmp(files->v[i].path, path) == 0)
			return &files->v[i];
	return NULL;
}

/* Remember a file found (files may be NULL: the caller only wants the text). */
static int note_file(struct inputs_files *files, size_t source, const char *path,
		     unsigned long long size, const char *hex, struct crm_err *e)
{
	struct inputs_file *v, *f;

	if (!files)
		return 0;
	v = realloc(files->v, (files->n + 1) * sizeof(*v));
	if (!v)
		return err_set(e, CRM_E_NOMEM, "out of memory describing the inputs");
	files->v = v;
	f = &v[files->n];
	f->source = source;
	f->size = size;
	f->text_at = SIZE_MAX;
	memcpy(f->sha256, hex, SHA256_HEX_LEN + 1);
	if (!(f->path = strdup(path)))
		return err_set(e, CRM_E_NOMEM, "out of memory describing the inputs");
	files->n++;
	return 0;
}

static void describe_source(const struct cfg_source *s, struct buf *out)
{
	const struct schema_entity_def *ent = schema_entity(s->entity);
	size_t i;

	buf_printf(out, "source %s entity=%s format=%s delimiter=%d record=%s\n", s->name, ent->name,
		 s->format == CFG_FMT_XML ? "xml" : "csv", s->delimiter, s->record ? s->record : "");
	for (i = 0; i < ent->n_fields; i++)
		if (s->map[i])
			buf_printf(out, "map %s=%s\n", ent->fields[i].name, s->map[i]);
}

/*
 * A fetched source: its stored body, named by its SHA-256 in current.meta
 * (fetch_current has checked the body is there with that size), so the
 * bytes need not be read again.
 */
static int describe_fetched(const struct cfg *cfg, size_t k, struct buf *out,
			    struct inputs_files *files, struct crm_err *e)
{
	const struct cfg_source *s = &cfg->sources[k];
	struct crm_err ignored = { 0 };
	struct fetch_meta *m = malloc(sizeof(*m));
	char *path = NULL;
	int rc = 0;

	if (!m)
		return err_set(e, CRM_E_NOMEM, "out of memory describing the inputs");
	/* Not fetched yet: normalize itself will say so. */
	if (fetch_current(cfg->data_dir, s->name, &path, &ignored) == 0 &&
	    fetch_meta_read(cfg->data_dir, s->name, m, &ignored) == 0) {
		buf_printf(out, "fetched %s %llu %s\n", path, m->size, m->sha256);
		rc = note_file(files, k, path, m->size, m->sha256, e);
	} else {
		buf_printf(out, "not fetched %s\n", s->url);
	}
	free(path);
	free(m);
	return rc;
}

/* An export file described by its size only: its hash comes later (inputs_hash_files). */
static int describe_unhashed(const char *path, size_t k, struct buf *out,
			     struct inputs_files *files, struct crm_err *e)
{
	char hex[SHA256_HEX_LEN + 1], none[SHA256_HEX_LEN + 1] = "";
	struct stat st;
	int rc;

	if (stat(path, &st) != 0)
		return err_sys(e, CRM_E_INPUT, errno, path, "cannot open");
	memset(hex, INPUTS_UNHASHED, SHA256_HEX_LEN);
	hex[SHA256_HEX_LEN] = '\0';
	buf_printf(out, "file %s %llu %s\n", path, (unsigned long long)st.st_size, hex);
	rc = note_file(files, k, path, (unsigned long long)st.st_size, none, e);
	if (rc == 0 && !out->failed)
		files->v[files->n - 1].text_at = out->len - 1 - SHA256_HEX_LEN;
	return rc;
}

static int describe_files(const struct cfg *cfg, size_t k, struct buf *out,
			  struct inputs_files *files, int hash, struct crm_err *e)
{
	const struct cfg_source *s = &cfg->sources[k];
	glob_t g;
	size_t j;
	int rc = 0;

	if (glob(s->file, GLOB_ERR, NULL, &g) != 0) {
		buf_printf(out, "no files for %s\n", s->file);
		return 0;
	}
	for (j = 0; j < g.gl_pathc && rc == 0; j++) {
		unsigned long long size;
		char hex[SHA256_HEX_LEN + 1];

		if (!hash) {
			rc = describe_unhashed(g.gl_pathv[j], k, out, files, e);
			continue;
		}
		rc = inputs_hash_file(g.gl_pathv[j], &size, hex, e);
		if (rc == 0)
			buf_printf(out, "file %s %llu %s\n", g.gl_pathv[j], size, hex);
		if (rc == 0)
			rc = note_file(files, k, g.gl_pathv[j], size, hex, e);
	}
	globfree(&g);
	return rc;
}

/* The hash of entry f, of `size` bytes, into f and its place in `out`. */
static int record_hash(struct inputs_file *f, struct buf *out, const char *hex,
		       unsigned long long size, struct crm_err *e)
{
	if (size != f->size)
		return err_at(e, CRM_E_INPUT, f->path, 0, NULL,
			      "export changed while it was read (%llu bytes, then %llu)", f->size, size);
	memcpy(f->sha256, hex, SHA256_HEX_LEN + 1);
	if (f->text_at + SHA256_HEX_LEN <= out->len)
		memcpy(out->data + f->text_at, hex, SHA256_HEX_LEN);
	f->text_at = SIZE_MAX;
	return 0;
}

int inputs_hash_files(struct inputs_files *files, struct buf *out, struct crm_err *e)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < files->n && rc == 0; i++) {
		struct inputs_file *f = &files->v[i];
		unsigned long long size = 0;
		char hex[SHA256_HEX_LEN + 1];

		if (f->text_at == SIZE_MAX)
			continue;
		rc = inputs_hash_file(f->path, &size, hex, e);
		if (rc == 0)
			rc = record_hash(f, out, hex, size, e);
	}
	return rc;
}

int inputs_unhashed(const struct inputs_file *f)
{
	return f->text_at != SIZE_MAX;
}

int inputs_set_hash(struct inputs_files *files, struct buf *out, const struct inputs_file *f,
		    const char hex[SHA256_HEX_LEN + 1], unsigned long long size, struct crm_err *e)
{
	size_t i = (size_t)(f - files->v);

	if (i >= files->n)
		CRM_BUG("inputs_set_hash of an entry not in the list");
	if (!inputs_unhashed(f))
		return 0;
	return record_hash(&files->v[i], out, hex, size, e);
}

/* The length of the line starting at p (without its LF). */
static size_t line_len(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));

	return lf ? (size_t)(lf - p) : (size_t)(end - p);
}

/* Whether a line of `now` ends in a hash placeholder. */
static int unhashed_line(const unsigned char *p, size_t len)
{
	size_t i;

	if (len < SHA256_HEX_LEN || memcmp(p, "file ", 5) != 0)
		return 0;
	for (i = len - SHA256_HEX_LEN; i < len; i++)
		if (p[i] != INPUTS_UNHASHED)
			return 0;
	return 1;
}

int inputs_may_match(const struct buf *now, const unsigned char *old, size_t len)
{
	const unsigned char *p = now->data, *end = now->data + now->len;
	const unsigned char *q = old, *qend = old + len;

	if (!p)
		return len == 0;
	while (p < end && q < qend) {
		size_t a = line_len(p, end), b = line_len(q, qend);
		size_t same = unhashed_line(p, a) ? a - SHA256_HEX_LEN : a;

		if (a != b || memcmp(p, q, same) != 0)
			return 0;
		p += a + 1;
		q += b + 1;
	}
	return p >= end && q >= qend;
}

/*
 * The identity of this program (stamp_program: the executable, its shared
 * libraries), or, where it cannot be told, a text no later run repeats,
 * so that the inputs never look unchanged to a program that cannot prove
 * it is the same one.
 */
static void program_identity(char out[SHA256_HEX_LEN + 64])
{
	struct stamp s;
	struct timespec now;

	stamp_init(&s);
	if (stamp_program(&s) == 0) {
		stamp_hex(&s, out);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(out, SHA256_HEX_LEN + 64, "unknown %lld.%09ld %ld", (long long)now.tv_sec,
		 now.tv_nsec, (long)getpid());
}

int inputs_describe(const struct cfg *cfg, struct buf *out, struct inputs_files *files,
		    int hash, struct crm_err *e)
{
	char program[SHA256_HEX_LEN + 64];
	size_t i;
	int rc = 0;

	program_identity(program);
	/*
	 * Version 3 names the program: a new crmetl may encode period files
	 * otherwise, so after an upgrade the inputs count as changed once and
	 * every month is built again (version 2 had no such line; older texts
	 * force one rebuild too).
	 */
	buf_printf(out, "crmetl normalize inputs 3\nprogram %s\ntimezone %s\ncurrency %s\n"
		   "max_reject_ratio %.17g\n", program, cfg->timezone, cfg->currency,
		   cfg->max_reject_ratio);
	for (i = 0; i < cfg->n_sources && rc == 0; i++) {
		describe_source(&cfg->sources[i], out);
		if (!cfg->sources[i].file)
			rc = describe_fetched(cfg, i, out, files, e);
		else
			rc = describe_files(cfg, i, out, files, hash || !files, e);
	}
	if (rc == 0 && out->failed)
		rc = err_set(e, CRM_E_NOMEM, "out of memory describing the inputs");
	return rc;
}
