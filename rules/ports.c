/*
 * ports.c -- port lists ("443", "8000-8100").
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules.h"

/*
 * Add one item ("443" or "8000-8100") to ps. Returns 0, or -1 with *why.
 */
int
portset_parse_item(struct hg_portset *ps, const char *s, const char **why)
{
	const char	*dash = strchr(s, '-');
	uint16_t	 lo, hi;

	if (dash == NULL) {
		if (port_parse(s, strlen(s), &lo) != 0) {
			*why = "invalid port (1-65535)";
			return (-1);
		}
		hi = lo;
	} else {
		if (port_parse(s, (size_t)(dash - s), &lo) != 0 ||
		    port_parse(dash + 1, strlen(dash + 1), &hi) != 0) {
			*why = "invalid port range";
			return (-1);
		}
		if (hi < lo) {
			*why = "port range ends before it starts";
			return (-1);
		}
	}
	ps->ps_ranges = xreallocarray(ps->ps_ranges, ps->ps_count + 1,
	    sizeof *ps->ps_ranges);
	ps->ps_ranges[ps->ps_count].pr_lo = lo;
	ps->ps_ranges[ps->ps_count].pr_hi = hi;
	ps->ps_count++;
	return (0);
}

int
portset_contains(const struct hg_portset *ps, uint16_t port)
{
	size_t	i;

	for (i = 0; i < ps->ps_count; i++)
		if (port >= ps->ps_ranges[i].pr_lo &&
		    port <= ps->ps_ranges[i].pr_hi)
			return (1);
	return (0);
}

void
portset_free(struct hg_portset *ps)
{
	free(ps->ps_ranges);
	ps->ps_ranges = NULL;
	ps->ps_count = 0;
}
