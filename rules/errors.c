/*
 * errors.c -- the error list that configuration and list loaders fill.
 *
 * Loaders keep going after an error so that one run shows them all; each
 * message is "file:line:col: text" with 1-based line and column.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "rules.h"

void
errors_init(struct hg_errors *e)
{
	e->er_msgs = NULL;
	e->er_count = e->er_cap = e->er_dropped = 0;
}

void
errors_free(struct hg_errors *e)
{
	size_t	i;

	for (i = 0; i < e->er_count; i++)
		free(e->er_msgs[i]);
	free(e->er_msgs);
	errors_init(e);
}

void
errors_addv(struct hg_errors *e, const char *file, unsigned line,
    unsigned col, const char *fmt, va_list ap)
{
	char	*msg, *full;

	if (e->er_count >= HG_MAX_ERRORS) {
		e->er_dropped++;
		return;
	}
	if (vasprintf(&msg, fmt, ap) == -1)
		abort();
	if (line == 0)
		xasprintf(&full, "%s: %s", file, msg);
	else if (col == 0)
		xasprintf(&full, "%s:%u: %s", file, line, msg);
	else
		xasprintf(&full, "%s:%u:%u: %s", file, line, col, msg);
	free(msg);
	if (e->er_count == e->er_cap) {
		e->er_cap = e->er_cap ? e->er_cap * 2 : 8;
		e->er_msgs = xreallocarray(e->er_msgs, e->er_cap,
		    sizeof *e->er_msgs);
	}
	e->er_msgs[e->er_count++] = full;
}

void
errors_add(struct hg_errors *e, const char *file, unsigned line,
    unsigned col, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	errors_addv(e, file, line, col, fmt, ap);
	va_end(ap);
}

/* Append a message that is already formatted. */
void
errors_add_msg(struct hg_errors *e, const char *msg)
{
	if (e->er_count >= HG_MAX_ERRORS) {
		e->er_dropped++;
		return;
	}
	if (e->er_count == e->er_cap) {
		e->er_cap = e->er_cap ? e->er_cap * 2 : 8;
		e->er_msgs = xreallocarray(e->er_msgs, e->er_cap,
		    sizeof *e->er_msgs);
	}
	e->er_msgs[e->er_count++] = xstrdup(msg);
}

size_t
errors_total(const struct hg_errors *e)
{
	return (e->er_count + e->er_dropped);
}

/* Each message on its own line, then how many were dropped. */
void
errors_print(const struct hg_errors *e, FILE *f)
{
	size_t	i;

	for (i = 0; i < e->er_count; i++)
		fprintf(f, "%s\n", e->er_msgs[i]);
	if (e->er_dropped)
		fprintf(f, "(%zu more errors)\n", e->er_dropped);
}
