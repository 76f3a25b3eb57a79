/*
 * cfgpolicy.c -- the policy of the configuration: categories with their
 * hosts and lists, the top-level actions and the per-group actions, and
 * the url: lists' cached copies. The keys of a category and of a list
 * are in the keyword table (cfgkeys.c); their readers are here.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "rules.h"
#include "cfgload.h"

static void	set_gactions(struct loader *, struct hg_category *,
		    yaml_node_t *, int);

struct catload {
	uint32_t	 cl_cat;
	uint32_t	 cl_file;
	int		 cl_have_action;
};

struct listspec {
	const char	*ls_file;
	yaml_node_t	*ls_file_node;	/* the file: value: where errors go */
	const char	*ls_url;
	const char	*ls_format;
	yaml_node_t	*ls_node;
	int		 ls_bad;	/* a value was refused */
	struct hg_listsrc ls_src;	/* url: settings */
};

void
cfg_set_list_file(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct listspec	*ls = arg;

	ls->ls_file = cfg_want_string(ld, v, "file");
	ls->ls_file_node = v;
}

void
cfg_set_list_url(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct listspec	*ls = arg;
	struct hg_url	 u;
	const char	*s, *why;

	if ((s = cfg_want_string(ld, v, "url")) == NULL)
		ls->ls_bad = 1;
	else if (url_parse(s, &u, &why) != 0) {
		cfg_err(ld, v, "url: '%s': %s", s, why);
		ls->ls_bad = 1;
	} else
		ls->ls_url = s;
}

void
cfg_set_list_format(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct listspec	*ls = arg;

	if ((ls->ls_format = cfg_want_string(ld, v, "format")) != NULL &&
	    !list_format_valid(ls->ls_format)) {
		cfg_err(ld, v, "unknown list format '%s' (%s)", ls->ls_format,
		    list_formats_text());
		ls->ls_format = NULL;
	}
}

void
cfg_set_list_refresh(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct listspec	*ls = arg;

	cfg_set_duration(ld, v, "refresh", 1000, &ls->ls_src.ls_refresh,
	    &ls->ls_bad);
}

void
cfg_set_list_sha256(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct listspec	*ls = arg;
	const char	*s;

	if ((s = cfg_want_string(ld, v, "sha256")) == NULL)
		ls->ls_bad = 1;
	else if (sha256_hex_parse(s, ls->ls_src.ls_pin) != 0) {
		cfg_err(ld, v, "sha256: expected 64 hexadecimal digits");
		ls->ls_bad = 1;
	} else
		ls->ls_src.ls_have_pin = 1;
}

void
cfg_set_list_ca_file(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct listspec	*ls = arg;
	const char	*s;

	if ((s = cfg_want_string(ld, v, "ca_file")) == NULL)
		ls->ls_bad = 1;
	else {
		free(ls->ls_src.ls_ca_file);
		ls->ls_src.ls_ca_file = path_join_dir(ld->ld_file, s);
	}
}

void
cfg_set_list_max_bytes(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct listspec	*ls = arg;

	cfg_set_size(ld, v, "max_bytes", &ls->ls_src.ls_max_bytes,
	    &ls->ls_bad);
}

void
cfg_set_list_max_shrink(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct listspec	*ls = arg;

	cfg_set_ratio(ld, v, "max_shrink", &ls->ls_src.ls_max_shrink,
	    &ls->ls_bad);
}

/* Keep a url: list; its cached copy is loaded when the whole
 * configuration is read (config_finish), cache_dir being known then. */
static void
category_url(struct loader *ld, struct catload *cl, struct listspec *ls)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_listsrc	*src;

	cf->cf_sources = xreallocarray(cf->cf_sources, cf->cf_nsources + 1,
	    sizeof *cf->cf_sources);
	src = &cf->cf_sources[cf->cf_nsources++];
	*src = ls->ls_src;
	ls->ls_src.ls_ca_file = NULL;
	src->ls_url = xstrdup(ls->ls_url);
	src->ls_format = xstrdup(ls->ls_format);
	src->ls_cat = cl->cl_cat;
	src->ls_entries = -1;
	src->ls_file = ld->ld_file;
	src->ls_line = (unsigned)ls->ls_node->start_mark.line + 1;
	src->ls_col = (unsigned)ls->ls_node->start_mark.column + 1;
}

