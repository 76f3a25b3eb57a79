/*
 * ldapquery.h -- the questions ldapgroups.c's threads ask the directory
 * (ldapquery.c, the only file that speaks libldap). Nothing else includes
 * it.
 */
#ifndef HG_LDAPQUERY_H
#define HG_LDAPQUERY_H

#include "proxy.h"

/* How to ask: a copy of the configuration's ldap: and ldap_group DNs. */
struct lq_settings {
	char		*qs_urls;	/* space-separated */
	char		*qs_bind_dn;	/* NULL: anonymous */
	char		*qs_bind_pw;	/* a secret */
	char		*qs_base;
	char		*qs_filter;	/* user_filter */
	char		*qs_attr;	/* member_attribute */
	char		*qs_ca_file;	/* NULL: libldap's own */
	int		 qs_membership;	/* HG_LDAP_ */
	int		 qs_nested;
	int		 qs_starttls;
	char		**qs_groups;	/* the DNs, bit i of an answer */
	size_t		 qs_ngroups;
	/* "no such group" said for qs_groups[i] (atomic) */
	unsigned char	 qs_missing[HG_MAX_LDAP_GROUPS];
};

/* How a lookup went. */
enum lq_result {
	LQ_OK = 0,
	LQ_FAILED,	/* the directory did not answer */
	LQ_REFUSED	/* it refused the bind */
};

/* A connection to the directory, kept open between lookups. */
struct lq_conn;

void		 ldapquery_init(void);
enum lq_result	 ldapquery_lookup(struct lq_conn **, struct lq_settings *,
		    const char *, uint64_t, uint64_t *, char *, size_t);
void		 ldapquery_close(struct lq_conn **);

#endif /* HG_LDAPQUERY_H */
