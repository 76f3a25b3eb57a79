/*
 * cfgldap.c -- the directory of client groups: the ldap: section (where
 * the directory is, how hushgate binds to it, where users are and how a
 * group names its members) and a clients entry's ldap_group, with the
 * checks that need the whole configuration. The bind password is read
 * from its file here, at every load, so that a reload picks a new one up
 * and a file that cannot be read is an error in its place.
 *
 * A build without OpenLDAP's libldap (and the Windows build) refuses both
 * keys where they are written.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "rules.h"
#include "cfgload.h"

/* Is the build without directory lookups? Then say so at n. */
static int
ldap_lacks(struct loader *ld, const yaml_node_t *n, const char *what)
{
#ifdef HAVE_LDAP
	(void)ld;
	(void)n;
	(void)what;
	return (0);
#else
	cfg_err(ld, n, "%s: not supported in this build (directory groups "
	    "need OpenLDAP's libldap at configure time; not on Windows)",
	    what);
	return (1);
#endif
}

/* The value of key name in mapping map, or NULL. */
static yaml_node_t *
map_value(struct loader *ld, yaml_node_t *map, const char *name)
{
	yaml_node_pair_t	*p = cfg_map_pair(ld, map, name);

	return (p != NULL ? cfg_node(ld, p->value) : NULL);
}

/*
 * ldap: {url, bind_dn, bind_password_file, base, user_filter, membership,
 * member_attribute, nested, starttls, ca_file, ttl, timeout}. url is
 * needed, and base unless membership is memberuid; bind_dn and
 * bind_password_file go together.
 */
void
cfg_set_ldap(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_config	*cf = ld->ld_cf;
	struct hg_ldap		*lc;
	yaml_node_t		*n;
	const char		*attr;

	if (ldap_lacks(ld, k, "ldap") ||
	    cfg_want_kind(ld, v, YAML_MAPPING_NODE, "ldap") != 0)
		return;
	ld->ld_ldap_file = ld->ld_file;
	ld->ld_ldap_at = k->start_mark;
	cfg_ldap_free(cf->cf_ldap);
	cf->cf_ldap = lc = xcalloc(1, sizeof *lc);
	lc->lc_filter = xstrdup("(uid=%s)");
	lc->lc_membership = HG_LDAP_MEMBER;
	lc->lc_ttl = 300 * 1000;
	lc->lc_timeout = 5 * 1000;
	cfg_walk(ld, CS_LDAP, v, lc, NULL);

	if (map_value(ld, v, "url") == NULL)
		cfg_err(ld, k, "ldap: url is missing (where the directory "
		    "is: ldap://HOST or ldaps://HOST)");
	if (map_value(ld, v, "base") == NULL &&
	    lc->lc_membership != HG_LDAP_MEMBERUID)
		cfg_err(ld, k, "ldap: base is missing (where users are "
		    "searched, such as dc=example,dc=org)");
	if (map_value(ld, v, "bind_dn") != NULL &&
	    map_value(ld, v, "bind_password_file") == NULL)
		cfg_err(ld, k, "ldap: bind_dn needs bind_password_file");
	if (map_value(ld, v, "bind_dn") == NULL &&
	    (n = map_value(ld, v, "bind_password_file")) != NULL)
		cfg_err(ld, n, "ldap.bind_password_file: without bind_dn "
		    "(the entry to bind as)");
	if (lc->lc_nested && lc->lc_membership == HG_LDAP_MEMBERUID &&
	    (n = map_value(ld, v, "nested")) != NULL)
		cfg_err(ld, n, "ldap.nested: with membership member or "
		    "memberof only (memberUid names users, not groups)");
	if (lc->lc_starttls && lc->lc_urls != NULL &&
	    strstr(lc->lc_urls, "ldaps://") != NULL &&
	    (n = map_value(ld, v, "starttls")) != NULL)
		cfg_err(ld, n, "ldap.starttls: not with an ldaps:// url "
		    "(TLS from the start)");
	if (lc->lc_attr == NULL) {
		attr = lc->lc_membership == HG_LDAP_MEMBERUID ? "memberUid" :
		    lc->lc_membership == HG_LDAP_MEMBEROF ? "memberOf" :
		    "member";
		lc->lc_attr = xstrdup(attr);
	}
}

