/*
 * test_regfile.c -- the backup file of `hushgate winhttp`
 * (wire/regfile.c): a file it wrote parses and formats back to the same
 * bytes; each broken variant of it fails with its exact line:col message
 * and loses nothing (ASan sees the values parsed before the error freed).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "wire/regfile.h"

#define REG_FILE	"regfile/backup.reg"

/* The example backup as ASCII (every UTF-16 unit below 0x80). */
static char *
ascii_of(const char *reg, size_t len)
{
	char	*a = unit_keep(malloc(len / 2 + 1));
	size_t	 i;

	for (i = 2; i + 1 < len; i += 2)
		a[i / 2 - 1] = reg[i];
	a[(len - 2) / 2] = '\0';
	return (a);
}

/* ASCII back to UTF-16LE with a byte order mark. */
static unsigned char *
utf16_of(const char *a, size_t *lenp)
{
	size_t		 n = strlen(a), i;
	unsigned char	*u = unit_keep(malloc(2 * n + 2));

	u[0] = 0xff;
	u[1] = 0xfe;
	for (i = 0; i < n; i++) {
		u[2 + 2 * i] = (unsigned char)a[i];
		u[3 + 2 * i] = 0;
	}
	*lenp = 2 * n + 2;
	return (u);
}

static void
test_regfile_line(void **state)
{
	const struct unit_line	*l = *state;
	struct unit_bytes	 from, to, want;
	struct ww_backup	 bk, again;
	struct ww_buf		 out;
	char			*reg, *text, *edited, *at, err[512];
	unsigned char		*u;
	size_t			 len, ulen;
	int			 ok = strcmp(l->ul_fields[0], "ok") == 0;

	reg = unit_keep(unit_read_file(unit_data_path(REG_FILE), &len));
	assert_non_null(reg);
	text = ascii_of(reg, len);
	assert_int_equal(unit_unescape(l->ul_fields[1], &from), 0);
	assert_int_equal(unit_unescape(l->ul_fields[2], &to), 0);
	if ((at = strstr(text, from.ub_buf)) == NULL)
		fail_msg("%s:%u: '%s' is not in %s", l->ul_file, l->ul_lineno,
		    l->ul_fields[1], REG_FILE);
	edited = unit_keep(malloc(strlen(text) + to.ub_len + 1));
	snprintf(edited, strlen(text) + to.ub_len + 1, "%.*s%s%s",
	    (int)(at - text), text, to.ub_buf, at + from.ub_len);
	u = utf16_of(edited, &ulen);
	u = unit_keep(unit_exact_copy(u, ulen));
	err[0] = '\0';
	if (!ok) {
		assert_int_equal(unit_unescape(l->ul_fields[3], &want), 0);
		if (backup_parse(u, ulen, &bk, err, sizeof err) == 0) {
			backup_free(&bk);
			fail_msg("%s:%u: parsed, expected '%s'", l->ul_file,
			    l->ul_lineno, want.ub_buf);
		}
		if (strcmp(err, want.ub_buf) != 0)
			fail_msg("%s:%u: error '%s', expected '%s'",
			    l->ul_file, l->ul_lineno, err, want.ub_buf);
		return;
	}
	if (backup_parse(u, ulen, &bk, err, sizeof err) != 0)
		fail_msg("%s:%u: %s", l->ul_file, l->ul_lineno, err);
	memset(&out, 0, sizeof out);
	assert_int_equal(backup_format(&bk, &out), 0);
	/* What it writes is what it read, byte for byte, and reads again. */
	if (out.wb_len != ulen || memcmp(out.wb_p, u, ulen) != 0)
		fail_msg("%s:%u: formats to other bytes (%zu, read %zu)",
		    l->ul_file, l->ul_lineno, out.wb_len, ulen);
	if (backup_parse(out.wb_p, out.wb_len, &again, err, sizeof err) != 0)
		fail_msg("%s:%u: output does not parse: %s", l->ul_file,
		    l->ul_lineno, err);
	backup_free(&again);
	backup_free(&bk);
	free(out.wb_p);
}

static const struct unit_kind regfile_kinds[] = {
	{ "ok", 3, test_regfile_line },
	{ "bad", 4, test_regfile_line },
};

void
test_regfile_group(struct unit_group *g)
{
	unit_add_table(g, "regfile/cases.tsv", regfile_kinds,
	    sizeof regfile_kinds / sizeof regfile_kinds[0]);
}
