/*
 * fuzz_regfile.c -- libFuzzer target for the backup file of `hushgate
 * winhttp` (backup_parse() in wire/regfile.c), the one file the Windows
 * wiring reads back before it writes the registry.
 *
 * Checks, beyond memory errors and leaks:
 *  - a refused input has a message starting "LINE:COL: " (or the odd
 *    length one) and leaves nothing allocated;
 *  - an accepted input formats (backup_format) to a file that parses to
 *    the same values, and formatting that again gives the same bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/regfile.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
same(const struct ww_backup *a, const struct ww_backup *b)
{
	size_t	i;

	for (i = 0; i < WW_NSLOTS; i++) {
		if (a->b_val[i].sv_present != b->b_val[i].sv_present)
			abort();
		if (!a->b_val[i].sv_present)
			continue;
		if (a->b_val[i].sv_type != b->b_val[i].sv_type ||
		    a->b_val[i].sv_len != b->b_val[i].sv_len ||
		    (a->b_val[i].sv_len > 0 && memcmp(a->b_val[i].sv_data,
		    b->b_val[i].sv_data, a->b_val[i].sv_len) != 0))
			abort();
	}
	for (i = 0; i < K_NKEYS; i++)
		if (a->b_exist[i] != b->b_exist[i])
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ww_backup	 a, b;
	struct ww_buf		 f1, f2;
	char			 err[512];
	unsigned		 line, col;

	err[0] = '\0';
	if (backup_parse(data, size, &a, err, sizeof err) != 0) {
		if (sscanf(err, "%u:%u: ", &line, &col) != 2 &&
		    strcmp(err, "odd number of bytes for UTF-16") != 0)
			abort();
		return (0);
	}
	memset(&f1, 0, sizeof f1);
	memset(&f2, 0, sizeof f2);
	if (backup_format(&a, &f1) != 0)
		abort();
	if (backup_parse(f1.wb_p, f1.wb_len, &b, err, sizeof err) != 0)
		abort();
	same(&a, &b);
	if (backup_format(&b, &f2) != 0 || f1.wb_len != f2.wb_len ||
	    memcmp(f1.wb_p, f2.wb_p, f1.wb_len) != 0)
		abort();
	free(f1.wb_p);
	free(f2.wb_p);
	backup_free(&a);
	backup_free(&b);
	return (0);
}
