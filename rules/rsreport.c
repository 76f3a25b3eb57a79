/*
 * rsreport.c -- what the rule index says of itself: the names a broader
 * rule already covers (hushgate -t), and the walks that give the PAC
 * generator what a lookup would see.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rsindex.h"

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
