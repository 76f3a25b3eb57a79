/*
 * cfgwalk.c -- reading a mapping by the keyword table: each key through
 * its entry, by its type (the value's reader and the field it goes to) or
 * by its own function (ck_set) where it needs more; the errors for keys a
 * mapping does not take. The table itself (cfgkeys.c) names the readers
 * of the sections: it is reached through the loader (ld_keys), so that
 * those readers can walk their own mappings here.
 *
 * Messages name a key by its dotted path ("pac.max_age"), as the manual
 * does.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "rules.h"
#include "cfgload.h"

/* The mappings: how the manual names their keys, how errors name them. */
static const struct cfg_sect {
	const char	*cs_path;	/* "" at the top */
	const char	*cs_what;	/* in "WHAT: unknown key ..." */
	int		 cs_flags;
#define CSF_LOOSE	0x1	/* keys read as strings, no duplicate check */
#define CSF_ENTRY	0x2	/* an entry of a list, not a setting */
} cfg_sects[CS_MAX] = {
	[CS_TOP] =		{ "", "", 0 },
	[CS_AUTH] =		{ "auth", "auth", 0 },
	[CS_BASIC] =		{ "auth.basic", "auth.basic", 0 },
	[CS_NEGOTIATE] =	{ "auth.negotiate", "auth.negotiate", 0 },
	[CS_DESTINATIONS] =	{ "destinations", "destinations", 0 },
	[CS_METRICS] =		{ "metrics", "metrics", 0 },
	[CS_TIMEOUTS] =		{ "timeouts", "timeouts", 0 },
	[CS_DNS] =		{ "dns", "dns", 0 },
	[CS_LOG] =		{ "log", "log", 0 },
	[CS_LISTS] =		{ "lists", "lists", 0 },
	[CS_PAC] =		{ "pac", "pac", 0 },
	[CS_CONTROL] =		{ "control", "control", 0 },
	/* A listen entry has always taken its keys as they come, the last
	 * of a key given twice winning: kept, a configuration that loads
	 * must keep loading. */
	[CS_LISTEN] =		{ "listen", "listen", CSF_LOOSE | CSF_ENTRY },
	[CS_TLS] =		{ "listen.tls", "listen.tls",
				  CSF_LOOSE | CSF_ENTRY },
	[CS_GROUP] =		{ "clients", "clients", CSF_ENTRY },
	[CS_CATEGORY] =		{ "categories.*", "category", CSF_ENTRY },
	[CS_LIST] =		{ "categories.*.lists", "lists", CSF_ENTRY },
	[CS_LOGOUT] =		{ "log.outputs", "log.outputs", CSF_ENTRY },
	[CS_LDAP] =		{ "ldap", "ldap", 0 },
	[CS_UPSTREAM] =		{ "upstreams", "upstreams", CSF_ENTRY },
	[CS_ROUTE] =		{ "routes", "routes", CSF_ENTRY },
};

/* The key called name in section sec of the loader's table, or NULL. */
const struct cfg_key *
cfg_find(const struct loader *ld, enum cfg_section sec, const char *name)
{
	size_t	i;

	for (i = 0; i < ld->ld_nkeys; i++)
		if (ld->ld_keys[i].ck_section == sec &&
		    strcmp(ld->ld_keys[i].ck_name, name) == 0)
			return (&ld->ld_keys[i]);
	return (NULL);
}

/* Is ck a key of a list's entries (not a setting)? */
int
cfg_entry_key(const struct cfg_key *ck)
{
	return ((cfg_sects[ck->ck_section].cs_flags & CSF_ENTRY) != 0);
}

/* The dotted path of a key, as messages and the manual name it. */
void
cfg_key_path(const struct cfg_key *ck, char *buf, size_t len)
{
	const char	*sp = cfg_sects[ck->ck_section].cs_path;

	snprintf(buf, len, "%s%s%s", sp, *sp != '\0' ? "." : "",
	    ck->ck_name);
}

