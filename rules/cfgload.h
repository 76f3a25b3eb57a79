/*
 * cfgload.h -- the configuration loader's own declarations, shared by the
 * rules/cfg*.c files: its state while it reads, the keyword table's types,
 * and the helpers that read YAML nodes and report errors. Nothing outside
 * rules/ includes it.
 *
 * The files call one way, each only those below it:
 *
 *	cfgfile.c	files, includes, the top level's passes
 *	cfgrestart.c	what a reload cannot apply (beside cfgfile.c)
 *	cfgkeys.c	the keyword table, a new configuration's defaults
 *	cfgsettings.c, cfgpolicy.c, cfglog.c, cfgldap.c
 *	cfgupstream.c
 *			the readers the table names
 *	cfgwalk.c	reading a mapping by the table (ld_keys)
 *	cfgvalue.c	errors, common values
 *	cfgobj.c	the configuration object
 */
#ifndef HG_CFGLOAD_H
#define HG_CFGLOAD_H

#include <string.h>

#include <yaml.h>

#include "rules.h"
#include "yamldoc.h"

struct cfg_key;

/* One load: the configuration being filled and where the reader is. */
struct loader {
	const struct cfg_key	*ld_keys;	/* the keyword table */
	size_t			 ld_nkeys;
	struct hg_config	*ld_cf;
	struct hg_ruleset	*ld_rs;
	struct hg_errors	*ld_errs;
	int			 ld_depth;
	char			**ld_seen;	/* files read (included once) */
	size_t			 ld_nseen;
	const char		*ld_file;	/* file being read */
	yaml_document_t		*ld_doc;
	const struct yamldoc	*ld_yd;
	const char		*ld_auth_file;	/* where auth.basic is set */
	unsigned		 ld_auth_line;
	unsigned		 ld_auth_col;
	yaml_mark_t		 ld_users_at;	/* its users_file value */
	const char		*ld_ldap_file;	/* where ldap: is set */
	yaml_mark_t		 ld_ldap_at;
	const char		*ld_ldapgrp_file; /* the first ldap_group */
	yaml_mark_t		 ld_ldapgrp_at;
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

/*
 * The keyword table (cfgkeys.c): every key of every mapping of the
 * configuration, with where it may appear, how its value is read and
 * kept, its default and whether a change needs a restart. It drives the
 * reading of each key, the unknown-key errors and the main-file-only
 * check (cfgwalk.c, cfgfile.c), the defaults of a new configuration
 * (cfgkeys.c) and the reload's restart warnings (cfgrestart.c).
 */

/* The mappings keys belong to. */
enum cfg_section {
	CS_TOP = 0,		/* the top level of a file */
	CS_AUTH,		/* auth: */
	CS_BASIC,		/* auth.basic: */
	CS_NEGOTIATE,		/* auth.negotiate: */
	CS_DESTINATIONS,
	CS_METRICS,
	CS_TIMEOUTS,
	CS_DNS,
	CS_LOG,
	CS_LISTS,		/* the top-level lists: settings */
	CS_PAC,
	CS_CONTROL,		/* control: */
	CS_LISTEN,		/* a listen: entry written as a mapping */
	CS_TLS,			/* its tls: */
	CS_GROUP,		/* a clients: group */
	CS_CATEGORY,		/* a category of categories: */
	CS_LIST,		/* a list of a category's lists: */
	CS_LOGOUT,		/* an entry of log.outputs */
	CS_LDAP,		/* ldap: */
	CS_UPSTREAM,		/* an entry of upstreams */
	CS_ROUTE,		/* an entry of routes */
	CS_MAX
};

/* How a value is read and where it is kept (at ck_off of the base). */
enum cfg_type {
	CT_OTHER = 0,		/* read by ck_set alone */
	CT_SECTION,		/* a mapping of the keys of section ck_arg */
	CT_UINT,		/* unsigned, ck_min to ck_max */
	CT_SWITCH,		/* int: on/off, true/false, yes/no */
	CT_CHOICE,		/* int: a value of ck_choices */
	CT_TIMEOUT,		/* unsigned ms, not 0 */
	CT_DURATION,		/* unsigned ms, ck_min or more */
	CT_SIZE,		/* uint64_t bytes */
	CT_RATIO,		/* double from 0 to 1 */
	CT_PATH,		/* char *, relative to the file */
	CT_CIDRS,		/* struct hg_cidr *, its count at ck_noff */
	CT_PORTS,		/* struct hg_portset */
	CT_LISTEN,		/* the listeners of kind ck_arg (by ck_set) */
	CT_INCLUDE		/* files to read at once (by cfgfile.c) */
};

#define CK_MAIN		0x01	/* in the main file only */
#define CK_RESTART	0x02	/* a change takes effect at the next start */
#define CK_NOWIN	0x04	/* not in the Windows build */
#define CK_EARLY	0x08	/* read before the rest of the file */
#define CK_CATEGORIES	0x10	/* read in the categories pass of a file */
#define CK_ACTIONS	0x20	/* read in its actions pass */
#define CK_AUTO		0x40	/* CT_UINT: 'auto' is 0 */
#define CK_NULL		0x80	/* CT_PATH: null clears it */
#define CK_EXPECT	0x100	/* CT_CHOICE: "expected a, b or c" */

/* Reads the value v of key k into base (the configuration, or the entry
 * a section describes). */
typedef void	(*cfg_set_fn)(struct loader *, const struct cfg_key *,
		    yaml_node_t *, yaml_node_t *, void *);
/* Whether two configurations have the same value of a CT_OTHER key. */
typedef int	(*cfg_same_fn)(const struct hg_config *,
		    const struct hg_config *);

struct cfg_choice {
	const char	*ch_name;
	int		 ch_value;
};

struct cfg_key {
	const char		*ck_name;
	enum cfg_section	 ck_section;	/* the mapping it belongs to */
	int			 ck_flags;	/* CK_ */
	enum cfg_type		 ck_type;
	int			 ck_arg;	/* section of CT_SECTION, kind
						   of CT_LISTEN */
	size_t			 ck_off;	/* where the value is kept */
	size_t			 ck_noff;	/* CT_CIDRS: its count */
	unsigned long		 ck_min;
	unsigned long		 ck_max;
	const struct cfg_choice	*ck_choices;	/* ends with a NULL name */
	const char		*ck_default;	/* as written in a file */
	cfg_set_fn		 ck_set;	/* reads it, for CT_OTHER and
						   where the type needs more */
	cfg_same_fn		 ck_same;	/* CT_OTHER with CK_RESTART */
};

/* The longest dotted name of a key ("categories.*.lists.max_shrink"). */
#define CFG_MAX_PATH	64

/* A listen: entry written as a mapping, being read (cfgsettings.c). */
struct cfg_listenspec {
	yaml_node_t	*lsp_addr;
	yaml_node_t	*lsp_tls;	/* the tls: key, where errors point */
	char		*lsp_cert;
	char		*lsp_key;
	int		 lsp_pp;	/* HG_PROXYPROTO_ */
	int		 lsp_tlsbad;	/* a tls: value was refused */
};

/* The readers of keys that need their own (cfg_key.ck_set). */
#define CFG_SET(name)	void name(struct loader *, const struct cfg_key *, \
			    yaml_node_t *, yaml_node_t *, void *)