/* lists: [{file: PATH, format: FORMAT} or {url: URL, format: FORMAT, ...}] */
void
cfg_set_category_lists(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct catload		*cl = arg;
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	struct listspec		 ls;
	struct hg_errors	 lerr;
	char			*path;
	size_t			 i;

	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "lists") != 0)
		return;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = cfg_node(ld, *it);
		if (cfg_want_kind(ld, n, YAML_MAPPING_NODE, "lists") != 0)
			continue;
		memset(&ls, 0, sizeof ls);
		ls.ls_node = n;
		ls.ls_src.ls_refresh = HG_LIST_REFRESH;
		ls.ls_src.ls_max_shrink = -1;
		cfg_walk(ld, CS_LIST, n, &ls, NULL);
		if (ls.ls_bad) {
			free(ls.ls_src.ls_ca_file);
			continue;
		}
		if ((ls.ls_file == NULL) == (ls.ls_url == NULL) ||
		    ls.ls_format == NULL) {
			cfg_err(ld, n, "lists: each list needs 'format' and "
			    "one of 'file' or 'url'");
			free(ls.ls_src.ls_ca_file);
			continue;
		}
		if (ls.ls_url != NULL) {
			category_url(ld, cl, &ls);
			continue;
		}
		if (ls.ls_src.ls_have_pin || ls.ls_src.ls_ca_file != NULL ||
		    ls.ls_src.ls_max_shrink >= 0 ||
		    ls.ls_src.ls_refresh != HG_LIST_REFRESH) {
			cfg_err(ld, n, "lists: refresh, sha256, ca_file and "
			    "max_shrink go with 'url', not 'file'");
			free(ls.ls_src.ls_ca_file);
			continue;
		}
		/*
		 * max_bytes bounds a file as it bounds a download: the list's
		 * own, else lists.max_bytes (read before any include: see
		 * load_document).
		 */
		path = path_join_dir(ld->ld_file, ls.ls_file);
		errors_init(&lerr);
		if (list_load_bounded(ld->ld_rs, cl->cl_cat, path, NULL,
		    ls.ls_format, ls.ls_src.ls_max_bytes != 0 ?
		    ls.ls_src.ls_max_bytes : ld->ld_cf->cf_list_max_bytes,
		    &lerr, &ld->ld_cf->cf_warnings) < 0) {
			/* Report where the list was named. */
			for (i = 0; i < lerr.er_count; i++)
				cfg_err(ld, ls.ls_file_node, "%s",
				    lerr.er_msgs[i]);
		}
		errors_free(&lerr);
		free(path);
	}
}

/* One entry of a category's hosts: at line:col of the file being read. */
static void
host_pattern(struct loader *ld, struct catload *cl, const char *s,
    size_t len, uint32_t line, uint32_t col)
{
	const char	*why;

	if (ruleset_add_pattern(ld->ld_rs, cl->cl_cat, s, len, cl->cl_file,
	    line, &why) != 0)
		errors_add(ld->ld_errs, ld->ld_file, line, col,
		    "invalid pattern '%s': %s", s, why);
}

/* hosts: as packed by the composer: strings, and nodes for the rest. */
/* How many names ahead a long hosts: list fetches table slots. */
#define HOSTS_AHEAD	8

static void
category_hosts_packed(struct loader *ld, struct catload *cl,
    const struct yamlpack_seq *ps)
{
	const struct yamlpack_item	*it;
	const char			*s;
	size_t				 i, bytes = 0;

	for (i = 0; i < ps->ys_n; i++)
		bytes += ld->ld_yd->yd_items[ps->ys_first + i].yi_len + 1;
	ruleset_reserve(ld->ld_rs, ps->ys_n, bytes);
	for (i = 0; i < ps->ys_n; i++) {
		if (i + HOSTS_AHEAD < ps->ys_n) {
			it = &ld->ld_yd->yd_items[ps->ys_first + i +
			    HOSTS_AHEAD];
			if (it->yi_node == 0)
				ruleset_prefetch(ld->ld_rs, ld->ld_yd->yd_arena
				    + it->yi_off, it->yi_len);
		}
		it = &ld->ld_yd->yd_items[ps->ys_first + i];
		if (it->yi_node != 0) {
			/* cfg_want_string() says what is wrong with it */
			if ((s = cfg_want_string(ld, cfg_node(ld, it->yi_node),
			    "hosts")) != NULL)
				host_pattern(ld, cl, s, strlen(s), it->yi_line,
				    it->yi_col);
			continue;
		}
		s = ld->ld_yd->yd_arena + it->yi_off;
		if (cfg_null_spelling(it->yi_style, s))
			errors_add(ld->ld_errs, ld->ld_file, it->yi_line,
			    it->yi_col, "hosts: expected a string");
		else if (strlen(s) != it->yi_len)
			errors_add(ld->ld_errs, ld->ld_file, it->yi_line,
			    it->yi_col, "hosts: NUL character in string");
		else
			host_pattern(ld, cl, s, it->yi_len, it->yi_line,
			    it->yi_col);
	}
}