/* "a, b, c" of the keys of sec, with flags in mask equal to want. */
static void
key_list(const struct loader *ld, enum cfg_section sec, int mask, int want,
    char *buf, size_t len)
{
	size_t	i, n = 0;

	*buf = '\0';
	for (i = 0; i < ld->ld_nkeys; i++) {
		if (ld->ld_keys[i].ck_section != sec ||
		    (ld->ld_keys[i].ck_flags & mask) != want)
			continue;
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
		    n++ > 0 ? ", " : "", ld->ld_keys[i].ck_name);
	}
}

/* "a, b or c" (CK_EXPECT), "a, b, c" else, of the names of choices. */
static void
choice_list(const struct cfg_key *ck, char *buf, size_t len)
{
	const struct cfg_choice	*ch;

	*buf = '\0';
	for (ch = ck->ck_choices; ch->ch_name != NULL; ch++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
		    ch == ck->ck_choices ? "" : (ck->ck_flags & CK_EXPECT) &&
		    ch[1].ch_name == NULL ? " or " : ", ", ch->ch_name);
}

/*
 * A top-level key in an included file (ck NULL when the table has none
 * of that name): only the rules may be there.
 */
void
cfg_included_key(struct loader *ld, yaml_node_t *k, const struct cfg_key *ck,
    const char *key)
{
	char	list[256];

	if (ck != NULL) {
		cfg_err(ld, k, "'%s' is only allowed in the main configuration "
		    "file", key);
		return;
	}
	key_list(ld, CS_TOP, CK_MAIN, 0, list, sizeof list);
	cfg_err(ld, k, "unknown key '%s' (an included file may have %s)",
	    key, list);
}

static void
set_uint(struct loader *ld, const struct cfg_key *ck, yaml_node_t *v,
    const char *what, unsigned *out)
{
	if ((ck->ck_flags & CK_AUTO) && v->type == YAML_SCALAR_NODE) {
		if (strcmp(cfg_scalar(v), "auto") == 0) {
			*out = 0;
			return;
		}
		if (cfg_scalar(v)[0] < '0' || cfg_scalar(v)[0] > '9') {
			cfg_err(ld, v, "%s: expected 'auto' or a number from "
			    "%lu to %lu", what, ck->ck_min, ck->ck_max);
			return;
		}
	}
	cfg_want_uint(ld, v, what, ck->ck_min, ck->ck_max, out);
}

static void
set_choice(struct loader *ld, const struct cfg_key *ck, yaml_node_t *v,
    const char *what, int *out)
{
	const struct cfg_choice	*ch;
	const char		*s;
	char			 list[256];

	if ((s = cfg_want_string(ld, v, what)) == NULL)
		return;
	for (ch = ck->ck_choices; ch->ch_name != NULL; ch++) {
		if (strcmp(ch->ch_name, s) == 0) {
			*out = ch->ch_value;
			return;
		}
	}
	choice_list(ck, list, sizeof list);
	if (ck->ck_flags & CK_EXPECT)
		cfg_err(ld, v, "%s: expected %s", what, list);
	else
		cfg_err(ld, v, "%s: '%s' is not one of %s", what, s, list);
}

/* timeouts.*: a duration other than 0. */
static void
set_timeout(struct loader *ld, const struct cfg_key *ck, yaml_node_t *v,
    const char *what, unsigned *out)
{
	const char	*s;

	/* A value that is not a string is named by the key alone. */
	if ((s = cfg_want_string(ld, v, ck->ck_name)) == NULL)
		return;
	if (duration_parse(s, out) != 0 || *out == 0)
		cfg_err(ld, v, "%s: '%s' is not a duration (e.g. 500ms, 10s, "
		    "5m)", what, s);
}

static void
set_path(struct loader *ld, const struct cfg_key *ck, yaml_node_t *v,
    const char *what, char **out)
{
	const char	*s;

	if (ck->ck_flags & CK_NULL) {
		free(*out);
		*out = NULL;
		if (cfg_is_null(v))
			return;
	}
	if ((s = cfg_want_string(ld, v, what)) == NULL)
		return;
	free(*out);
	*out = path_join_dir(ld->ld_file, s);
}