/* ldap.url: one URL or a list, tried in order. */
void
cfg_set_ldap_url(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	struct hg_ldap		*lc = arg;
	yaml_node_item_t	*it;
	yaml_node_t		*n;
	const char		*s, *why;
	char			*all = NULL, *joined;
	size_t			 count = 0;

	if (v->type == YAML_SEQUENCE_NODE) {
		it = v->data.sequence.items.start;
		if (it == v->data.sequence.items.top) {
			cfg_err(ld, v, "ldap.url: an empty list");
			return;
		}
	} else
		it = NULL;
	for (;;) {
		if (it == NULL)
			n = v;
		else if (it < v->data.sequence.items.top)
			n = cfg_node(ld, *it++);
		else
			break;
		if ((s = cfg_want_string(ld, n, "ldap.url")) == NULL)
			;
		else if (ldapstr_url_valid(s, &why) != 0)
			cfg_err(ld, n, "ldap.url: '%s': %s", s, why);
		else if (++count > HG_MAX_LDAP_URLS)
			cfg_err(ld, n, "ldap.url: more than %d URLs",
			    HG_MAX_LDAP_URLS);
		else {
			xasprintf(&joined, "%s%s%s", all ? all : "",
			    all ? " " : "", s);
			free(all);
			all = joined;
		}
		if (it == NULL)
			break;
	}
	free(lc->lc_urls);
	lc->lc_urls = all;
}

/* ldap.bind_dn, ldap.base: a DN, into the field at ck_off. */
void
cfg_set_ldap_dn(struct loader *ld, const struct cfg_key *ck, yaml_node_t *k,
    yaml_node_t *v, void *arg)
{
	char		**slot = (char **)((char *)arg + ck->ck_off);
	char		  what[CFG_MAX_PATH];
	const char	 *s, *why;

	cfg_key_path(ck, what, sizeof what);
	if ((s = cfg_want_string(ld, v, what)) == NULL)
		return;
	if (ldapstr_dn_valid(s, &why) != 0) {
		cfg_err(ld, v, "%s: '%s' is not a DN: %s", what, s, why);
		return;
	}
	free(*slot);
	*slot = xstrdup(s);
}

/*
 * The secret of path: its first line, without its line end; the whole
 * file is at most a line. Returns it (to be zeroed when freed), or NULL
 * with why.
 */
static char *
read_secret(const char *path, char *why, size_t len)
{
	char	 buf[HG_MAX_LDAP_PASSWORD + 3], *out = NULL;
	size_t	 n;
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(why, len, "%s: cannot open: %s", path,
		    strerror(errno));
		return (NULL);
	}
	n = fread(buf, 1, sizeof buf, f);
	if (ferror(f))
		snprintf(why, len, "%s: cannot read: %s", path,
		    strerror(errno));
	else {
		if (n > 0 && buf[n - 1] == '\n')
			n--;
		if (n > 0 && buf[n - 1] == '\r')
			n--;
		if (n == 0)
			snprintf(why, len, "%s: is empty", path);
		else if (n > HG_MAX_LDAP_PASSWORD)
			snprintf(why, len, "%s: longer than %d bytes", path,
			    HG_MAX_LDAP_PASSWORD);
		else if (memchr(buf, '\0', n) != NULL ||
		    memchr(buf, '\n', n) != NULL)
			snprintf(why, len, "%s: more than one line, or a NUL "
			    "byte", path);
		else
			out = xstrndup(buf, n);
	}
	fclose(f);
	explicit_bzero(buf, sizeof buf);
	return (out);
}

/* ldap.bind_password_file: read now (and at every reload). */
void
cfg_set_ldap_password(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_ldap	*lc = arg;
	const char	*s;
	char		*path, *pw, why[512];

	if ((s = cfg_want_string(ld, v, "ldap.bind_password_file")) == NULL)
		return;
	path = path_join_dir(ld->ld_file, s);
	pw = read_secret(path, why, sizeof why);
	free(path);
	if (pw == NULL) {
		cfg_err(ld, v, "ldap.bind_password_file: %s", why);
		return;
	}
	if (lc->lc_bind_pw != NULL) {
		explicit_bzero(lc->lc_bind_pw, strlen(lc->lc_bind_pw));
		free(lc->lc_bind_pw);
	}
	lc->lc_bind_pw = pw;
}

