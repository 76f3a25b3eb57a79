/*
 * cfgkeys.c -- the keyword table of the configuration, and reading by
 * it: each key of a mapping through its entry, the errors for keys a
 * mapping does not take, the main-file-only check. The defaults of a new
 * configuration and the changes a reload cannot apply come from the same
 * table (cfgobj.c).
 *
 * A key is read either by its type (the value's reader and the field it
 * goes to), or by its own function (ck_set) where it needs more. Messages
 * name a key by its dotted path ("pac.max_age"), as the manual does.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "rules.h"
#include "cfgload.h"

#define CF(f)		offsetof(struct hg_config, f)

/* A CT_CHOICE is kept in an int; so are these enums. */
_Static_assert(sizeof (enum hg_action) == sizeof (int), "enum size");
_Static_assert(sizeof (enum hg_pac_mode) == sizeof (int), "enum size");
_Static_assert(sizeof (enum hg_pac_fallback) == sizeof (int), "enum size");

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
	[CS_DESTINATIONS] =	{ "destinations", "destinations", 0 },
	[CS_METRICS] =		{ "metrics", "metrics", 0 },
	[CS_TIMEOUTS] =		{ "timeouts", "timeouts", 0 },
	[CS_DNS] =		{ "dns", "dns", 0 },
	[CS_LOG] =		{ "log", "log", 0 },
	[CS_LISTS] =		{ "lists", "lists", 0 },
	[CS_PAC] =		{ "pac", "pac", 0 },
	/* A listen entry has always taken its keys as they come, the last
	 * of a key given twice winning: kept, a configuration that loads
	 * must keep loading. */
	[CS_LISTEN] =		{ "listen", "listen", CSF_LOOSE | CSF_ENTRY },
	[CS_TLS] =		{ "listen.tls", "listen.tls",
				  CSF_LOOSE | CSF_ENTRY },
	[CS_GROUP] =		{ "clients", "clients", CSF_ENTRY },
	[CS_CATEGORY] =		{ "categories.*", "category", CSF_ENTRY },
	[CS_LIST] =		{ "categories.*.lists", "lists", CSF_ENTRY },
};

static const struct cfg_choice choice_action[] = {
	{ "allow", HG_ACT_ALLOW }, { "deny", HG_ACT_DENY },
	{ "audit", HG_ACT_AUDIT }, { NULL, 0 }
};
static const struct cfg_choice choice_sni[] = {
	{ "off", HG_SNI_OFF }, { "log", HG_SNI_LOG },
	{ "require", HG_SNI_REQUIRE }, { NULL, 0 }
};
static const struct cfg_choice choice_log_format[] = {
	{ "json", HG_LOG_JSON }, { "squid", HG_LOG_SQUID }, { NULL, 0 }
};
static const struct cfg_choice choice_log_level[] = {
	{ "error", 0 }, { "warn", 1 }, { "info", 2 }, { "debug", 3 },
	{ NULL, 0 }
};
static const struct cfg_choice choice_pac_mode[] = {
	{ "all", HG_PAC_ALL }, { "policy", HG_PAC_POLICY }, { NULL, 0 }
};
static const struct cfg_choice choice_pac_fallback[] = {
	{ "direct", HG_PAC_DIRECT }, { "block", HG_PAC_BLOCK }, { NULL, 0 }
};
static const struct cfg_choice choice_proxyproto[] = {
	{ "v1", HG_PROXYPROTO_V1 }, { "v2", HG_PROXYPROTO_V2 },
	{ "any", HG_PROXYPROTO_V1 | HG_PROXYPROTO_V2 }, { "off", 0 },
	{ NULL, 0 }
};

/*
 * The keys, each section's in the order its unknown-key message lists
 * them. The top level's order is the order of the reload's warnings.
 */