/*
 * Read the value v of key k (the node of its name) as ck says, into base:
 * the configuration for the settings, the entry being read for the keys
 * of a list's entries.
 */
void
cfg_set(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *base)
{
	char	 what[CFG_MAX_PATH];
	void	*p = (char *)base + ck->ck_off;
	int	 bad = 0;

	if (ck->ck_set != NULL) {
		ck->ck_set(ld, ck, k, v, base);
		return;
	}
	cfg_key_path(ck, what, sizeof what);
	switch (ck->ck_type) {
	case CT_OTHER:
	case CT_LISTEN:		/* by ck_set */
	case CT_INCLUDE:	/* by the file loader (cfgfile.c) */
		break;
	case CT_SECTION:
		if (cfg_want_kind(ld, v, YAML_MAPPING_NODE, what) == 0)
			cfg_walk(ld, ck->ck_arg, v, base, NULL);
		break;
	case CT_UINT:
		set_uint(ld, ck, v, what, p);
		break;
	case CT_SWITCH:
		cfg_want_switch(ld, v, what, p);
		break;
	case CT_CHOICE:
		set_choice(ld, ck, v, what, p);
		break;
	case CT_TIMEOUT:
		set_timeout(ld, ck, v, what, p);
		break;
	case CT_DURATION:
		cfg_set_duration(ld, v, what, ck->ck_min, p, &bad);
		break;
	case CT_SIZE:
		cfg_set_size(ld, v, what, p, &bad);
		break;
	case CT_RATIO:
		cfg_set_ratio(ld, v, what, p, &bad);
		break;
	case CT_PATH:
		set_path(ld, ck, v, what, p);
		break;
	case CT_CIDRS:
		cfg_set_cidrs(ld, v, what, p,
		    (size_t *)((char *)base + ck->ck_noff));
		break;
	case CT_PORTS:
		cfg_set_ports(ld, v, p, what);
		break;
	}
}

struct walk {
	enum cfg_section	 w_sec;
	void			*w_base;
	const char		*w_what;
};

static void
walk_pair(struct loader *ld, const char *key, yaml_node_t *k, yaml_node_t *v,
    void *arg)
{
	struct walk		*w = arg;
	const struct cfg_key	*ck;
	char			 list[256];

	if ((ck = cfg_find(ld, w->w_sec, key)) == NULL) {
		key_list(ld, w->w_sec, 0, 0, list, sizeof list);
		cfg_err(ld, k, "%s: unknown key '%s' (%s)", w->w_what, key,
		    list);
		return;
	}
	cfg_set(ld, ck, k, v, w->w_base);
}

/*
 * Read the mapping map as section sec into base (see cfg_set). what names
 * the mapping in the message about a key it does not take (NULL: the
 * section's own name).
 */
void
cfg_walk(struct loader *ld, enum cfg_section sec, yaml_node_t *map,
    void *base, const char *what)
{
	struct walk		 w;
	yaml_node_pair_t	*p;
	yaml_node_t		*k;
	const char		*key;

	w.w_sec = sec;
	w.w_base = base;
	w.w_what = what != NULL ? what : cfg_sects[sec].cs_what;
	if (!(cfg_sects[sec].cs_flags & CSF_LOOSE)) {
		cfg_each_pair(ld, map, walk_pair, &w);
		return;
	}
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = cfg_node(ld, p->key);
		if ((key = cfg_want_string(ld, k, w.w_what)) != NULL)
			walk_pair(ld, key, k, cfg_node(ld, p->value), &w);
	}
}

/* The pair of mapping map whose key is the scalar name, or NULL. */
yaml_node_pair_t *
cfg_map_pair(struct loader *ld, yaml_node_t *map, const char *name)
{
	yaml_node_pair_t	*p;
	yaml_node_t		*k;

	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = cfg_node(ld, p->key);
		if (k->type == YAML_SCALAR_NODE &&
		    strcmp(cfg_scalar(k), name) == 0)
			return (p);
	}
	return (NULL);
}