void
cfg_set_category_action(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct catload		*cl = arg;
	struct hg_category	*ca = ruleset_category(ld->ld_rs, cl->cl_cat);

	cfg_set_action(ld, v, "action", &ca->ca_action);
	cl->cl_have_action = 1;
}

void
cfg_set_category_actions(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct catload	*cl = arg;

	set_gactions(ld, ruleset_category(ld->ld_rs, cl->cl_cat), v, 0);
}

/* description, breaks, note: ck_off is the field of the category. */
void
cfg_set_category_text(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct catload		*cl = arg;
	struct hg_category	*ca = ruleset_category(ld->ld_rs, cl->cl_cat);
	const char		*s;
	char			**text;

	text = (char **)((char *)ca + ck->ck_off);
	if ((s = cfg_want_string(ld, v, ck->ck_name)) != NULL) {
		free(*text);
		*text = xstrdup(s);
	}
}

void
cfg_set_category_hosts(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct catload			*cl = arg;
	const struct yamlpack_seq	*ps;
	yaml_node_item_t		*it;
	yaml_node_t			*n;
	const char			*s;

	if (cfg_want_kind(ld, v, YAML_SEQUENCE_NODE, "hosts") != 0)
		return;
	if ((ps = yamldoc_packed(ld->ld_yd, v)) != NULL) {
		category_hosts_packed(ld, cl, ps);
		return;
	}
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		n = cfg_node(ld, *it);
		if ((s = cfg_want_string(ld, n, "hosts")) == NULL)
			continue;
		host_pattern(ld, cl, s, n->data.scalar.length,
		    (uint32_t)n->start_mark.line + 1,
		    (uint32_t)n->start_mark.column + 1);
	}
}

static void
categories_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct catload			 cl;
	const struct hg_category	*old;
	uint32_t			 idx;
	char				*what;

	if (!cfg_category_name_valid(key)) {
		cfg_err(ld, k, "invalid category name '%s' (lowercase letters, "
		    "digits, '-' and '_', at most 64)", key);
		return;
	}
	if ((idx = ruleset_find_category(ld->ld_rs, key)) != HG_NONE) {
		old = ruleset_category_const(ld->ld_rs, idx);
		cfg_err(ld, k, "category '%s' is already defined at %s:%u", key,
		    ruleset_file(ld->ld_rs, old->ca_file), old->ca_line);
		return;
	}
	if (cfg_want_kind(ld, v, YAML_MAPPING_NODE, key) != 0)
		return;
	cl.cl_file = ruleset_add_file(ld->ld_rs, ld->ld_file);
	cl.cl_cat = ruleset_add_category(ld->ld_rs, key, HG_ACT_DENY,
	    cl.cl_file, (uint32_t)k->start_mark.line + 1);
	cl.cl_have_action = 0;
	xasprintf(&what, "category %s", key);
	cfg_walk(ld, CS_CATEGORY, v, &cl, what);
	free(what);
	if (!cl.cl_have_action)
		cfg_err(ld, k,
		    "category %s: 'action' is missing (allow, deny or audit)",
		    key);
}

/*
 * Set the action of category ca for the group named by key k (resolved
 * to a group when the whole configuration is read): a later setting for
 * the same group replaces an earlier one.
 */
static void
gaction_set(struct loader *ld, struct hg_category *ca, yaml_node_t *k,
    yaml_node_t *v)
{
	struct hg_gaction	*ga;
	enum hg_action		 act = HG_ACT_NONE;
	const char		*name = cfg_scalar(k);
	size_t			 i;

	cfg_set_action(ld, v, name, &act);
	if (act == HG_ACT_NONE)
		return;
	for (i = 0; i < ca->ca_ngact; i++)
		if (strcmp(ca->ca_gact[i].ga_name, name) == 0)
			break;
	if (i == ca->ca_ngact) {
		ca->ca_gact = xreallocarray(ca->ca_gact, ca->ca_ngact + 1,
		    sizeof *ca->ca_gact);
		ca->ca_gact[ca->ca_ngact++].ga_name = xstrdup(name);
	}
	ga = &ca->ca_gact[i];
	ga->ga_group = HG_NONE;
	ga->ga_action = act;
	ga->ga_file = ld->ld_file;
	ga->ga_line = (unsigned)k->start_mark.line + 1;
	ga->ga_col = (unsigned)k->start_mark.column + 1;
}

