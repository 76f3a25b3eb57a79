/*
 * rsmatch.c -- the rule index compiled after the last pattern (prefixes
 * sorted and hashed by length, the filter of names) and looked up.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rsindex.h"

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

			if (rs_ports_equal(rs, a->ru_ports, b->ru_ports)) {
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

/*
 * Finish the index after the last pattern: order prefixes and build the
 * filter, and append warnings (ties between categories) to warn.
 */
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