/* cfgkeys.c */
extern const struct cfg_key cfg_keys[];
extern const size_t cfg_nkeys;
struct hg_config *cfg_new(void);

/* cfgsettings.c */
CFG_SET(cfg_set_listen);
CFG_SET(cfg_set_clients);
CFG_SET(cfg_set_group_name);
CFG_SET(cfg_set_group_networks);
CFG_SET(cfg_set_group_users);
CFG_SET(cfg_set_listen_address);
CFG_SET(cfg_set_listen_tls);
CFG_SET(cfg_set_tls_file);
CFG_SET(cfg_set_pac_proxy);
CFG_SET(cfg_set_pac_bypass);
CFG_SET(cfg_set_dns_servers);
CFG_SET(cfg_set_decisions);
CFG_SET(cfg_set_user);
CFG_SET(cfg_set_chroot);
CFG_SET(cfg_set_control_mode);
CFG_SET(cfg_set_control_group);
int		 cfg_same_control_group(const struct hg_config *,
		    const struct hg_config *);
CFG_SET(cfg_set_basic);
CFG_SET(cfg_set_users_file);
CFG_SET(cfg_set_realm);
CFG_SET(cfg_set_negotiate);
CFG_SET(cfg_set_service_principal);
int		 cfg_same_dns_servers(const struct hg_config *,
		    const struct hg_config *);
