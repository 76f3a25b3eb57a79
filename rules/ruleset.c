/*
 * ruleset.c -- the rule index, built: categories, source files, and each
 * pattern added to its chain, prefix list or glob list (see rsindex.h).
 */
#include "config.h"

#include "rules/compat.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rsindex.h"

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
    0xff };

static uint32_t
hash_name(const char *s, size_t len)
{
	uint32_t	h = FNV_INIT;

	while (len > 0) {
		h ^= (unsigned char)s[--len];
		h *= FNV_PRIME;
	}
	return (h);
}

struct hg_ruleset *
ruleset_new(void)
{
	struct hg_ruleset	*rs;

	rs = xcalloc(1, sizeof *rs);
	rs->rs_mask = 1023;
	rs->rs_nodes = xcalloc(rs->rs_mask + 1, sizeof *rs->rs_nodes);
	rs->rs_namecap = 4096;
	rs->rs_names = xcalloc(rs->rs_namecap, 1);
	rs->rs_namelen = 1;		/* NODE_FREE */
	errors_init(&rs->rs_warnings);
	return (rs);
}

void
ruleset_free(struct hg_ruleset *rs)
{
	size_t	i, j;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->rs_ncats; i++) {
		free(rs->rs_cats[i].ca_name);
		free(rs->rs_cats[i].ca_description);
		free(rs->rs_cats[i].ca_breaks);
		free(rs->rs_cats[i].ca_note);
		for (j = 0; j < rs->rs_cats[i].ca_ngact; j++)
			free(rs->rs_cats[i].ca_gact[j].ga_name);
		free(rs->rs_cats[i].ca_gact);
	}
	free(rs->rs_cats);
	for (i = 0; i < rs->rs_nfiles; i++)
		free(rs->rs_files[i]);
	free(rs->rs_files);
	free(rs->rs_rules);
	free(rs->rs_nodes);
	free(rs->rs_names);
	for (i = 0; i < rs->rs_nglobs; i++)
		free(rs->rs_globs[i].gl_pattern);
	free(rs->rs_globs);
	free(rs->rs_cidrs);
	for (i = 0; i < rs->rs_npgroups; i++)
		free(rs->rs_pgroups[i].pg_slots);
	free(rs->rs_pgroups);
	free(rs->rs_filter);
	for (i = 0; i < rs->rs_nportsets; i++)
		portset_free(&rs->rs_portsets[i]);
	free(rs->rs_portsets);
	errors_free(&rs->rs_warnings);
	free(rs);
}

/* Remember a source file name; returns its index. */
uint32_t
ruleset_add_file(struct hg_ruleset *rs, const char *path)
{
	size_t	i;

	for (i = 0; i < rs->rs_nfiles; i++)
		if (strcmp(rs->rs_files[i], path) == 0)
			return ((uint32_t)i);
	rs->rs_files = xreallocarray(rs->rs_files, rs->rs_nfiles + 1,
	    sizeof *rs->rs_files);
	rs->rs_files[rs->rs_nfiles] = xstrdup(path);
	return ((uint32_t)rs->rs_nfiles++);
}

const char *
ruleset_file(const struct hg_ruleset *rs, uint32_t idx)
{
	if (idx >= rs->rs_nfiles)
		return ("-");
	return (rs->rs_files[idx]);
}

/* Add a category (its name must be new); returns its index. */
uint32_t
ruleset_add_category(struct hg_ruleset *rs, const char *name,
    enum hg_action action, uint32_t file, uint32_t line)
{
	struct hg_category	*ca;

	rs->rs_cats = xreallocarray(rs->rs_cats, rs->rs_ncats + 1,
	    sizeof *rs->rs_cats);
	ca = &rs->rs_cats[rs->rs_ncats];
	memset(ca, 0, sizeof *ca);
	ca->ca_name = xstrdup(name);
	ca->ca_action = action;
	ca->ca_file = file;
	ca->ca_line = line;
	return ((uint32_t)rs->rs_ncats++);
}