const struct cfg_key cfg_keys[] = {
	/* The rules: in any file. */
	{ .ck_name = "include", .ck_section = CS_TOP,
	  .ck_set = cfg_set_include },
	{ .ck_name = "categories", .ck_section = CS_TOP,
	  .ck_flags = CK_CATEGORIES, .ck_set = cfg_set_categories },
	{ .ck_name = "actions", .ck_section = CS_TOP,
	  .ck_flags = CK_ACTIONS, .ck_set = cfg_set_actions },

	/* The settings: in the main file. */
	{ .ck_name = "workers", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN | CK_RESTART | CK_AUTO, .ck_type = CT_UINT,
	  .ck_off = CF(cf_workers), .ck_min = 1, .ck_max = HG_MAX_WORKERS,
	  .ck_default = "auto" },
	{ .ck_name = "listen", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN | CK_RESTART, .ck_type = CT_LISTEN,
	  .ck_arg = HG_LISTEN_PROXY, .ck_default = "127.0.0.1:3128" },
	{ .ck_name = "pac", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_type = CT_SECTION, .ck_arg = CS_PAC },
	{ .ck_name = "metrics", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_type = CT_SECTION, .ck_arg = CS_METRICS },
	{ .ck_name = "dns", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN | CK_RESTART, .ck_type = CT_SECTION,
	  .ck_arg = CS_DNS },
	{ .ck_name = "clients", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_type = CT_CIDRS, .ck_off = CF(cf_clients),
	  .ck_noff = CF(cf_nclients), .ck_set = cfg_set_clients,
	  .ck_default = "127.0.0.0/8 ::1/128" },
	{ .ck_name = "auth", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN | CK_NOWIN, .ck_type = CT_SECTION,
	  .ck_arg = CS_AUTH },
	{ .ck_name = "destinations", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN, .ck_type = CT_SECTION,
	  .ck_arg = CS_DESTINATIONS },
	{ .ck_name = "allow_destinations", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN, .ck_type = CT_CIDRS,
	  .ck_off = CF(cf_dest_allow), .ck_noff = CF(cf_ndest_allow) },
	{ .ck_name = "trusted_proxies", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN, .ck_type = CT_CIDRS,
	  .ck_off = CF(cf_trusted_proxies),
	  .ck_noff = CF(cf_ntrusted_proxies) },
	{ .ck_name = "tls_sni", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN | CK_EXPECT, .ck_type = CT_CHOICE,
	  .ck_off = CF(cf_tls_sni), .ck_choices = choice_sni,
	  .ck_default = "log" },
	{ .ck_name = "tls_ports", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_type = CT_PORTS, .ck_off = CF(cf_tls_ports),
	  .ck_default = "443" },
	{ .ck_name = "connect_ports", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN, .ck_type = CT_PORTS,
	  .ck_off = CF(cf_connect_ports), .ck_default = "443" },
	{ .ck_name = "http_ports", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_type = CT_PORTS, .ck_off = CF(cf_http_ports),
	  .ck_default = "80" },
	{ .ck_name = "default", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_type = CT_CHOICE, .ck_off = CF(cf_default),
	  .ck_choices = choice_action, .ck_default = "allow" },
	{ .ck_name = "max_connections", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN, .ck_type = CT_UINT,
	  .ck_off = CF(cf_max_connections), .ck_min = 1, .ck_max = 1000000,
	  .ck_default = "4096" },
	{ .ck_name = "max_connections_per_client", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN, .ck_type = CT_UINT,
	  .ck_off = CF(cf_max_per_client), .ck_min = 0, .ck_max = 1000000,
	  .ck_default = "0" },
	{ .ck_name = "user", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN | CK_NOWIN, .ck_set = cfg_set_user },
	{ .ck_name = "chroot", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN | CK_NOWIN, .ck_set = cfg_set_chroot },
	{ .ck_name = "timeouts", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_type = CT_SECTION, .ck_arg = CS_TIMEOUTS },
	{ .ck_name = "log", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_type = CT_SECTION, .ck_arg = CS_LOG },
	/* Before everything else, so that its max_bytes bounds the file
	 * lists of the files included before the key is reached. */
	{ .ck_name = "lists", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN | CK_EARLY, .ck_type = CT_SECTION,
	  .ck_arg = CS_LISTS },

	{ .ck_name = "basic", .ck_section = CS_AUTH, .ck_type = CT_SECTION,
	  .ck_arg = CS_BASIC, .ck_set = cfg_set_basic },
	{ .ck_name = "allow_plaintext_auth", .ck_section = CS_AUTH,
	  .ck_type = CT_SWITCH, .ck_off = CF(cf_auth_plaintext),
	  .ck_default = "off" },
	{ .ck_name = "max_failures", .ck_section = CS_AUTH,
	  .ck_type = CT_UINT, .ck_off = CF(cf_auth_max_failures),
	  .ck_min = 1, .ck_max = 1000, .ck_default = "5" },
	{ .ck_name = "failure_window", .ck_section = CS_AUTH,
	  .ck_type = CT_DURATION, .ck_off = CF(cf_auth_fail_window),
	  .ck_min = 1000, .ck_default = "60s" },

	{ .ck_name = "users_file", .ck_section = CS_BASIC,
	  .ck_set = cfg_set_users_file },
	{ .ck_name = "realm", .ck_section = CS_BASIC,
	  .ck_set = cfg_set_realm },
	{ .ck_name = "cache_ttl", .ck_section = CS_BASIC,
	  .ck_type = CT_DURATION, .ck_off = CF(cf_auth_cache_ttl),
	  .ck_min = 1000, .ck_default = "5m" },

	{ .ck_name = "guard", .ck_section = CS_DESTINATIONS,
	  .ck_type = CT_SWITCH, .ck_off = CF(cf_dest_guard),
	  .ck_default = "off" },
	{ .ck_name = "allow", .ck_section = CS_DESTINATIONS,
	  .ck_type = CT_CIDRS, .ck_off = CF(cf_dest_allow),
	  .ck_noff = CF(cf_ndest_allow) },

	{ .ck_name = "allow", .ck_section = CS_METRICS, .ck_type = CT_CIDRS,
	  .ck_off = CF(cf_metrics_allow), .ck_noff = CF(cf_nmetrics_allow),
	  .ck_default = "127.0.0.0/8 ::1/128" },
	{ .ck_name = "listen", .ck_section = CS_METRICS,
	  .ck_flags = CK_RESTART, .ck_type = CT_LISTEN,
	  .ck_arg = HG_LISTEN_ADMIN },

	{ .ck_name = "request", .ck_section = CS_TIMEOUTS,
	  .ck_type = CT_TIMEOUT, .ck_off = CF(cf_timeout_request),
	  .ck_default = "10s" },
	{ .ck_name = "connect", .ck_section = CS_TIMEOUTS,
	  .ck_type = CT_TIMEOUT, .ck_off = CF(cf_timeout_connect),
	  .ck_default = "10s" },
	{ .ck_name = "idle", .ck_section = CS_TIMEOUTS,
	  .ck_type = CT_TIMEOUT, .ck_off = CF(cf_timeout_idle),
	  .ck_default = "5m" },
	{ .ck_name = "drain", .ck_section = CS_TIMEOUTS,
	  .ck_type = CT_TIMEOUT, .ck_off = CF(cf_timeout_drain),
	  .ck_default = "10s" },
	{ .ck_name = "response", .ck_section = CS_TIMEOUTS,
	  .ck_type = CT_TIMEOUT, .ck_off = CF(cf_timeout_response),
	  .ck_default = "30s" },

	{ .ck_name = "hosts_file", .ck_section = CS_DNS,
	  .ck_flags = CK_NULL, .ck_type = CT_PATH,
	  .ck_off = CF(cf_hosts_file), .ck_default = "/etc/hosts" },
	{ .ck_name = "servers", .ck_section = CS_DNS,
	  .ck_set = cfg_set_dns_servers, .ck_same = cfg_same_dns_servers,
	  .ck_default = "system" },

	{ .ck_name = "decisions", .ck_section = CS_LOG,
	  .ck_set = cfg_set_decisions, .ck_default = "-" },
	{ .ck_name = "format", .ck_section = CS_LOG, .ck_type = CT_CHOICE,
	  .ck_off = CF(cf_log_format), .ck_choices = choice_log_format,
	  .ck_default = "json" },
	{ .ck_name = "level", .ck_section = CS_LOG, .ck_type = CT_CHOICE,
	  .ck_off = CF(cf_log_level), .ck_choices = choice_log_level,
	  .ck_default = "info" },

	{ .ck_name = "cache_dir", .ck_section = CS_LISTS, .ck_type = CT_PATH,
	  .ck_off = CF(cf_cache_dir), .ck_default = "/var/cache/hushgate" },
	{ .ck_name = "timeout", .ck_section = CS_LISTS,
	  .ck_type = CT_DURATION, .ck_off = CF(cf_list_timeout),
	  .ck_min = 1000, .ck_default = "30s" },
	{ .ck_name = "max_bytes", .ck_section = CS_LISTS, .ck_type = CT_SIZE,
	  .ck_off = CF(cf_list_max_bytes), .ck_default = "64MiB" },
	{ .ck_name = "max_shrink", .ck_section = CS_LISTS,
	  .ck_type = CT_RATIO, .ck_off = CF(cf_list_max_shrink),
	  .ck_default = "0.5" },

	{ .ck_name = "mode", .ck_section = CS_PAC, .ck_type = CT_CHOICE,
	  .ck_off = CF(cf_pac_mode), .ck_choices = choice_pac_mode,
	  .ck_default = "all" },
	{ .ck_name = "fallback", .ck_section = CS_PAC, .ck_type = CT_CHOICE,
	  .ck_off = CF(cf_pac_fallback), .ck_choices = choice_pac_fallback,
	  .ck_default = "direct" },
	{ .ck_name = "proxy", .ck_section = CS_PAC,
	  .ck_set = cfg_set_pac_proxy },
	{ .ck_name = "bypass", .ck_section = CS_PAC,
	  .ck_set = cfg_set_pac_bypass },
	{ .ck_name = "max_age", .ck_section = CS_PAC, .ck_type = CT_UINT,
	  .ck_off = CF(cf_pac_max_age), .ck_min = 0, .ck_max = 31536000,
	  .ck_default = "300" },
	{ .ck_name = "listen", .ck_section = CS_PAC, .ck_flags = CK_RESTART,
	  .ck_type = CT_LISTEN, .ck_arg = HG_LISTEN_PAC },

	/* Entries of lists: their keys go to the entry being read. */
	{ .ck_name = "address", .ck_section = CS_LISTEN,
	  .ck_set = cfg_set_listen_address },
	{ .ck_name = "proxy_protocol", .ck_section = CS_LISTEN,
	  .ck_flags = CK_EXPECT, .ck_type = CT_CHOICE,
	  .ck_off = offsetof(struct cfg_listenspec, lsp_pp),
	  .ck_choices = choice_proxyproto },
	{ .ck_name = "tls", .ck_section = CS_LISTEN,
	  .ck_type = CT_SECTION, .ck_arg = CS_TLS,
	  .ck_set = cfg_set_listen_tls },

	{ .ck_name = "cert", .ck_section = CS_TLS,
	  .ck_off = offsetof(struct cfg_listenspec, lsp_cert),
	  .ck_set = cfg_set_tls_file },
	{ .ck_name = "key", .ck_section = CS_TLS,
	  .ck_off = offsetof(struct cfg_listenspec, lsp_key),
	  .ck_set = cfg_set_tls_file },

	{ .ck_name = "name", .ck_section = CS_GROUP,
	  .ck_set = cfg_set_group_name },
	{ .ck_name = "networks", .ck_section = CS_GROUP,
	  .ck_set = cfg_set_group_networks },
	{ .ck_name = "users", .ck_section = CS_GROUP,
	  .ck_set = cfg_set_group_users },

	{ .ck_name = "action", .ck_section = CS_CATEGORY,
	  .ck_set = cfg_set_category_action },
	{ .ck_name = "actions", .ck_section = CS_CATEGORY,
	  .ck_set = cfg_set_category_actions },
	{ .ck_name = "description", .ck_section = CS_CATEGORY,
	  .ck_off = offsetof(struct hg_category, ca_description),
	  .ck_set = cfg_set_category_text },
	{ .ck_name = "breaks", .ck_section = CS_CATEGORY,
	  .ck_off = offsetof(struct hg_category, ca_breaks),
	  .ck_set = cfg_set_category_text },
	{ .ck_name = "note", .ck_section = CS_CATEGORY,
	  .ck_off = offsetof(struct hg_category, ca_note),
	  .ck_set = cfg_set_category_text },
	{ .ck_name = "hosts", .ck_section = CS_CATEGORY,
	  .ck_set = cfg_set_category_hosts },
	{ .ck_name = "lists", .ck_section = CS_CATEGORY,
	  .ck_set = cfg_set_category_lists },

	{ .ck_name = "file", .ck_section = CS_LIST,
	  .ck_set = cfg_set_list_file },
	{ .ck_name = "url", .ck_section = CS_LIST,
	  .ck_set = cfg_set_list_url },
	{ .ck_name = "format", .ck_section = CS_LIST,
	  .ck_set = cfg_set_list_format },
	{ .ck_name = "refresh", .ck_section = CS_LIST,
	  .ck_set = cfg_set_list_refresh },
	{ .ck_name = "sha256", .ck_section = CS_LIST,
	  .ck_set = cfg_set_list_sha256 },
	{ .ck_name = "ca_file", .ck_section = CS_LIST,
	  .ck_set = cfg_set_list_ca_file },
	{ .ck_name = "max_bytes", .ck_section = CS_LIST,
	  .ck_set = cfg_set_list_max_bytes },
	{ .ck_name = "max_shrink", .ck_section = CS_LIST,
	  .ck_set = cfg_set_list_max_shrink },
};