void		 cfg_auth_finish(struct loader *);

/* cfglog.c */
CFG_SET(cfg_set_log);
CFG_SET(cfg_set_log_outputs);
CFG_SET(cfg_set_logout_to);
void		 cfg_log_finish(struct loader *);

/* cfgldap.c */
CFG_SET(cfg_set_ldap);
CFG_SET(cfg_set_ldap_url);
CFG_SET(cfg_set_ldap_dn);
CFG_SET(cfg_set_ldap_password);
CFG_SET(cfg_set_ldap_filter);
CFG_SET(cfg_set_ldap_attr);
CFG_SET(cfg_set_ldap_ca_file);
CFG_SET(cfg_set_group_ldap);
void		 cfg_ldap_finish(struct loader *);

/* cfgpolicy.c */
CFG_SET(cfg_set_categories);
CFG_SET(cfg_set_actions);
CFG_SET(cfg_set_category_action);
CFG_SET(cfg_set_category_actions);
CFG_SET(cfg_set_category_text);
CFG_SET(cfg_set_category_hosts);
CFG_SET(cfg_set_category_lists);
CFG_SET(cfg_set_list_file);
CFG_SET(cfg_set_list_url);
CFG_SET(cfg_set_list_format);
CFG_SET(cfg_set_list_refresh);
CFG_SET(cfg_set_list_sha256);
CFG_SET(cfg_set_list_ca_file);
CFG_SET(cfg_set_list_max_bytes);
CFG_SET(cfg_set_list_max_shrink);
void		 cfg_resolve_gactions(struct loader *);
void		 cfg_load_sources(struct hg_config *);

/* cfgupstream.c */
CFG_SET(cfg_set_upstreams);
CFG_SET(cfg_set_upstream_name);
CFG_SET(cfg_set_upstream_url);
CFG_SET(cfg_set_upstream_ca);
CFG_SET(cfg_set_upstream_credentials);
CFG_SET(cfg_set_routes);
CFG_SET(cfg_set_route_hosts);
CFG_SET(cfg_set_route_categories);
CFG_SET(cfg_set_route_via);
CFG_SET(cfg_set_route_default);
void		 cfg_upstream_finish(struct loader *);

/* cfgwalk.c */
const struct cfg_key *cfg_find(const struct loader *, enum cfg_section,
		    const char *);
void		 cfg_key_path(const struct cfg_key *, char *, size_t);
int		 cfg_entry_key(const struct cfg_key *);
void		 cfg_set(struct loader *, const struct cfg_key *,
		    yaml_node_t *, yaml_node_t *, void *);
void		 cfg_walk(struct loader *, enum cfg_section, yaml_node_t *,
		    void *, const char *);
yaml_node_pair_t *cfg_map_pair(struct loader *, yaml_node_t *,
		    const char *);
void		 cfg_included_key(struct loader *, yaml_node_t *,
		    const struct cfg_key *, const char *);

/* cfgvalue.c */
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
int		 cfg_category_name_valid(const char *);

/* cfgobj.c */
void		 cfg_free(struct hg_config *);
struct hg_listener *cfg_listener_add(struct hg_config *,
		    enum hg_listen_kind, const char *);
void		 cfg_listener_clear(struct hg_config *, enum hg_listen_kind);
void		 cfg_group_free(struct hg_group *);
void		 cfg_ldap_free(struct hg_ldap *);
void		 cfg_upstream_free(struct hg_upstream *,
		    void (*)(struct tls_client *));
void		 cfg_route_free(struct hg_route *);
void		 cfg_upstreams_free(struct hg_config *);

#endif /* HG_CFGLOAD_H */