uint32_t
ruleset_find_category(const struct hg_ruleset *rs, const char *name)
{
	size_t	i;

	for (i = 0; i < rs->rs_ncats; i++)
		if (strcmp(rs->rs_cats[i].ca_name, name) == 0)
			return ((uint32_t)i);
	return (HG_NONE);
}

struct hg_category *
ruleset_category(struct hg_ruleset *rs, uint32_t idx)
{
	return (idx < rs->rs_ncats ? &rs->rs_cats[idx] : NULL);
}

const struct hg_category *
ruleset_category_const(const struct hg_ruleset *rs, uint32_t idx)
{
	return (idx < rs->rs_ncats ? &rs->rs_cats[idx] : NULL);
}

size_t
ruleset_ncategories(const struct hg_ruleset *rs)
{
	return (rs->rs_ncats);
}

static void
table_grow(struct hg_ruleset *rs, size_t size)
{
	struct node	*old = rs->rs_nodes, *no;
	size_t		 oldsize = rs->rs_mask + 1, i, j;

	rs->rs_mask = size - 1;
	rs->rs_nodes = xcalloc(size, sizeof *rs->rs_nodes);
	hg_prefault(rs->rs_nodes, size * sizeof *rs->rs_nodes);
	for (i = 0; i < oldsize; i++) {
		if (old[i].no_name == NODE_FREE)
			continue;
		j = old[i].no_hash & rs->rs_mask;
		while (rs->rs_nodes[j].no_name != NODE_FREE)
			j = (j + 1) & rs->rs_mask;
		no = &rs->rs_nodes[j];
		*no = old[i];
	}
	free(old);
}

static struct node *
node_get(struct hg_ruleset *rs, const char *name, size_t len)
{
	uint32_t	 h = hash_name(name, len);
	struct node	*no;
	int		 k;

	no = node_slot(rs, name, len, h);
	if (no->no_name != NODE_FREE)
		return (no);
	if ((rs->rs_nnodes + 1) * 4 > (rs->rs_mask + 1) * 3) {
		table_grow(rs, (rs->rs_mask + 1) * 2);
		no = node_slot(rs, name, len, h);
	}
	if (rs->rs_namelen + len + 1 > rs->rs_namecap) {
		while (rs->rs_namelen + len + 1 > rs->rs_namecap)
			rs->rs_namecap *= 2;
		rs->rs_names = xreallocarray(rs->rs_names, rs->rs_namecap, 1);
	}
	memcpy(rs->rs_names + rs->rs_namelen, name, len);
	rs->rs_names[rs->rs_namelen + len] = '\0';
	no->no_name = (uint32_t)rs->rs_namelen;
	no->no_hash = h;
	for (k = 0; k < CH_MAX; k++)
		no->no_chain[k] = HG_NONE;
	rs->rs_namelen += len + 1;
	rs->rs_nnodes++;
	return (no);
}

/*
 * A hint while a long list is added: the table slot of the name pattern p
 * (as written: ".name" and "*.name" stand for "name") is fetched ahead,
 * so that the cache misses of consecutive inserts overlap.
 */
void
ruleset_prefetch(const struct hg_ruleset *rs, const char *p, size_t len)
{
	if (len > 0 && p[0] == '.') {
		p++;
		len--;
	} else if (len > 1 && p[0] == '*' && p[1] == '.') {
		p += 2;
		len -= 2;
	}
	__builtin_prefetch(&rs->rs_nodes[hash_name(p, len) & rs->rs_mask], 1);
}

/*
 * Room for n more names of namebytes bytes in all, so that a long list is
 * not rehashed and copied again and again while it is added.
 */