#define NKEYS	(sizeof cfg_keys / sizeof cfg_keys[0])
const size_t cfg_nkeys = NKEYS;

/* The key called name in section sec, or NULL. */
const struct cfg_key *
cfg_find(enum cfg_section sec, const char *name)
{
	size_t	i;

	for (i = 0; i < NKEYS; i++)
		if (cfg_keys[i].ck_section == sec &&
		    strcmp(cfg_keys[i].ck_name, name) == 0)
			return (&cfg_keys[i]);
	return (NULL);
}

/* Is ck a key of a list's entries (not a setting)? */
int
cfg_entry_key(const struct cfg_key *ck)
{
	return ((cfg_sects[ck->ck_section].cs_flags & CSF_ENTRY) != 0);
}

/* The key whose value is the mapping sec, or NULL. */
static const struct cfg_key *
section_key(enum cfg_section sec)
{
	size_t	i;

	for (i = 0; i < NKEYS; i++)
		if (cfg_keys[i].ck_type == CT_SECTION &&
		    (enum cfg_section)cfg_keys[i].ck_arg == sec)
			return (&cfg_keys[i]);
	return (NULL);
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
key_list(enum cfg_section sec, int mask, int want, char *buf, size_t len)
{
	size_t	i, n = 0;

	*buf = '\0';
	for (i = 0; i < NKEYS; i++) {
		if (cfg_keys[i].ck_section != sec ||
		    (cfg_keys[i].ck_flags & mask) != want)
			continue;
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
		    n++ > 0 ? ", " : "", cfg_keys[i].ck_name);
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
	key_list(CS_TOP, CK_MAIN, 0, list, sizeof list);
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
	case CT_LISTEN:
		cfg_set_listeners(ld, v, ck->ck_arg, what);
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

	if ((ck = cfg_find(w->w_sec, key)) == NULL) {
		key_list(w->w_sec, 0, 0, list, sizeof list);
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

/*
 * Key i of the table, for the tests: its dotted path into buf
 * ("pac.listen"; "categories.*.hosts", * standing for a category's name)
 * and its HG_KEY_ flags, HG_KEY_MAIN being that of its top-level key and
 * a key of a section that needs a restart needing one too. Returns -1
 * past the last key.
 */
int
config_key(size_t i, char *buf, size_t len, int *flags)
{
	const struct cfg_key	*ck, *up;
	char			 top[CFG_MAX_PATH];

	if (i >= NKEYS)
		return (-1);
	ck = &cfg_keys[i];
	cfg_key_path(ck, buf, len);
	snprintf(top, sizeof top, "%.*s", (int)strcspn(buf, "."), buf);
	*flags = 0;
	if ((up = cfg_find(CS_TOP, top)) != NULL && (up->ck_flags & CK_MAIN))
		*flags |= HG_KEY_MAIN;
	for (up = ck; up != NULL; up = section_key(up->ck_section))
		if (up->ck_flags & CK_RESTART)
			*flags |= HG_KEY_RESTART;
	if (cfg_entry_key(ck))
		*flags |= HG_KEY_ENTRY;
	return (0);
}