void
cfg_set_ldap_filter(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_ldap	*lc = arg;
	const char	*s, *why;

	if ((s = cfg_want_string(ld, v, "ldap.user_filter")) == NULL)
		return;
	if (ldapstr_filter_valid(s, &why) != 0) {
		cfg_err(ld, v, "ldap.user_filter: '%s': %s", s, why);
		return;
	}
	free(lc->lc_filter);
	lc->lc_filter = xstrdup(s);
}

void
cfg_set_ldap_attr(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_ldap	*lc = arg;
	const char	*s;

	if ((s = cfg_want_string(ld, v, "ldap.member_attribute")) == NULL)
		return;
	if (!ldapstr_attr_valid(s)) {
		cfg_err(ld, v, "ldap.member_attribute: '%s' is not an "
		    "attribute name", s);
		return;
	}
	free(lc->lc_attr);
	lc->lc_attr = xstrdup(s);
}

/* ldap.ca_file: the CAs a TLS directory's certificate is checked with. */
void
cfg_set_ldap_ca_file(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_ldap	*lc = arg;
	const char	*s;
	char		*path;
	FILE		*f;

	if ((s = cfg_want_string(ld, v, "ldap.ca_file")) == NULL)
		return;
	path = path_join_dir(ld->ld_file, s);
	if ((f = fopen(path, "r")) == NULL) {
		cfg_err(ld, v, "ldap.ca_file: %s: cannot open: %s", path,
		    strerror(errno));
		free(path);
		return;
	}
	fclose(f);
	free(lc->lc_ca_file);
	lc->lc_ca_file = path;
}

/*
 * A clients entry's ldap_group: the DN of a directory group whose
 * members (authenticated users) the entry takes. Each distinct DN is
 * looked up once per user; at most HG_MAX_LDAP_GROUPS of them.
 */
void
cfg_set_group_ldap(struct loader *ld, const struct cfg_key *ck,
    yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct hg_group		*gr = arg;
	struct hg_config	*cf = ld->ld_cf;
	const char		*s, *why;
	size_t			 i;

	if (ldap_lacks(ld, k, "clients.ldap_group") ||
	    (s = cfg_want_string(ld, v, "clients.ldap_group")) == NULL)
		return;
	if (ldapstr_dn_valid(s, &why) != 0) {
		cfg_err(ld, v, "clients.ldap_group: '%s' is not a DN: %s", s,
		    why);
		return;
	}
	for (i = 0; i < cf->cf_nldap_groups; i++)
		if (strcmp(cf->cf_ldap_groups[i], s) == 0)
			break;
	if (i == cf->cf_nldap_groups) {
		if (i == HG_MAX_LDAP_GROUPS) {
			cfg_err(ld, v, "clients.ldap_group: more than %d "
			    "different groups", HG_MAX_LDAP_GROUPS);
			return;
		}
		cf->cf_ldap_groups = xreallocarray(cf->cf_ldap_groups, i + 1,
		    sizeof *cf->cf_ldap_groups);
		cf->cf_ldap_groups[cf->cf_nldap_groups++] = xstrdup(s);
	}
	gr->gr_ldap = (unsigned)i + 1;
	if (ld->ld_ldapgrp_file == NULL) {
		ld->ld_ldapgrp_file = ld->ld_file;
		ld->ld_ldapgrp_at = k->start_mark;
	}
}

/*
 * With the whole configuration read: an ldap_group needs the ldap:
 * section that says where to look it up; an ldap: section that no
 * ldap_group uses is a warning.
 */
void
cfg_ldap_finish(struct loader *ld)
{
	struct hg_config	*cf = ld->ld_cf;

	if (cf->cf_nldap_groups > 0 && cf->cf_ldap == NULL &&
	    ld->ld_ldapgrp_file != NULL)
		errors_add(ld->ld_errs, ld->ld_ldapgrp_file,
		    (unsigned)ld->ld_ldapgrp_at.line + 1,
		    (unsigned)ld->ld_ldapgrp_at.column + 1,
		    "clients.ldap_group: no ldap: section says which "
		    "directory to look the group up in");
	if (cf->cf_ldap != NULL && cf->cf_nldap_groups == 0 &&
	    ld->ld_ldap_file != NULL)
		errors_add(&cf->cf_warnings, ld->ld_ldap_file,
		    (unsigned)ld->ld_ldap_at.line + 1,
		    (unsigned)ld->ld_ldap_at.column + 1,
		    "ldap: no clients entry has an ldap_group: the directory "
		    "is never asked");
}
