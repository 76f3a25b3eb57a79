/*
 * cfgload.h -- the configuration loader's own declarations, shared by the
 * rules/cfg*.c files: its state while it reads, and the helpers that read
 * YAML nodes and report errors. Nothing outside rules/ includes it.
 */
#ifndef HG_CFGLOAD_H
#define HG_CFGLOAD_H

#include <string.h>

#include <yaml.h>

#include "rules.h"
#include "yamldoc.h"

/* One load: the configuration being filled and where the reader is. */
struct loader {
	struct hg_config	*ld_cf;
	struct hg_ruleset	*ld_rs;
	struct hg_errors	*ld_errs;
	int			 ld_depth;
	char			**ld_seen;	/* files loaded (include once) */
	size_t			 ld_nseen;
	const char		*ld_file;	/* file being read */
	yaml_document_t		*ld_doc;
	const struct yamldoc	*ld_yd;
	const char		*ld_auth_file;	/* where auth.basic is set */
	unsigned		 ld_auth_line;
	unsigned		 ld_auth_col;
	yaml_mark_t		 ld_users_at;	/* its users_file value */
	int			 ld_partial;	/* a file could not be read */
};

/* Node id of the document being read. */
static inline yaml_node_t *
cfg_node(struct loader *ld, int id)
{
	return (yaml_document_get_node(ld->ld_doc, id));
}

static inline const char *
cfg_scalar(const yaml_node_t *n)
{
	return ((const char *)n->data.scalar.value);
}

/* A plain scalar spelled as YAML's null. */
static inline int
cfg_null_spelling(int style, const char *s)
{
	return (style == YAML_PLAIN_SCALAR_STYLE && (*s == '\0' ||
	    strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0));
}

static inline int
cfg_is_null(const yaml_node_t *n)
{
	return (n->type == YAML_SCALAR_NODE &&
	    cfg_null_spelling(n->data.scalar.style, cfg_scalar(n)));
}

/* Called for each pair of a mapping: key text, key node, value node. */
typedef void (*pair_fn)(struct loader *, const char *, yaml_node_t *,
    yaml_node_t *, void *);

/* cfgfile.c */
void		 cfg_err(struct loader *, const yaml_node_t *, const char *,
		    ...) __attribute__((format(HG_PRINTF, 3, 4)));
const char	*cfg_want_string(struct loader *, const yaml_node_t *,
		    const char *);
int		 cfg_want_uint(struct loader *, const yaml_node_t *,
		    const char *, unsigned long, unsigned long, unsigned *);
int		 cfg_want_kind(struct loader *, const yaml_node_t *,
		    yaml_node_type_t, const char *);
void		 cfg_want_switch(struct loader *, yaml_node_t *, const char *,
		    int *);
void		 cfg_each_pair(struct loader *, yaml_node_t *, pair_fn,
		    void *);
int		 cfg_platform_lacks(struct loader *, const yaml_node_t *,
		    const char *);
void		 cfg_set_cidrs(struct loader *, yaml_node_t *, const char *,
		    struct hg_cidr **, size_t *);
void		 cfg_add_cidr(struct loader *, yaml_node_t *, const char *,
		    struct hg_cidr **, size_t *);
void		 cfg_set_ports(struct loader *, yaml_node_t *,
		    struct hg_portset *, const char *);
void		 cfg_set_action(struct loader *, yaml_node_t *, const char *,
		    enum hg_action *);
void		 cfg_set_duration(struct loader *, yaml_node_t *,
		    const char *, unsigned, unsigned *, int *);
void		 cfg_set_size(struct loader *, yaml_node_t *, const char *,
		    uint64_t *, int *);
void		 cfg_set_ratio(struct loader *, yaml_node_t *, const char *,
		    double *, int *);

/* cfgsettings.c */
int		 cfg_listen_valid(const char *);
void		 cfg_set_listen(struct loader *, yaml_node_t *);
void		 cfg_set_clients(struct loader *, yaml_node_t *);
void		 cfg_pac_pair(struct loader *, const char *, yaml_node_t *,
		    yaml_node_t *, void *);
void		 cfg_metrics_pair(struct loader *, const char *,
		    yaml_node_t *, yaml_node_t *, void *);
void		 cfg_destinations_pair(struct loader *, const char *,
		    yaml_node_t *, yaml_node_t *, void *);
void		 cfg_timeouts_pair(struct loader *, const char *,
		    yaml_node_t *, yaml_node_t *, void *);
void		 cfg_dns_pair(struct loader *, const char *, yaml_node_t *,
		    yaml_node_t *, void *);
void		 cfg_log_pair(struct loader *, const char *, yaml_node_t *,
		    yaml_node_t *, void *);
void		 cfg_lists_pair(struct loader *, const char *, yaml_node_t *,
		    yaml_node_t *, void *);
void		 cfg_auth_pair(struct loader *, const char *, yaml_node_t *,
		    yaml_node_t *, void *);
void		 cfg_auth_finish(struct loader *);

/* cfgpolicy.c */
int		 cfg_category_name_valid(const char *);
void		 cfg_categories_pair(struct loader *, const char *,
		    yaml_node_t *, yaml_node_t *, void *);
void		 cfg_actions_pair(struct loader *, const char *,
		    yaml_node_t *, yaml_node_t *, void *);
void		 cfg_resolve_gactions(struct loader *);
void		 cfg_load_sources(struct hg_config *);

/* cfgobj.c */
struct hg_config *cfg_new(void);
void		 cfg_free(struct hg_config *);
struct hg_listener *cfg_listener_add(struct hg_config *,
		    enum hg_listen_kind, const char *);
void		 cfg_listener_clear(struct hg_config *, enum hg_listen_kind);
void		 cfg_group_free(struct hg_group *);

#endif /* HG_CFGLOAD_H */