void
ruleset_reserve(struct hg_ruleset *rs, size_t n, size_t namebytes)
{
	size_t	want = rs->rs_nnodes + n, size = rs->rs_mask + 1;

	if (n == 0)
		return;
	while ((want + 1) * 4 > size * 3)
		size *= 2;
	while (size > rs->rs_mask + 1)
		table_grow(rs, size);
	if (rs->rs_namelen + namebytes > rs->rs_namecap) {
		rs->rs_namecap = rs->rs_namelen + namebytes;
		rs->rs_names = xreallocarray(rs->rs_names, rs->rs_namecap, 1);
		hg_prefault(rs->rs_names + rs->rs_namelen, namebytes);
	}
	if (rs->rs_nrules + n > rs->rs_caprules) {
		rs->rs_caprules = rs->rs_nrules + n;
		rs->rs_rules = xreallocarray(rs->rs_rules, rs->rs_caprules,
		    sizeof *rs->rs_rules);
		hg_prefault(rs->rs_rules + rs->rs_nrules,
		    n * sizeof *rs->rs_rules);
	}
}

/* Do port sets a and b (HG_NONE: any port) admit the same ports? */
int
rs_ports_equal(const struct hg_ruleset *rs, uint32_t a, uint32_t b)
{
	const struct hg_portset	*pa, *pb;

	if (a == HG_NONE || b == HG_NONE)
		return (a == b);
	pa = &rs->rs_portsets[a];
	pb = &rs->rs_portsets[b];
	return (pa->ps_count == pb->ps_count && memcmp(pa->ps_ranges,
	    pb->ps_ranges, pa->ps_count * sizeof *pa->ps_ranges) == 0);
}

static uint32_t
rule_new(struct hg_ruleset *rs, uint32_t cat, uint32_t file, uint32_t line,
    uint32_t ports)
{
	struct rule	*ru;

	if (rs->rs_nrules == rs->rs_caprules) {
		rs->rs_caprules = rs->rs_caprules ? rs->rs_caprules * 2 : 256;
		rs->rs_rules = xreallocarray(rs->rs_rules, rs->rs_caprules,
		    sizeof *rs->rs_rules);
	}
	ru = &rs->rs_rules[rs->rs_nrules];
	ru->ru_cat = cat;
	ru->ru_file = file;
	ru->ru_line = line;
	ru->ru_ports = ports;
	ru->ru_next = HG_NONE;
	return ((uint32_t)rs->rs_nrules++);
}

/*
 * Compare a new rule with an older one for the same pattern: a duplicate
 * in the same category is dropped (returns 1); the same pattern in another
 * category is a tie, which the earlier category wins, with a warning.
 */
static int
rule_clash(struct hg_ruleset *rs, const struct rule *old, uint32_t cat,
    uint32_t file, uint32_t line, uint32_t ports, const char *pattern)
{
	if (!rs_ports_equal(rs, old->ru_ports, ports))
		return (0);
	if (old->ru_cat == cat) {
		rs->rs_dups++;
		return (1);
	}
	errors_add(&rs->rs_warnings, ruleset_file(rs, file), line, 0,
	    "warning: %s is in category %s and in category %s (%s:%u); "
	    "%s wins (defined first)", pattern, rs->rs_cats[cat].ca_name,
	    rs->rs_cats[old->ru_cat].ca_name, ruleset_file(rs, old->ru_file),
	    old->ru_line,
	    rs->rs_cats[old->ru_cat < cat ? old->ru_cat : cat].ca_name);
	return (0);
}

/* Insert a rule into a chain, keeping category order. */
static void
chain_insert(struct hg_ruleset *rs, uint32_t *head, uint32_t cat,
    uint32_t file, uint32_t line, uint32_t ports, const char *pattern)
{
	uint32_t	*link = head, idx, r;

	for (r = *head; r != HG_NONE; r = rs->rs_rules[r].ru_next)
		if (rule_clash(rs, &rs->rs_rules[r], cat, file, line, ports,
		    pattern))
			return;
	while (*link != HG_NONE && rs->rs_rules[*link].ru_cat <= cat)
		link = &rs->rs_rules[*link].ru_next;
	idx = rule_new(rs, cat, file, line, ports);
	rs->rs_rules[idx].ru_next = *link;
	*link = idx;
	rs->rs_cats[cat].ca_rules++;
}

