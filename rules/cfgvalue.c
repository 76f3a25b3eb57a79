/*
 * cfgvalue.c -- the configuration loader's errors and the readers of
 * common values: strings, numbers, switches, address prefixes, ports,
 * actions, durations, sizes and ratios. Each error is reported as
 * "file:line:col: message" (libyaml gives the marks) and the load goes on
 * to show them all. Every other rules/cfg*.c file uses these; they use
 * none of them.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "rules.h"
#include "cfgload.h"

/* An error at node n of the file being read (n NULL: no place). */
void
cfg_err(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	errors_addv(ld->ld_errs, ld->ld_file,
	    n ? (unsigned)n->start_mark.line + 1 : 0,
	    n ? (unsigned)n->start_mark.column + 1 : 0, fmt, ap);
	va_end(ap);
}

/* A string value; NULL (with an error) for anything else. */
const char *
cfg_want_string(struct loader *ld, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE || cfg_is_null(n)) {
		cfg_err(ld, n, "%s: expected a string", what);
		return (NULL);
	}
	if (strlen(cfg_scalar(n)) != n->data.scalar.length) {
		cfg_err(ld, n, "%s: NUL character in string", what);
		return (NULL);
	}
	return (cfg_scalar(n));
}

/* A number from min to max into *out: 0, or -1 with an error. */
int
cfg_want_uint(struct loader *ld, const yaml_node_t *n, const char *what,
    unsigned long min, unsigned long max, unsigned *out)
{
	const char	*s;
	char		*end;
	unsigned long	 v;

	if (n->type != YAML_SCALAR_NODE || cfg_is_null(n)) {
		cfg_err(ld, n, "%s: expected a number", what);
		return (-1);
	}
	s = cfg_scalar(n);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 ||
	    v < min || v > max) {
		cfg_err(ld, n,
		    "%s: expected a number from %lu to %lu, not '%s'", what,
		    min, max, s);
		return (-1);
	}
	*out = (unsigned)v;
	return (0);
}

/* 0 when n is of the type, else -1 with an error naming what. */
int
cfg_want_kind(struct loader *ld, const yaml_node_t *n, yaml_node_type_t type,
    const char *what)
{
	if (n->type == type)
		return (0);
	cfg_err(ld, n, "%s: expected a %s", what,
	    type == YAML_MAPPING_NODE ? "mapping" :
	    type == YAML_SEQUENCE_NODE ? "list" : "scalar");
	return (-1);
}

/*
 * Walk a mapping: checks that keys are strings and unique, then calls fn
 * for each pair.
 */
void
cfg_each_pair(struct loader *ld, yaml_node_t *map, pair_fn fn, void *arg)
{
	yaml_node_pair_t	*p, *q;
	yaml_node_t		*k, *k2;

	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = cfg_node(ld, p->key);
		if (k->type != YAML_SCALAR_NODE) {
			cfg_err(ld, k, "mapping key must be a string");
			continue;
		}
		for (q = map->data.mapping.pairs.start; q < p; q++) {
			k2 = cfg_node(ld, q->key);
			if (k2->type == YAML_SCALAR_NODE &&
			    strcmp(cfg_scalar(k2), cfg_scalar(k)) == 0)
				break;
		}
		if (q < p) {
			cfg_err(ld, k, "duplicate key '%s'", cfg_scalar(k));
			continue;
		}
		fn(ld, cfg_scalar(k), k, cfg_node(ld, p->value), arg);
	}
}

/*
 * What the Windows build does without (no setuid/chroot, no crypt(3) for
 * Basic authentication, no syslog: the CK_NOWIN keys and syslog as the
 * decision log) is an error there, in its place, rather than a surprise
 * when the proxy starts. Returns 1 (with the error) on Windows, else 0.
 */
int
cfg_platform_lacks(struct loader *ld, const yaml_node_t *n, const char *what)
{
#ifdef _WIN32
	cfg_err(ld, n, "%s: not available in the Windows build", what);
	return (1);
#else
	return (0);
#endif
}

/* on/off (also true/false, yes/no). */
void
cfg_want_switch(struct loader *ld, yaml_node_t *v, const char *what, int *out)
{
	const char	*s;

	if ((s = cfg_want_string(ld, v, what)) == NULL)
		return;
	if (strcmp(s, "on") == 0 || strcmp(s, "true") == 0 ||
	    strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "off") == 0 || strcmp(s, "false") == 0 ||
	    strcmp(s, "no") == 0)
		*out = 0;
	else
		cfg_err(ld, v, "%s: expected on or off", what);
}

