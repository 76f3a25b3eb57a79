/*
 * ruleset.c -- the compiled rule index.
 *
 * Names live once in an arena; an open-addressing hash maps each name to
 * up to three rule chains: rules for the exact name, rules for the name and
 * its subdomains (".name"), and rules for its subdomains only ("*.name").
 * A lookup hashes every suffix of the host in one right-to-left pass and
 * probes from the longest suffix to the shortest, so its cost depends on
 * the number of labels of the host, not on the number of rules. Address
 * prefixes and mid-label globs are kept apart (globs are the counted slow
 * path). Chains are kept sorted by category order, so that the first rule
 * of a chain that admits the port is the winner of a tie.
 */
#include "config.h"

#include "rules/compat.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

#define RS_MAX_LABELS	(HG_MAX_HOST / 2 + 2)

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
    0xff };

enum {
	CH_EXACT = 0,	/* "name" */
	CH_SUFFIX,	/* ".name": the name and every subdomain */
	CH_SUB,		/* "*.name": subdomains only */
	CH_MAX
};

struct rule {
	uint32_t	ru_cat;
	uint32_t	ru_file;
	uint32_t	ru_line;
	uint32_t	ru_ports;	/* index in rs_portsets, HG_NONE: any */
	uint32_t	ru_next;	/* next rule of the same chain */
};

struct node {
	uint32_t	no_name;	/* offset in rs_names, NODE_FREE: free */
	uint32_t	no_hash;
	uint32_t	no_chain[CH_MAX];
};

/*
 * Offset 0 of rs_names is a '\0' that no node names, so that a free slot is
 * all zeroes: a fresh table comes from calloc and is not written twice.
 */
#define NODE_FREE	0

struct glob {
	char		*gl_pattern;
	uint32_t	 gl_rule;
};

struct cidr_rule {
	struct hg_cidr	cr_cidr;
	uint32_t	cr_rule;
	uint32_t	cr_cat;
};

struct pgroup {
	int		 pg_family;
	unsigned	 pg_bits;
	uint32_t	*pg_slots;	/* index in rs_cidrs of a run, or none */
	uint32_t	 pg_mask;
};

struct hg_ruleset {
	struct hg_category	*rs_cats;
	size_t			 rs_ncats;
	char			**rs_files;
	size_t			 rs_nfiles;
	struct rule		*rs_rules;
	size_t			 rs_nrules;
	size_t			 rs_caprules;
	struct node		*rs_nodes;
	size_t			 rs_mask;	/* table size - 1 */
	size_t			 rs_nnodes;
	char			*rs_names;
	size_t			 rs_namelen;
	size_t			 rs_namecap;
	struct glob		*rs_globs;
	size_t			 rs_nglobs;
	struct cidr_rule	*rs_cidrs;
	size_t			 rs_ncidrs;
	size_t			 rs_capcidrs;
	/* Prefix index: one hash of addresses per (family, length). */
	struct pgroup		*rs_pgroups;
	size_t			 rs_npgroups;
	struct hg_portset	*rs_portsets;
	size_t			 rs_nportsets;
	size_t			 rs_dups;
	size_t			 rs_pdups;	/* of rs_dups: prefixes */
	struct hg_errors	 rs_warnings;
	/*
	 * One bit per hash slot, about 8 per name, built by compile: most
	 * suffixes of a host that is not listed are turned away here, in a
	 * bitmap small enough for the cache, without touching the table.
	 */
	uint64_t		*rs_filter;
	uint32_t		 rs_filter_mask;	/* bits - 1 */
};

/*
 * FNV-1a over the name from its last character to its first: the running
 * value at the start of each label is the hash of that suffix, so one pass
 * gives the hash of every suffix.
 */
#define FNV_INIT	2166136261u
#define FNV_PRIME	16777619u

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

static const char *
node_name(const struct hg_ruleset *rs, const struct node *no)
{
	return (rs->rs_names + no->no_name);
}