/*
 * Parse a port restriction "443", "[80,443]", "[8000-8100, 443]" into a
 * new port set; returns its index or HG_NONE with *why.
 */
static uint32_t
ports_add(struct hg_ruleset *rs, const char *s, size_t len,
    const char **why)
{
	struct hg_portset	 ps = { NULL, 0 };
	char			 buf[256], *p, *item, *end;

	if (len == 0 || len >= sizeof buf) {
		*why = "invalid port restriction";
		return (HG_NONE);
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	p = buf;
	if (*p == '[') {
		if (buf[len - 1] != ']') {
			*why = "unterminated port list";
			return (HG_NONE);
		}
		buf[len - 1] = '\0';
		p++;
	}
	for (;;) {
		item = p;
		end = strchr(p, ',');
		if (end != NULL)
			*end = '\0';
		while (*item == ' ')
			item++;
		{
			size_t n = strlen(item);
			while (n > 0 && item[n - 1] == ' ')
				item[--n] = '\0';
		}
		if (portset_parse_item(&ps, item, why) != 0) {
			portset_free(&ps);
			return (HG_NONE);
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	rs->rs_portsets = xreallocarray(rs->rs_portsets, rs->rs_nportsets + 1,
	    sizeof *rs->rs_portsets);
	rs->rs_portsets[rs->rs_nportsets] = ps;
	return ((uint32_t)rs->rs_nportsets++);
}

static int
glob_valid(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > HG_MAX_HOST)
		return (0);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '*'))
			return (0);
	}
	return (1);
}

/* Does the glob name anything (so it cannot match every host)? */
static int
glob_has_literal(const char *g)
{
	for (; *g != '\0'; g++)
		if ((*g >= 'a' && *g <= 'z') || (*g >= '0' && *g <= '9'))
			return (1);
	return (0);
}

/*
 * Add one pattern (pat[0..len)) to category cat, remembering its source.
 * Forms: "name", ".name", "*.name", "a.b.c.d[/n]", "v6[/n]", "[v6[/n]]",
 * any of them followed by ":port" or ":[p1,p2-p3]" (bare IPv6 takes no
 * port), and globs with '*' elsewhere. Returns 0, or -1 with *why.
 */
