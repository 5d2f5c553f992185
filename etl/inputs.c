/*
 * inputs.c - describe a pipeline's inputs for change detection (inputs.h).
 *
 * Sources with a url are described by the file the fetch stage stored
 * (fetch_current), so a fetch that brought new bytes makes the next
 * normalize run, and a 304 does not.
 */
#include "inputs.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fetch.h"
#include "schema.h"

#include "banned.h"

/* Size and CRC-32 of a file's bytes, read in blocks. */
static int file_crc(const char *path, unsigned long long *size, unsigned long *crc,
		    struct crm_err *e)
{
	unsigned char *block = malloc(1 << 20);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t n;

	*size = 0;
	*crc = crc32(0, NULL, 0);
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
		*crc = crc32(*crc, block, (uInt)n);
		*size += (unsigned long long)n;
	}
out:
	if (fd >= 0)
		close(fd);
	free(block);
	return rc;
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

int inputs_describe(const struct cfg *cfg, struct buf *out, struct crm_err *e)
{
	size_t i, j;
	int rc = 0;

	buf_printf(out, "crmetl normalize inputs 1\ntimezone %s\ncurrency %s\nmax_reject_ratio %.17g\n",
		 cfg->timezone, cfg->currency, cfg->max_reject_ratio);
	for (i = 0; i < cfg->n_sources && rc == 0; i++) {
		const struct cfg_source *s = &cfg->sources[i];
		glob_t g;

		describe_source(s, out);
		if (!s->file) {
			struct crm_err ignored = { 0 };
			char *path = NULL;
			unsigned long long size;
			unsigned long crc;

			/* Not fetched yet: normalize itself will say so. */
			if (fetch_current(cfg->data_dir, s->name, &path, &ignored) == 0 &&
			    file_crc(path, &size, &crc, &ignored) == 0)
				buf_printf(out, "fetched %s %llu %08lx\n", path, size, crc);
			else
				buf_printf(out, "not fetched %s\n", s->url);
			free(path);
			continue;
		}
		if (glob(s->file, GLOB_ERR, NULL, &g) != 0) {
			buf_printf(out, "no files for %s\n", s->file);
			continue;
		}
		for (j = 0; j < g.gl_pathc && rc == 0; j++) {
			unsigned long long size;
			unsigned long crc;

			rc = file_crc(g.gl_pathv[j], &size, &crc, e);
			if (rc == 0)
				buf_printf(out, "file %s %llu %08lx\n", g.gl_pathv[j], size, crc);
		}
		globfree(&g);
	}
	if (rc == 0 && out->failed)
		rc = err_set(e, CRM_E_NOMEM, "out of memory describing the inputs");
	return rc;
}
