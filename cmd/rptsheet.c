/*
 * rptsheet.c -- the tables of `hushgate report`: rows of cells built as
 * strings, then printed as aligned text, as a TSV block (a comment line
 * naming it, a header line, the rows, a blank line) or as one member of
 * the JSON document.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "wire/wire.h"

void
rptsheet_init(struct rptsheet *sh, const char *name, const char *title,
    size_t ncols, const char *const *cols, const int *types)
{
	memset(sh, 0, sizeof *sh);
	sh->sh_name = name;
	sh->sh_title = title;
	sh->sh_ncols = ncols;
	sh->sh_cols = cols;
	sh->sh_types = types;
}

void
rptsheet_free(struct rptsheet *sh)
{
	size_t	i;

	for (i = 0; i < sh->sh_ncells; i++)
		free(sh->sh_cells[i]);
	free(sh->sh_cells);
	memset(sh, 0, sizeof *sh);
}

/* The next cell, row after row. */
void
rptsheet_cell(struct rptsheet *sh, const char *fmt, ...)
{
	va_list	ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatalx("report: out of memory");
	va_end(ap);
	if (sh->sh_ncells == sh->sh_cap) {
		sh->sh_cap = sh->sh_cap == 0 ? 64 : sh->sh_cap * 2;
		sh->sh_cells = xreallocarray(sh->sh_cells, sh->sh_cap,
		    sizeof *sh->sh_cells);
	}
	sh->sh_cells[sh->sh_ncells++] = s;
}

/* s with tabs, newlines and other control bytes as spaces (TSV, text). */
static void
rpt_plain(FILE *f, const char *s, int width, int right)
{
	int	n = (int)strlen(s), i;

	if (right)
		for (i = n; i < width; i++)
			fputc(' ', f);
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, f);
	if (!right)
		for (i = n; i < width; i++)
			fputc(' ', f);
}

static void
rpt_json_string(FILE *f, const char *s)
{
	char	esc[RPT_MAX_FIELD * 6 + 1];

	json_escape(esc, sizeof esc, s);
	fprintf(f, "\"%s\"", esc);
}

/* A cell as a JSON value of its column's type. */
static void
rpt_json_cell(FILE *f, const char *s, int type)
{
	const char	*p, *c;
	char		 one[RPT_MAX_FIELD];

	if (type == RPT_COL_NUM) {
		fputs(s, f);
		return;
	}
	if (type != RPT_COL_LIST) {
		rpt_json_string(f, s);
		return;
	}
	fputc('[', f);
	for (p = s; *p != '\0'; p = *c != '\0' ? c + 1 : c) {
		if ((c = strchr(p, ',')) == NULL)
			c = p + strlen(p);
		snprintf(one, sizeof one, "%.*s", (int)(c - p), p);
		if (p != s)
			fputc(',', f);
		rpt_json_string(f, one);
	}
	fputc(']', f);
}

static void
rpt_print_json(FILE *f, const struct rptsheet *sh, int first)
{
	size_t	r, c, nrows = sh->sh_ncells / sh->sh_ncols;

	fprintf(f, "%s\n  \"%s\": [", first ? "" : ",", sh->sh_name);
	for (r = 0; r < nrows; r++) {
		fprintf(f, "%s\n    {", r == 0 ? "" : ",");
		for (c = 0; c < sh->sh_ncols; c++) {
			fprintf(f, "%s\"%s\": ", c == 0 ? "" : ", ",
			    sh->sh_cols[c]);
			rpt_json_cell(f, sh->sh_cells[r * sh->sh_ncols + c],
			    sh->sh_types[c]);
		}
		fputc('}', f);
	}
	fprintf(f, "%s]", nrows > 0 ? "\n  " : "");
}

static void
rpt_print_tsv(FILE *f, const struct rptsheet *sh)
{
	size_t	i;

	fprintf(f, "# %s\n", sh->sh_name);
	for (i = 0; i < sh->sh_ncols; i++)
		fprintf(f, "%s%s", i == 0 ? "" : "\t", sh->sh_cols[i]);
	fputc('\n', f);
	for (i = 0; i < sh->sh_ncells; i++) {
		rpt_plain(f, sh->sh_cells[i], 0, 0);
		fputc((i + 1) % sh->sh_ncols == 0 ? '\n' : '\t', f);
	}
	fputc('\n', f);
}

static void
rpt_print_table(FILE *f, const struct rptsheet *sh)
{
	int	*w;
	size_t	 i, c;
	int	 right;

	w = xreallocarray(NULL, sh->sh_ncols, sizeof *w);
	for (c = 0; c < sh->sh_ncols; c++)
		w[c] = (int)strlen(sh->sh_cols[c]);
	for (i = 0; i < sh->sh_ncells; i++) {
		c = i % sh->sh_ncols;
		if ((int)strlen(sh->sh_cells[i]) > w[c])
			w[c] = (int)strlen(sh->sh_cells[i]);
	}
	fprintf(f, "%s\n", sh->sh_title);
	for (c = 0; c < sh->sh_ncols; c++) {
		right = sh->sh_types[c] == RPT_COL_NUM;
		fputs("  ", f);
		rpt_plain(f, sh->sh_cols[c], c + 1 == sh->sh_ncols && !right ?
		    0 : w[c], right);
	}
	fputc('\n', f);
	for (i = 0; i < sh->sh_ncells; i++) {
		c = i % sh->sh_ncols;
		right = sh->sh_types[c] == RPT_COL_NUM;
		fputs("  ", f);
		rpt_plain(f, sh->sh_cells[i], c + 1 == sh->sh_ncols &&
		    !right ? 0 : w[c], right);
		if (c + 1 == sh->sh_ncols)
			fputc('\n', f);
	}
	if (sh->sh_ncells == 0)
		fprintf(f, "  (none)\n");
	fputc('\n', f);
	free(w);
}

/* Print sh in format; first: the first member of the JSON document. */
void
rptsheet_print(FILE *f, const struct rptsheet *sh, enum rpt_format format,
    int first)
{
	switch (format) {
	case RPT_JSON:
		rpt_print_json(f, sh, first);
		break;
	case RPT_TSV:
		rpt_print_tsv(f, sh);
		break;
	default:
		rpt_print_table(f, sh);
		break;
	}
}