int
ruleset_add_pattern(struct hg_ruleset *rs, uint32_t cat, const char *pat,
    size_t len, uint32_t file, uint32_t line, const char **why)
{
	char			 buf[HG_MAX_HOST + 64], host[HG_MAX_HOST + 64];
	const char		*colon = NULL, *h;
	size_t			 hlen, i, ncolons = 0;
	uint32_t		 ports = HG_NONE;
	struct hg_target	 t;
	struct node		*no;
	int			 chain;

	if (len == 0) {
		*why = "empty pattern";
		return (-1);
	}
	if (len >= sizeof buf) {
		*why = "pattern too long";
		return (-1);
	}
	for (i = 0; i < len; i++) {
		char c = pat[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		buf[i] = c;
		if (c == ':')
			ncolons++;
	}
	buf[len] = '\0';

	/* Split off a port restriction. */
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (close == NULL) {
			*why = "unterminated '['";
			return (-1);
		}
		if (close[1] == ':')
			colon = close + 1;
		else if (close[1] != '\0') {
			*why = "junk after ']'";
			return (-1);
		}
		hlen = (size_t)(close - buf) - 1;
		memcpy(host, buf + 1, hlen);
		host[hlen] = '\0';
		if (strchr(host, ':') == NULL) {
			*why = "brackets are for IPv6 addresses";
			return (-1);
		}
	} else {
		if (ncolons == 1)
			colon = strchr(buf, ':');
		hlen = colon ? (size_t)(colon - buf) : len;
		memcpy(host, buf, hlen);
		host[hlen] = '\0';
	}
	if (colon != NULL) {
		ports = ports_add(rs, colon + 1, strlen(colon + 1), why);
		if (ports == HG_NONE)
			return (-1);
	}
	if (hlen == 0) {
		*why = "empty host in pattern";
		return (-1);
	}

	/* Addresses and prefixes. */
	if (strchr(host, '/') != NULL || strchr(host, ':') != NULL ||
	    (host[0] >= '0' && host[0] <= '9' &&
	    strspn(host, "0123456789.") == hlen)) {
		struct hg_cidr	c;

		if (cidr_parse(host, &c) != 0) {
			*why = "invalid address or prefix";
			return (-1);
		}
		if (c.ci_family == 6 && c.ci_bits >= 96 &&
		    memcmp(c.ci_addr, v4mapped, sizeof v4mapped) == 0) {
			/* ::ffff:a.b.c.d is the IPv4 address, as targets are. */
			memmove(c.ci_addr, c.ci_addr + 12, 4);
			memset(c.ci_addr + 4, 0, 12);
			c.ci_family = 4;
			c.ci_bits -= 96;
		}
		if (rs->rs_ncidrs == rs->rs_capcidrs) {
			rs->rs_capcidrs = rs->rs_capcidrs ?
			    rs->rs_capcidrs * 2 : 64;
			rs->rs_cidrs = xreallocarray(rs->rs_cidrs,
			    rs->rs_capcidrs, sizeof *rs->rs_cidrs);
		}
		rs->rs_cidrs[rs->rs_ncidrs].cr_cidr = c;
		rs->rs_cidrs[rs->rs_ncidrs].cr_rule = rule_new(rs, cat, file,
		    line, ports);
		rs->rs_cidrs[rs->rs_ncidrs].cr_cat = cat;
		rs->rs_ncidrs++;
		rs->rs_cats[cat].ca_rules++;
		return (0);
	}

	h = host;
	chain = CH_EXACT;
	if (h[0] == '*' && h[1] == '.' && strchr(h + 2, '*') == NULL) {
		chain = CH_SUB;
		h += 2;
	} else if (strchr(h, '*') != NULL) {
		struct glob	*g;

		if (strcmp(h, "*") == 0) {
			*why = "a lone '*' matches everything: use 'default:'";
			return (-1);
		}
		if (!glob_valid(h, hlen)) {
			*why = "invalid character in glob pattern";
			return (-1);
		}
		if (!glob_has_literal(h)) {
			*why = "a glob without letters or digits matches "
			    "everything: use 'default:'";
			return (-1);
		}
		if (hlen > 0 && h[hlen - 1] == '.')
			host[--hlen] = '\0';
		rs->rs_globs = xreallocarray(rs->rs_globs, rs->rs_nglobs + 1,
		    sizeof *rs->rs_globs);
		g = &rs->rs_globs[rs->rs_nglobs++];
		g->gl_pattern = xstrdup(h);
		g->gl_rule = rule_new(rs, cat, file, line, ports);
		rs->rs_cats[cat].ca_rules++;
		return (0);
	} else if (h[0] == '.') {
		chain = CH_SUFFIX;
		h++;
	}
	if (host_normalise(h, strlen(h), &t, why) != 0)
		return (-1);
	if (t.t_kind != HG_HOST_NAME) {
		*why = "an address cannot be a name suffix";
		return (-1);
	}
	no = node_get(rs, t.t_host, t.t_len);
	chain_insert(rs, &no->no_chain[chain], cat, file, line, ports, buf);
	return (0);
}

void
ruleset_stats(const struct hg_ruleset *rs, size_t *rules, size_t *names,
    size_t *globs, size_t *cidrs, size_t *dups)
{
	if (rules != NULL)
		*rules = rs->rs_nrules - rs->rs_pdups;
	if (names != NULL)
		*names = rs->rs_nnodes;
	if (globs != NULL)
		*globs = rs->rs_nglobs;
	if (cidrs != NULL)
		*cidrs = rs->rs_ncidrs;
	if (dups != NULL)
		*dups = rs->rs_dups;
}

size_t
ruleset_nfiles(const struct hg_ruleset *rs)
{
	return (rs->rs_nfiles);
}