/* Find the slot of name (or the free slot where it would go). */
static struct node *
node_slot(const struct hg_ruleset *rs, const char *name, size_t len,
    uint32_t h)
{
	size_t		 i = h & rs->rs_mask;
	struct node	*no;

	for (;;) {
		no = &rs->rs_nodes[i];
		if (no->no_name == NODE_FREE)
			return (no);
		if (no->no_hash == h) {
			const char *n = node_name(rs, no);
			if (memcmp(n, name, len) == 0 && n[len] == '\0')
				return (no);
		}
		i = (i + 1) & rs->rs_mask;
	}
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

static const struct node *
node_find(const struct hg_ruleset *rs, const char *name, size_t len,
    uint32_t h)
{
	const struct node	*no = node_slot(rs, name, len, h);

	return (no->no_name == NODE_FREE ? NULL : no);
}

static int
ports_equal(const struct hg_ruleset *rs, uint32_t a, uint32_t b)
{
	const struct hg_portset	*pa, *pb;

	if (a == HG_NONE || b == HG_NONE)
		return (a == b);
	pa = &rs->rs_portsets[a];
	pb = &rs->rs_portsets[b];
	return (pa->ps_count == pb->ps_count && memcmp(pa->ps_ranges,
	    pb->ps_ranges, pa->ps_count * sizeof *pa->ps_ranges) == 0);
}

static int
rule_admits(const struct hg_ruleset *rs, const struct rule *ru,
    uint16_t port)
{
	return (ru->ru_ports == HG_NONE ||
	    portset_contains(&rs->rs_portsets[ru->ru_ports], port));
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
	if (!ports_equal(rs, old->ru_ports, ports))
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

/* Match name against a glob where '*' matches any run of characters. */
static int
glob_match(const char *g, const char *s)
{
	const char	*star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*g == '*') {
			star = g++;
			resume = s;
		} else if (*g == *s) {
			g++;
			s++;
		} else if (star != NULL) {
			g = star + 1;
			s = ++resume;
		} else
			return (0);
	}
	while (*g == '*')
		g++;
	return (*g == '\0');
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

/*
 * Prefixes grouped by family and length (longest first), then by address,
 * then category order, then definition order: the rules of one prefix are
 * a run, its first admitting rule the winner.
 */
static int
cidr_cmp(const void *a, const void *b)
{
	const struct cidr_rule	*x = a, *y = b;
	int			 c;

	if (x->cr_cidr.ci_bits != y->cr_cidr.ci_bits)
		return (x->cr_cidr.ci_bits > y->cr_cidr.ci_bits ? -1 : 1);
	if (x->cr_cidr.ci_family != y->cr_cidr.ci_family)
		return (x->cr_cidr.ci_family < y->cr_cidr.ci_family ? -1 : 1);
	if ((c = memcmp(x->cr_cidr.ci_addr, y->cr_cidr.ci_addr, 16)) != 0)
		return (c);
	if (x->cr_cat != y->cr_cat)
		return (x->cr_cat < y->cr_cat ? -1 : 1);
	return (x->cr_rule < y->cr_rule ? -1 : x->cr_rule > y->cr_rule);
}

static uint32_t
addr_hash(const uint8_t *addr, int family)
{
	uint32_t	h = FNV_INIT;
	int		i, n = family == 4 ? 4 : 16;

	for (i = 0; i < n; i++) {
		h ^= addr[i];
		h *= FNV_PRIME;
	}
	return (h);
}

static void
addr_mask(uint8_t *out, const uint8_t *addr, unsigned bits)
{
	memset(out, 0, 16);
	memcpy(out, addr, bits / 8);
	if (bits % 8)
		out[bits / 8] = addr[bits / 8] &
		    (uint8_t)(0xff << (8 - bits % 8));
}

/* Drop duplicate prefixes, warn about ties, build the per-length hashes. */
static void
prefixes_build(struct hg_ruleset *rs)
{
	struct cidr_rule	*cr = rs->rs_cidrs, *prev;
	struct pgroup		*pg = NULL;
	size_t			 i, o, start, j, size;
	uint32_t		 h;

	if (rs->rs_ncidrs > 1)
		qsort(cr, rs->rs_ncidrs, sizeof *cr, cidr_cmp);
	for (i = 0, o = 0; i < rs->rs_ncidrs; i++) {
		prev = o > 0 ? &cr[o - 1] : NULL;
		if (prev != NULL && prev->cr_cidr.ci_family ==
		    cr[i].cr_cidr.ci_family && prev->cr_cidr.ci_bits ==
		    cr[i].cr_cidr.ci_bits && memcmp(prev->cr_cidr.ci_addr,
		    cr[i].cr_cidr.ci_addr, 16) == 0) {
			const struct rule *a = &rs->rs_rules[prev->cr_rule];
			const struct rule *b = &rs->rs_rules[cr[i].cr_rule];

			if (ports_equal(rs, a->ru_ports, b->ru_ports)) {
				if (a->ru_cat == b->ru_cat) {
					rs->rs_dups++;
					rs->rs_pdups++;
					rs->rs_cats[b->ru_cat].ca_rules--;
					continue;
				}
				errors_add(&rs->rs_warnings,
				    ruleset_file(rs, b->ru_file), b->ru_line,
				    0, "warning: a prefix is in category %s and "
				    "in category %s (%s:%u); %s wins (defined "
				    "first)", rs->rs_cats[b->ru_cat].ca_name,
				    rs->rs_cats[a->ru_cat].ca_name,
				    ruleset_file(rs, a->ru_file), a->ru_line,
				    rs->rs_cats[a->ru_cat].ca_name);
			}
		}
		cr[o++] = cr[i];
	}
	rs->rs_ncidrs = o;
	for (i = 0; i < rs->rs_ncidrs; i = j) {
		/* One group: same family and length. */
		for (j = i; j < rs->rs_ncidrs &&
		    cr[j].cr_cidr.ci_family == cr[i].cr_cidr.ci_family &&
		    cr[j].cr_cidr.ci_bits == cr[i].cr_cidr.ci_bits; j++)
			;
		rs->rs_pgroups = xreallocarray(rs->rs_pgroups,
		    rs->rs_npgroups + 1, sizeof *rs->rs_pgroups);
		pg = &rs->rs_pgroups[rs->rs_npgroups++];
		pg->pg_family = cr[i].cr_cidr.ci_family;
		pg->pg_bits = cr[i].cr_cidr.ci_bits;
		for (size = 16; size < (j - i) * 2; size *= 2)
			;
		pg->pg_mask = (uint32_t)(size - 1);
		pg->pg_slots = xreallocarray(NULL, size, sizeof *pg->pg_slots);
		for (start = 0; start < size; start++)
			pg->pg_slots[start] = HG_NONE;
		for (start = i; start < j; start++) {
			if (start > i && memcmp(cr[start].cr_cidr.ci_addr,
			    cr[start - 1].cr_cidr.ci_addr, 16) == 0)
				continue;	/* same prefix: one run */
			h = addr_hash(cr[start].cr_cidr.ci_addr, pg->pg_family);
			while (pg->pg_slots[h & pg->pg_mask] != HG_NONE)
				h++;
			pg->pg_slots[h & pg->pg_mask] = (uint32_t)start;
		}
	}
}

/* Longest matching prefix for an address target; NULL when none. Kept
 * out of line: the name path of ruleset_match() is the hot one. */
static const struct rule * __attribute__((noinline))
prefixes_match(const struct hg_ruleset *rs, const struct hg_target *t)
{
	const struct pgroup	*pg;
	const struct cidr_rule	*cr;
	const struct rule	*ru;
	uint8_t			 key[16];
	int			 family = t->t_kind == HG_HOST_IPV4 ? 4 : 6;
	size_t			 g;
	uint32_t		 h, k;

	for (g = 0; g < rs->rs_npgroups; g++) {
		pg = &rs->rs_pgroups[g];
		if (pg->pg_family != family)
			continue;
		addr_mask(key, t->t_addr, pg->pg_bits);
		h = addr_hash(key, family);
		for (;; h++) {
			if ((k = pg->pg_slots[h & pg->pg_mask]) == HG_NONE)
				break;
			cr = &rs->rs_cidrs[k];
			if (memcmp(cr->cr_cidr.ci_addr, key, 16) != 0)
				continue;
			/* The run of rules for this prefix. */
			for (; k < rs->rs_ncidrs && memcmp(rs->rs_cidrs[k].
			    cr_cidr.ci_addr, key, 16) == 0 &&
			    rs->rs_cidrs[k].cr_cidr.ci_bits == pg->pg_bits &&
			    rs->rs_cidrs[k].cr_cidr.ci_family == family; k++) {
				ru = &rs->rs_rules[rs->rs_cidrs[k].cr_rule];
				if (rule_admits(rs, ru, t->t_port))
					return (ru);
			}
			break;
		}
	}
	return (NULL);
}

static uint32_t
filter_bit(const struct hg_ruleset *rs, uint32_t h)
{
	/* The table uses the low bits; the filter mixes in the high ones. */
	return ((h ^ (h >> 15) * 0x2c1b3c6dU) & rs->rs_filter_mask);
}

static void
filter_build(struct hg_ruleset *rs)
{
	size_t		bits = 4096, i;
	uint32_t	b;

	while (bits < rs->rs_nnodes * 8 && bits < ((size_t)1 << 31))
		bits *= 2;
	free(rs->rs_filter);
	rs->rs_filter = xcalloc(bits / 64, sizeof *rs->rs_filter);
	hg_prefault(rs->rs_filter, bits / 8);
	rs->rs_filter_mask = (uint32_t)(bits - 1);
	for (i = 0; i <= rs->rs_mask; i++) {
		if (rs->rs_nodes[i].no_name == NODE_FREE)
			continue;
		b = filter_bit(rs, rs->rs_nodes[i].no_hash);
		rs->rs_filter[b / 64] |= (uint64_t)1 << (b % 64);
	}
}

static int
filter_may_hold(const struct hg_ruleset *rs, uint32_t h)
{
	uint32_t	b;

	if (rs->rs_filter == NULL)
		return (1);
	b = filter_bit(rs, h);
	return ((rs->rs_filter[b / 64] >> (b % 64)) & 1);
}

/*
 * Finish the index after the last pattern: order prefixes and globs, and
 * append warnings (ties between categories) to warn.
 */
#define RS_SHADOW_REPORTED	20	/* shadowed names named one by one */

/* The first rule of a chain that applies to every port, or NULL. */
static const struct rule *
chain_any_port(const struct hg_ruleset *rs, uint32_t r)
{
	for (; r != HG_NONE; r = rs->rs_rules[r].ru_next)
		if (rs->rs_rules[r].ru_ports == HG_NONE)
			return (&rs->rs_rules[r]);
	return (NULL);
}

/*
 * Report names whose rule changes nothing: the nearest broader rule (the
 * name's own ".name", or a parent's ".parent" or "*.parent") is in the same
 * category, so it decides the same way today and after any change of that
 * category's action: a warning in warn. A broader rule of another
 * category with the same action today is not redundant (the narrower rule
 * names the category that is logged, and keeps its own action when the
 * other category's changes): such overlaps go to notes, when given (-t -v).
 * A more specific rule of the opposite action is what exceptions are made
 * of, and is not reported. A walk over every name: `hushgate -t` calls it;
 * start-up and reload do not.
 */
void
ruleset_report_shadows(struct hg_ruleset *rs, struct hg_errors *warn,
    struct hg_errors *notes)
{
	const struct node	*no, *pn;
	const struct rule	*mine, *cover, *sub;
	const char		*name;
	size_t			 i, len, k, nstarts;
	size_t			 starts[RS_MAX_LABELS];
	uint32_t		 hashes[RS_MAX_LABELS], h;
	size_t			 shadowed = 0;
	int			 chain;
	char			 cov[HG_MAX_HOST + 3];

	for (i = 0; i <= rs->rs_mask; i++) {
		no = &rs->rs_nodes[i];
		if (no->no_name == NODE_FREE)
			continue;
		name = node_name(rs, no);
		len = strlen(name);
		nstarts = 0;
		h = FNV_INIT;
		for (k = len; k > 0; k--) {
			h ^= (unsigned char)name[k - 1];
			h *= FNV_PRIME;
			if ((k == 1 || name[k - 2] == '.') &&
			    nstarts < RS_MAX_LABELS) {
				starts[nstarts] = k - 1;
				hashes[nstarts++] = h;
			}
		}
		for (chain = CH_EXACT; chain <= CH_SUFFIX; chain++) {
			if ((mine = chain_any_port(rs, no->no_chain[chain])) ==
			    NULL)
				continue;
			cover = NULL;
			if (chain == CH_EXACT && (cover = chain_any_port(rs,
			    no->no_chain[CH_SUFFIX])) != NULL)
				snprintf(cov, sizeof cov, ".%s", name);
			/* Parents, nearest first (starts[] is shortest first). */
			for (k = nstarts - 1; cover == NULL && k > 0; k--) {
				if (!filter_may_hold(rs, hashes[k - 1]))
					continue;
				pn = node_find(rs, name + starts[k - 1],
				    len - starts[k - 1], hashes[k - 1]);
				if (pn == NULL)
					continue;
				cover = chain_any_port(rs, pn->no_chain[CH_SUFFIX]);
				sub = chain_any_port(rs, pn->no_chain[CH_SUB]);
				if (cover == NULL ||
				    (sub != NULL && sub->ru_cat < cover->ru_cat))
					cover = sub ? sub : cover;
				if (cover != NULL)
					snprintf(cov, sizeof cov, "%s%s",
					    cover == sub ? "*." : ".",
					    name + starts[k - 1]);
			}
			if (cover == NULL || rs->rs_cats[cover->ru_cat].ca_action !=
			    rs->rs_cats[mine->ru_cat].ca_action)
				continue;
			if (cover->ru_cat != mine->ru_cat) {
				if (notes != NULL)
					errors_add(notes,
					    ruleset_file(rs, mine->ru_file),
					    mine->ru_line, 0, "note: %s%s "
					    "(category %s) is inside %s (%s:%u, "
					    "category %s), which has the same "
					    "action today",
					    chain == CH_SUFFIX ? "." : "", name,
					    rs->rs_cats[mine->ru_cat].ca_name,
					    cov, ruleset_file(rs, cover->ru_file),
					    cover->ru_line,
					    rs->rs_cats[cover->ru_cat].ca_name);
				continue;
			}
			if (shadowed++ < RS_SHADOW_REPORTED)
				errors_add(warn,
				    ruleset_file(rs, mine->ru_file),
				    mine->ru_line, 0, "warning: %s%s is already "
				    "covered by %s (%s:%u) with the same action",
				    chain == CH_SUFFIX ? "." : "", name, cov,
				    ruleset_file(rs, cover->ru_file),
				    cover->ru_line);
		}
	}
	if (shadowed > RS_SHADOW_REPORTED) {
		char	*msg;

		xasprintf(&msg, "warning: %zu names in all are covered by a "
		    "broader rule with the same action", shadowed);
		errors_add_msg(warn, msg);
		free(msg);
	}
}

void
ruleset_compile(struct hg_ruleset *rs, struct hg_errors *warn)
{
	size_t	i;

	prefixes_build(rs);
	filter_build(rs);
	if (warn != NULL) {
		for (i = 0; i < rs->rs_warnings.er_count; i++)
			errors_add_msg(warn, rs->rs_warnings.er_msgs[i]);
	}
}

static const struct rule *
chain_first(const struct hg_ruleset *rs, uint32_t r, uint16_t port)
{
	for (; r != HG_NONE; r = rs->rs_rules[r].ru_next)
		if (rule_admits(rs, &rs->rs_rules[r], port))
			return (&rs->rs_rules[r]);
	return (NULL);
}

static void
decision_from_rule(const struct hg_ruleset *rs, const struct rule *ru,
    struct hg_decision *d)
{
	const struct hg_category	*ca = &rs->rs_cats[ru->ru_cat];

	d->d_action = ca->ca_action;
	d->d_reason = HG_REASON_RULE;
	d->d_category = ru->ru_cat;
	d->d_category_name = ca->ca_name;
	d->d_file = ruleset_file(rs, ru->ru_file);
	d->d_line = ru->ru_line;
}

/*
 * Look the target up. On a match fills d with the rule's category, action
 * and source and returns; otherwise d_action is HG_ACT_NONE.
 */
void
ruleset_match(const struct hg_ruleset *rs, const struct hg_target *t,
    struct hg_decision *d)
{
	const struct rule	*best = NULL, *ru;
	const struct node	*no;
	size_t			 starts[RS_MAX_LABELS], nstarts = 0, i, k;
	uint32_t		 hashes[RS_MAX_LABELS], h = FNV_INIT;

	memset(d, 0, sizeof *d);
	d->d_action = HG_ACT_NONE;
	d->d_category = HG_NONE;

	if (t->t_kind != HG_HOST_NAME) {
		if ((ru = prefixes_match(rs, t)) != NULL)
			decision_from_rule(rs, ru, d);
		return;
	}

	/* Hash of every suffix, shortest first. */
	for (i = t->t_len; i > 0; i--) {
		h ^= (unsigned char)t->t_host[i - 1];
		h *= FNV_PRIME;
		if (i == 1 || t->t_host[i - 2] == '.') {
			if (nstarts == RS_MAX_LABELS)
				break;
			starts[nstarts] = i - 1;
			hashes[nstarts++] = h;
		}
	}
	/* Longest suffix (the whole host) first. */
	for (k = nstarts; k > 0; k--) {
		i = starts[k - 1];
		if (!filter_may_hold(rs, hashes[k - 1]))
			continue;
		no = node_find(rs, t->t_host + i, t->t_len - i, hashes[k - 1]);
		if (no == NULL)
			continue;
		if (i == 0) {
			if ((best = chain_first(rs, no->no_chain[CH_EXACT],
			    t->t_port)) != NULL)
				break;
			if ((best = chain_first(rs, no->no_chain[CH_SUFFIX],
			    t->t_port)) != NULL)
				break;
			continue;
		}
		best = chain_first(rs, no->no_chain[CH_SUFFIX], t->t_port);
		ru = chain_first(rs, no->no_chain[CH_SUB], t->t_port);
		if (ru != NULL && (best == NULL || ru->ru_cat < best->ru_cat))
			best = ru;
		if (best != NULL)
			break;
	}
	if (best == NULL) {
		for (i = 0; i < rs->rs_nglobs; i++) {
			ru = &rs->rs_rules[rs->rs_globs[i].gl_rule];
			if (best != NULL && ru->ru_cat >= best->ru_cat)
				continue;
			if (rule_admits(rs, ru, t->t_port) &&
			    glob_match(rs->rs_globs[i].gl_pattern, t->t_host))
				best = ru;
		}
	}
	if (best != NULL)
		decision_from_rule(rs, best, d);
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

/*
 * The walks below give the PAC generator (pac.c) what a lookup would see,
 * in the order a lookup sees it, without exposing the index itself.
 */
static void
head_of(const struct hg_ruleset *rs, uint32_t r, struct hg_rulehead *h)
{
	if (r == HG_NONE) {
		h->rh_cat = HG_NONE;
		h->rh_ports = 0;
		return;
	}
	h->rh_cat = rs->rs_rules[r].ru_cat;
	h->rh_ports = rs->rs_rules[r].ru_ports != HG_NONE;
}

/*
 * Call fn for every name of the index with the first rule of its three
 * chains (exact "name", ".name", "*.name"; rh_cat HG_NONE when empty).
 * Chains are in category order, so the first rule is the one a lookup
 * takes unless it is limited to ports (rh_ports).
 */
void
ruleset_walk_names(const struct hg_ruleset *rs, ruleset_name_fn fn,
    void *arg)
{
	const struct node	*no;
	struct hg_rulehead	 h[3];
	size_t			 i;

	for (i = 0; i <= rs->rs_mask; i++) {
		no = &rs->rs_nodes[i];
		if (no->no_name == NODE_FREE)
			continue;
		head_of(rs, no->no_chain[CH_EXACT], &h[0]);
		head_of(rs, no->no_chain[CH_SUFFIX], &h[1]);
		head_of(rs, no->no_chain[CH_SUB], &h[2]);
		fn(node_name(rs, no), h, arg);
	}
}

/*
 * Call fn for every address prefix (compiled: longest first, as a lookup
 * tries them) with the first rule of its run.
 */
void
ruleset_walk_prefixes(const struct hg_ruleset *rs, ruleset_prefix_fn fn,
    void *arg)
{
	struct hg_rulehead	h;
	size_t			i;

	for (i = 0; i < rs->rs_ncidrs; i++) {
		if (i > 0 && rs->rs_cidrs[i].cr_cidr.ci_family ==
		    rs->rs_cidrs[i - 1].cr_cidr.ci_family &&
		    rs->rs_cidrs[i].cr_cidr.ci_bits ==
		    rs->rs_cidrs[i - 1].cr_cidr.ci_bits &&
		    memcmp(rs->rs_cidrs[i].cr_cidr.ci_addr,
		    rs->rs_cidrs[i - 1].cr_cidr.ci_addr, 16) == 0)
			continue;	/* same prefix: the run's first decides */
		head_of(rs, rs->rs_cidrs[i].cr_rule, &h);
		fn(&rs->rs_cidrs[i].cr_cidr, &h, arg);
	}
}

/* Call fn for every glob, in definition order. */
void
ruleset_walk_globs(const struct hg_ruleset *rs, ruleset_glob_fn fn,
    void *arg)
{
	struct hg_rulehead	h;
	size_t			i;

	for (i = 0; i < rs->rs_nglobs; i++) {
		head_of(rs, rs->rs_globs[i].gl_rule, &h);
		fn(rs->rs_globs[i].gl_pattern, &h, arg);
	}
}

size_t
ruleset_nfiles(const struct hg_ruleset *rs)
{
	return (rs->rs_nfiles);
}
