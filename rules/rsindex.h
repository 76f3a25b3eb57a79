/*
 * rsindex.h -- the rule index's own structures, shared by ruleset.c (the
 * index built), rsmatch.c (compiled and looked up) and rsreport.c (the
 * reports and walks over it). Nothing outside rules/ includes it.
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
#ifndef HG_RSINDEX_H
#define HG_RSINDEX_H

#include <stdint.h>
#include <string.h>

#include "rules.h"

#define RS_MAX_LABELS	(HG_MAX_HOST / 2 + 2)

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

/* The helpers of the lookup, inlined where it runs. */
static inline const char *
node_name(const struct hg_ruleset *rs, const struct node *no)
{
	return (rs->rs_names + no->no_name);
}

/* Find the slot of name (or the free slot where it would go). */
static inline struct node *
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

static inline const struct node *
node_find(const struct hg_ruleset *rs, const char *name, size_t len,
    uint32_t h)
{
	const struct node	*no = node_slot(rs, name, len, h);

	return (no->no_name == NODE_FREE ? NULL : no);
}

static inline int
rule_admits(const struct hg_ruleset *rs, const struct rule *ru,
    uint16_t port)
{
	return (ru->ru_ports == HG_NONE ||
	    portset_contains(&rs->rs_portsets[ru->ru_ports], port));
}

static inline uint32_t
filter_bit(const struct hg_ruleset *rs, uint32_t h)
{
	/* The table uses the low bits; the filter mixes in the high ones. */
	return ((h ^ (h >> 15) * 0x2c1b3c6dU) & rs->rs_filter_mask);
}

static inline int
filter_may_hold(const struct hg_ruleset *rs, uint32_t h)
{
	uint32_t	b;

	if (rs->rs_filter == NULL)
		return (1);
	b = filter_bit(rs, h);
	return ((rs->rs_filter[b / 64] >> (b % 64)) & 1);
}

/* ruleset.c */
int		 rs_ports_equal(const struct hg_ruleset *, uint32_t, uint32_t);

#endif /* HG_RSINDEX_H */
