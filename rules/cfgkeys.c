/*
 * cfgkeys.c -- the keyword table of the configuration: every key of every
 * mapping, with where it may appear, how its value is read and kept, its
 * default and whether a change needs a restart. The loader reads by it
 * (cfgwalk.c, through ld_keys; cfgfile.c); here, a new configuration
 * gets its defaults from it. The reload's restart warnings come from the
 * same table (cfgrestart.c).
 *
 * A key is read either by its type, or by its own function (ck_set) where
 * it needs more: those are in cfgsettings.c and cfgpolicy.c.
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
#define LF(f)		offsetof(struct hg_ldap, f)
#define UP(f)		offsetof(struct hg_upstream, f)

/* A CT_CHOICE is kept in an int; so are these enums. */
_Static_assert(sizeof (enum hg_action) == sizeof (int), "enum size");
_Static_assert(sizeof (enum hg_pac_mode) == sizeof (int), "enum size");
_Static_assert(sizeof (enum hg_pac_fallback) == sizeof (int), "enum size");

static const struct cfg_choice choice_action[] = {
	{ "allow", HG_ACT_ALLOW }, { "deny", HG_ACT_DENY },
	{ "audit", HG_ACT_AUDIT }, { NULL, 0 }
};
static const struct cfg_choice choice_sni[] = {
	{ "off", HG_SNI_OFF }, { "log", HG_SNI_LOG },
	{ "require", HG_SNI_REQUIRE }, { "decide", HG_SNI_DECIDE },
	{ NULL, 0 }
};
static const struct cfg_choice choice_log_format[] = {
	{ "json", HG_LOG_JSON }, { "squid", HG_LOG_SQUID },
	{ "text", HG_LOG_TEXT }, { NULL, 0 }
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
static const struct cfg_choice choice_membership[] = {
	{ "member", HG_LDAP_MEMBER }, { "memberuid", HG_LDAP_MEMBERUID },
	{ "memberof", HG_LDAP_MEMBEROF }, { NULL, 0 }
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
	  .ck_type = CT_INCLUDE },
	{ .ck_name = "categories", .ck_section = CS_TOP,
	  .ck_flags = CK_CATEGORIES, .ck_set = cfg_set_categories },
	{ .ck_name = "actions", .ck_section = CS_TOP,
	  .ck_flags = CK_ACTIONS, .ck_set = cfg_set_actions },
	/* A profile may set the default (lockdown.yaml does); read with the
	 * actions, so a file's own value wins over its includes'. */
	{ .ck_name = "default", .ck_section = CS_TOP, .ck_flags = CK_ACTIONS,
	  .ck_type = CT_CHOICE, .ck_off = CF(cf_default),
	  .ck_choices = choice_action, .ck_default = "allow" },

	/* The settings: in the main file. */
	{ .ck_name = "workers", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN | CK_RESTART | CK_AUTO, .ck_type = CT_UINT,
	  .ck_off = CF(cf_workers), .ck_min = 1, .ck_max = HG_MAX_WORKERS,
	  .ck_default = "auto" },
	{ .ck_name = "listen", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN | CK_RESTART, .ck_type = CT_LISTEN,
	  .ck_arg = HG_LISTEN_PROXY, .ck_set = cfg_set_listen,
	  .ck_default = "127.0.0.1:3128" },
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
	{ .ck_name = "ldap", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_type = CT_SECTION, .ck_arg = CS_LDAP, .ck_set = cfg_set_ldap },
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
	{ .ck_name = "control", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN | CK_RESTART | CK_NOWIN, .ck_type = CT_SECTION,
	  .ck_arg = CS_CONTROL },
	{ .ck_name = "timeouts", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_type = CT_SECTION, .ck_arg = CS_TIMEOUTS },
	{ .ck_name = "log", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_type = CT_SECTION, .ck_arg = CS_LOG, .ck_set = cfg_set_log },
	{ .ck_name = "upstreams", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_set = cfg_set_upstreams },
	{ .ck_name = "routes", .ck_section = CS_TOP, .ck_flags = CK_MAIN,
	  .ck_set = cfg_set_routes },
	{ .ck_name = "route_default", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN, .ck_set = cfg_set_route_default },
	/* Before everything else, so that its max_bytes bounds the file
	 * lists of the files included before the key is reached. */
	{ .ck_name = "lists", .ck_section = CS_TOP,
	  .ck_flags = CK_MAIN | CK_EARLY, .ck_type = CT_SECTION,
	  .ck_arg = CS_LISTS },

	{ .ck_name = "basic", .ck_section = CS_AUTH, .ck_type = CT_SECTION,
	  .ck_arg = CS_BASIC, .ck_set = cfg_set_basic },
	{ .ck_name = "negotiate", .ck_section = CS_AUTH,
	  .ck_type = CT_SECTION, .ck_arg = CS_NEGOTIATE,
	  .ck_set = cfg_set_negotiate },
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

	{ .ck_name = "keytab", .ck_section = CS_NEGOTIATE,
	  .ck_type = CT_PATH, .ck_off = CF(cf_nego_keytab) },
	{ .ck_name = "service_principal", .ck_section = CS_NEGOTIATE,
	  .ck_set = cfg_set_service_principal },
	{ .ck_name = "replay_cache", .ck_section = CS_NEGOTIATE,
	  .ck_type = CT_PATH, .ck_off = CF(cf_nego_rcache) },
	{ .ck_name = "strip_realm", .ck_section = CS_NEGOTIATE,
	  .ck_type = CT_SWITCH, .ck_off = CF(cf_nego_strip_realm),
	  .ck_default = "off" },
	/* ldap: its defaults are set by cfg_set_ldap (the keys are kept in
	 * the struct hg_ldap it makes, not in the configuration). */
	{ .ck_name = "url", .ck_section = CS_LDAP,
	  .ck_set = cfg_set_ldap_url },
	{ .ck_name = "bind_dn", .ck_section = CS_LDAP,
	  .ck_off = LF(lc_bind_dn), .ck_set = cfg_set_ldap_dn },
	{ .ck_name = "bind_password_file", .ck_section = CS_LDAP,
	  .ck_set = cfg_set_ldap_password },
	{ .ck_name = "base", .ck_section = CS_LDAP,
	  .ck_off = LF(lc_base), .ck_set = cfg_set_ldap_dn },
	{ .ck_name = "user_filter", .ck_section = CS_LDAP,
	  .ck_set = cfg_set_ldap_filter },
	{ .ck_name = "membership", .ck_section = CS_LDAP,
	  .ck_flags = CK_EXPECT, .ck_type = CT_CHOICE,
	  .ck_off = LF(lc_membership), .ck_choices = choice_membership },
	{ .ck_name = "member_attribute", .ck_section = CS_LDAP,
	  .ck_set = cfg_set_ldap_attr },
	{ .ck_name = "nested", .ck_section = CS_LDAP, .ck_type = CT_SWITCH,
	  .ck_off = LF(lc_nested) },
	{ .ck_name = "starttls", .ck_section = CS_LDAP, .ck_type = CT_SWITCH,
	  .ck_off = LF(lc_starttls) },
	{ .ck_name = "ca_file", .ck_section = CS_LDAP,
	  .ck_set = cfg_set_ldap_ca_file },
	{ .ck_name = "ttl", .ck_section = CS_LDAP, .ck_type = CT_DURATION,
	  .ck_off = LF(lc_ttl), .ck_min = 1000 },
	{ .ck_name = "timeout", .ck_section = CS_LDAP,
	  .ck_type = CT_DURATION, .ck_off = LF(lc_timeout), .ck_min = 1000 },

	{ .ck_name = "guard", .ck_section = CS_DESTINATIONS,
	  .ck_type = CT_SWITCH, .ck_off = CF(cf_dest_guard),
	  .ck_default = "off" },
	{ .ck_name = "allow", .ck_section = CS_DESTINATIONS,
	  .ck_type = CT_CIDRS, .ck_off = CF(cf_dest_allow),
	  .ck_noff = CF(cf_ndest_allow) },

	{ .ck_name = "allow", .ck_section = CS_METRICS, .ck_type = CT_CIDRS,
	  .ck_off = CF(cf_metrics_allow), .ck_noff = CF(cf_nmetrics_allow),
	  .ck_default = "127.0.0.0/8 ::1/128" },
	{ .ck_name = "status", .ck_section = CS_METRICS,
	  .ck_type = CT_SWITCH, .ck_off = CF(cf_status),
	  .ck_default = "on" },
	{ .ck_name = "listen", .ck_section = CS_METRICS,
	  .ck_flags = CK_RESTART, .ck_type = CT_LISTEN,
	  .ck_arg = HG_LISTEN_ADMIN, .ck_set = cfg_set_listen },

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
	{ .ck_name = "outputs", .ck_section = CS_LOG,
	  .ck_set = cfg_set_log_outputs },

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
	  .ck_type = CT_LISTEN, .ck_arg = HG_LISTEN_PAC,
	  .ck_set = cfg_set_listen },

	{ .ck_name = "socket", .ck_section = CS_CONTROL, .ck_flags = CK_NULL,
	  .ck_type = CT_PATH, .ck_off = CF(cf_control_socket) },
	{ .ck_name = "mode", .ck_section = CS_CONTROL, .ck_type = CT_UINT,
	  .ck_off = CF(cf_control_mode), .ck_set = cfg_set_control_mode,
	  .ck_default = "0600" },
	{ .ck_name = "group", .ck_section = CS_CONTROL,
	  .ck_set = cfg_set_control_group,
	  .ck_same = cfg_same_control_group },

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

	{ .ck_name = "to", .ck_section = CS_LOGOUT,
	  .ck_set = cfg_set_logout_to },
	{ .ck_name = "format", .ck_section = CS_LOGOUT, .ck_type = CT_CHOICE,
	  .ck_off = offsetof(struct hg_logout, lo_format),
	  .ck_choices = choice_log_format },

	{ .ck_name = "name", .ck_section = CS_GROUP,
	  .ck_set = cfg_set_group_name },
	{ .ck_name = "networks", .ck_section = CS_GROUP,
	  .ck_set = cfg_set_group_networks },
	{ .ck_name = "users", .ck_section = CS_GROUP,
	  .ck_set = cfg_set_group_users },
	{ .ck_name = "ldap_group", .ck_section = CS_GROUP,
	  .ck_set = cfg_set_group_ldap },

	{ .ck_name = "name", .ck_section = CS_UPSTREAM,
	  .ck_set = cfg_set_upstream_name },
	{ .ck_name = "url", .ck_section = CS_UPSTREAM,
	  .ck_set = cfg_set_upstream_url },
	{ .ck_name = "ca", .ck_section = CS_UPSTREAM,
	  .ck_set = cfg_set_upstream_ca },
	{ .ck_name = "credentials_file", .ck_section = CS_UPSTREAM,
	  .ck_set = cfg_set_upstream_credentials },
	{ .ck_name = "max_failures", .ck_section = CS_UPSTREAM,
	  .ck_type = CT_UINT, .ck_off = UP(up_max_failures), .ck_min = 0,
	  .ck_max = 1000 },
	{ .ck_name = "hold_time", .ck_section = CS_UPSTREAM,
	  .ck_type = CT_DURATION, .ck_off = UP(up_hold), .ck_min = 1000 },

	{ .ck_name = "hosts", .ck_section = CS_ROUTE,
	  .ck_set = cfg_set_route_hosts },
	{ .ck_name = "categories", .ck_section = CS_ROUTE,
	  .ck_set = cfg_set_route_categories },
	{ .ck_name = "via", .ck_section = CS_ROUTE,
	  .ck_set = cfg_set_route_via },

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