/* A list of CIDR prefixes (clients, destinations.allow) into *arr. */
void
cfg_set_cidrs(struct loader *ld, yaml_node_t *v, const char *what,
    struct hg_cidr **arr, size_t *np)
{
	yaml_node_item_t	*it;

	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, what) != 0)
		return;
	free(*arr);
	*arr = NULL;
	*np = 0;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++)
		cfg_add_cidr(ld, cfg_node(ld, *it), what, arr, np);
}

/* One CIDR string onto *arr; what names the key in messages. */
void
cfg_add_cidr(struct loader *ld, yaml_node_t *n, const char *what,
    struct hg_cidr **arr, size_t *np)
{
	const char	*s;

	if ((s = cfg_want_string(ld, n, what)) == NULL)
		return;
	*arr = xreallocarray(*arr, *np + 1, sizeof **arr);
	if (cidr_parse(s, &(*arr)[*np]) != 0) {
		cfg_err(ld, n, "%s: '%s' is not an address or prefix "
		    "(ADDRESS/BITS, host bits zero)", what, s);
		return;
	}
	(*np)++;
}

/* A list of ports and port ranges, in place of *ps. */
void
cfg_set_ports(struct loader *ld, yaml_node_t *v, struct hg_portset *ps,
    const char *what)
{
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	const char		*s, *why;

	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, what) != 0)
		return;
	portset_free(ps);
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = cfg_node(ld, *it);
		if ((s = cfg_want_string(ld, n, what)) == NULL)
			continue;
		if (portset_parse_item(ps, s, &why) != 0)
			cfg_err(ld, n, "%s: '%s': %s", what, s, why);
	}
}

/* allow, deny or audit. */
void
cfg_set_action(struct loader *ld, yaml_node_t *v, const char *what,
    enum hg_action *out)
{
	const char	*s;

	if ((s = cfg_want_string(ld, v, what)) == NULL)
		return;
	if (action_parse(s, out) != 0)
		cfg_err(ld, v, "%s: '%s' is not one of allow, deny, audit",
		    what, s);
}

/* A duration from min_ms up, or a size, or a ratio: settings shared by
 * the top-level `lists:` and each url: list. */
void
cfg_set_duration(struct loader *ld, yaml_node_t *v, const char *what,
    unsigned min_ms, unsigned *out, int *bad)
{
	const char	*s;
	unsigned	 ms;

	if ((s = cfg_want_string(ld, v, what)) == NULL) {
		*bad = 1;
		return;
	}
	if (duration_parse(s, &ms) != 0 || ms < min_ms) {
		cfg_err(ld, v, "%s: '%s' is not a duration of %us or more "
		    "(e.g. 30s, 10m, 24h)", what, s, min_ms / 1000);
		*bad = 1;
		return;
	}
	*out = ms;
}

void
cfg_set_size(struct loader *ld, yaml_node_t *v, const char *what,
    uint64_t *out, int *bad)
{
	const char	*s;

	if ((s = cfg_want_string(ld, v, what)) == NULL) {
		*bad = 1;
		return;
	}
	if (size_parse(s, out) != 0) {
		cfg_err(ld, v, "%s: '%s' is not a size from 1 byte to 1GiB "
		    "(e.g. 512KiB, 64MiB)", what, s);
		*bad = 1;
	}
}

void
cfg_set_ratio(struct loader *ld, yaml_node_t *v, const char *what, double *out,
    int *bad)
{
	const char	*s;

	if ((s = cfg_want_string(ld, v, what)) == NULL) {
		*bad = 1;
		return;
	}
	if (ratio_parse(s, out) != 0) {
		cfg_err(ld, v,
		    "%s: '%s' is not a fraction from 0 to 1 (e.g. 0.5)", what,
		    s);
		*bad = 1;
	}
}

/* A category's or a client group's name: lowercase letters, digits, '-'
 * and '_', at most 64. */
int
cfg_category_name_valid(const char *s)
{
	size_t	i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return (0);
	for (i = 0; s[i] != '\0'; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return (0);
	}
	return (i <= 64);
}