/* actions: {GROUP: ACTION ...}; in the top-level map, `default` is the
 * category's own action. */
struct gactions {
	struct hg_category	*gs_ca;
	int			 gs_top;
};

static void
gactions_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct gactions	*gs = arg;

	if (gs->gs_top && strcmp(key, "default") == 0)
		cfg_set_action(ld, v, key, &gs->gs_ca->ca_action);
	else
		gaction_set(ld, gs->gs_ca, k, v);
}

static void
set_gactions(struct loader *ld, struct hg_category *ca, yaml_node_t *v,
    int top)
{
	struct gactions	gs = { ca, top };

	if (cfg_want_kind(ld, v, YAML_MAPPING_NODE, "actions") == 0)
		cfg_each_pair(ld, v, gactions_pair, &gs);
}

/* categories: {NAME: CATEGORY ...} */
void
cfg_set_categories(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	if (cfg_want_kind(ld, v, YAML_MAPPING_NODE, "categories") == 0)
		cfg_each_pair(ld, v, categories_pair, NULL);
}

/* actions: {CATEGORY: ACTION} or {CATEGORY: {default: ACTION, GROUP: ...}} */
static void
actions_pair(struct loader *ld, const char *key, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_category	*ca;
	uint32_t		 idx;

	if ((idx = ruleset_find_category(ld->ld_rs, key)) == HG_NONE) {
		/* It may be in the file that could not be read: that error
		 * is the one to fix, this one would follow from it. */
		if (!ld->ld_partial)
			cfg_err(ld, k, "actions: no category named '%s'", key);
		return;
	}
	ca = ruleset_category(ld->ld_rs, idx);
	if (v->type == YAML_MAPPING_NODE)
		set_gactions(ld, ca, v, 1);
	else
		cfg_set_action(ld, v, key, &ca->ca_action);
}

void
cfg_set_actions(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	if (cfg_want_kind(ld, v, YAML_MAPPING_NODE, "actions") == 0)
		cfg_each_pair(ld, v, actions_pair, NULL);
}

/*
 * The url: lists, now that the settings are known: their cache paths and
 * limits, and the last good copy when there is one. A list never
 * downloaded is empty and said so; start-up never waits on the network.
 */
void
cfg_load_sources(struct hg_config *cf)
{
	struct hg_listsrc	*src;
	struct hg_errors	 lerr;
	size_t			 i;

	for (i = 0; i < cf->cf_nsources; i++) {
		src = &cf->cf_sources[i];
		if (src->ls_max_bytes == 0)
			src->ls_max_bytes = cf->cf_list_max_bytes;
		if (src->ls_max_shrink < 0)
			src->ls_max_shrink = cf->cf_list_max_shrink;
		listsrc_cache_paths(cf->cf_cache_dir, src->ls_url,
		    src->ls_format, &src->ls_body, &src->ls_meta);
		errors_init(&lerr);
		src->ls_entries = list_load_bounded(cf->cf_rules, src->ls_cat,
		    src->ls_body, src->ls_url, src->ls_format,
		    src->ls_max_bytes, &lerr, &cf->cf_warnings);
		if (src->ls_entries == -2 && lerr.er_count > 0) {
			/* a copy from before max_bytes was lowered */
			errors_add(&cf->cf_warnings, src->ls_file, src->ls_line,
			    src->ls_col, "warning: list %s: cached copy "
			    "refused, treated as empty until the next "
			    "download: %s", src->ls_url, lerr.er_msgs[0]);
			src->ls_entries = -1;
		} else if (src->ls_entries < 0)
			errors_add(&cf->cf_warnings, src->ls_file, src->ls_line,
			    src->ls_col, "warning: list %s: never downloaded, "
			    "treated as empty (hushgate lists update)",
			    src->ls_url);
		errors_free(&lerr);
	}
}

/* Group names of per-group actions, now that every group is known. */
void
cfg_resolve_gactions(struct loader *ld)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_category	*ca;
	struct hg_gaction	*ga;
	size_t			 i, j;

	for (i = 0; i < ruleset_ncategories(cf->cf_rules); i++) {
		ca = ruleset_category(cf->cf_rules, (uint32_t)i);
		for (j = 0; j < ca->ca_ngact; j++) {
			ga = &ca->ca_gact[j];
			ga->ga_group = config_group_find(cf, ga->ga_name);
			if (ga->ga_group == HG_NONE)
				errors_add(ld->ld_errs, ga->ga_file,
				    ga->ga_line, ga->ga_col, "actions: no "
				    "client group named '%s' (clients: "
				    "[{name: ...}])", ga->ga_name);
		}
	}
}