/* The top-level key called name, or NULL. */
static const struct cfg_key *
top_key(const char *name)
{
	size_t	i;

	for (i = 0; i < NKEYS; i++)
		if (cfg_keys[i].ck_section == CS_TOP &&
		    strcmp(cfg_keys[i].ck_name, name) == 0)
			return (&cfg_keys[i]);
	return (NULL);
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

/* The name of tls_sni mode (HG_SNI_), as written in a configuration. */
const char *
config_tls_sni_name(int mode)
{
	const struct cfg_choice	*ch;

	for (ch = choice_sni; ch->ch_name != NULL; ch++)
		if (ch->ch_value == mode)
			return (ch->ch_name);
	return ("?");
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
	if ((up = top_key(top)) != NULL && (up->ck_flags & CK_MAIN))
		*flags |= HG_KEY_MAIN;
	for (up = ck; up != NULL; up = section_key(up->ck_section))
		if (up->ck_flags & CK_RESTART)
			*flags |= HG_KEY_RESTART;
	if (cfg_entry_key(ck))
		*flags |= HG_KEY_ENTRY;
	return (0);
}

/* A default as a file would write it: a list's items are words. */
static int
default_node(yaml_document_t *doc, const struct cfg_key *ck)
{
	const char	*s = ck->ck_default, *end;
	int		 seq, item;

	if (ck->ck_type != CT_CIDRS && ck->ck_type != CT_PORTS &&
	    ck->ck_type != CT_LISTEN)
		return (yaml_document_add_scalar(doc, NULL,
		    (yaml_char_t *)s, (int)strlen(s),
		    YAML_PLAIN_SCALAR_STYLE));
	seq = yaml_document_add_sequence(doc, NULL, YAML_FLOW_SEQUENCE_STYLE);
	for (; *s != '\0'; s = *end != '\0' ? end + 1 : end) {
		end = s + strcspn(s, " ");
		item = yaml_document_add_scalar(doc, NULL, (yaml_char_t *)s,
		    (int)(end - s), YAML_PLAIN_SCALAR_STYLE);
		if (seq == 0 || item == 0 ||
		    !yaml_document_append_sequence_item(doc, seq, item))
			return (0);
	}
	return (seq);
}

/*
 * Give a new configuration the defaults of the table: each default goes
 * through its key's own reader, as if the file began with it. A default
 * that does not read is a mistake in the table: abort.
 */
static void
defaults(struct hg_config *cf)
{
	struct loader		 ld;
	struct hg_errors	 errs;
	yaml_document_t		 doc;
	const struct cfg_key	*ck;
	int			 id;

	memset(&ld, 0, sizeof ld);
	errors_init(&errs);
	if (!yaml_document_initialize(&doc, NULL, NULL, NULL, 1, 1))
		abort();
	ld.ld_keys = cfg_keys;
	ld.ld_nkeys = NKEYS;
	ld.ld_cf = cf;
	ld.ld_rs = cf->cf_rules;
	ld.ld_errs = &errs;
	ld.ld_file = "(defaults)";
	ld.ld_doc = &doc;
	for (ck = cfg_keys; ck < cfg_keys + NKEYS; ck++) {
		if (ck->ck_default == NULL || cfg_entry_key(ck))
			continue;
		if ((id = default_node(&doc, ck)) == 0)
			abort();
		cfg_set(&ld, ck, cfg_node(&ld, id), cfg_node(&ld, id), cf);
	}
	yaml_document_delete(&doc);
	if (errors_total(&errs) != 0) {
		errors_print(&errs, stderr);
		abort();
	}
	errors_free(&errs);
}

/*
 * A new configuration with the defaults of the keyword table (one
 * reference), before any file is read.
 */
struct hg_config *
cfg_new(void)
{
	struct hg_config	*cf;

	cf = xcalloc(1, sizeof *cf);
	cf->cf_refs = 1;
	cf->cf_rules = ruleset_new();
	errors_init(&cf->cf_warnings);
	defaults(cf);
	return (cf);
}
