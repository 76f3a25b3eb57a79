/*
 * ldapquery.c -- one lookup of a user's directory groups, through
 * OpenLDAP's libldap, for ldapgroups.c's threads (never a worker's loop):
 * every call waits for the directory, each bounded by the lookup's
 * deadline (ldap.timeout from when it was asked for).
 *
 * A lookup asks for every group at once: the user's entry (ldap.base,
 * ldap.user_filter), then one search of base scope per group -- the
 * group's member attribute holding the user's DN (membership: member),
 * or the user's name (memberuid), or the user's memberOf holding the
 * group's DN (memberof); with ldap.nested, through Active Directory's
 * LDAP_MATCHING_RULE_IN_CHAIN. A user the directory has no entry for, or
 * more than one, is in no group; so is a group it does not have (said
 * once). Anything else the directory does not answer fails the lookup.
 *
 * The connection (TLS as ldap: says, bound as bind_dn) is kept open from
 * one lookup to the next; one the server closed meanwhile is opened
 * again once. The bind password goes to libldap and nowhere else.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifdef HAVE_LDAP
#include <ldap.h>
#endif

#include "ldapquery.h"

#ifdef HAVE_LDAP

#define LQ_MAX_FILTER	8192	/* bytes of a search filter */

struct lq_conn {
	LDAP	*qc_ld;
};

static uint64_t
left_ms(uint64_t deadline)
{
	struct timespec	ts;
	uint64_t	now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return (now < deadline ? deadline - now : 0);
}

static void
set_tv(struct timeval *tv, uint64_t ms)
{
	if (ms == 0)
		ms = 1;
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

/* libldap reads its ldap.conf on its first call: the main thread's, at
 * the start, before any chroot. */
void
ldapquery_init(void)
{
	int	v;

	ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &v);
}

void
ldapquery_close(struct lq_conn **qcp)
{
	struct lq_conn	*qc = *qcp;

	if (qc == NULL)
		return;
	ldap_unbind_ext(qc->qc_ld, NULL, NULL);
	free(qc);
	*qcp = NULL;
}

/* The whole answer to msgid by deadline: LDAP_SUCCESS and *res, or an
 * LDAP result code (LDAP_TIMEOUT: none in time). */
static int
await(LDAP *ld, int msgid, uint64_t deadline, LDAPMessage **res)
{
	struct timeval	tv;
	int		rc, err = LDAP_OTHER;

	*res = NULL;
	set_tv(&tv, left_ms(deadline));
	rc = ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, res);
	if (rc == 0) {
		ldap_abandon_ext(ld, msgid, NULL, NULL);
		return (LDAP_TIMEOUT);
	}
	if (rc == -1 || *res == NULL) {
		if (*res != NULL)
			ldap_msgfree(*res);
		*res = NULL;
		ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &err);
		return (err != LDAP_SUCCESS ? err : LDAP_OTHER);
	}
	return (LDAP_SUCCESS);
}

/* "what: text (code)", with the server's own message if it gave one. */
static void
why_ldap(char *why, size_t len, LDAP *ld, const char *what, int rc)
{
	char	*diag = NULL;

	if (ld != NULL)
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	snprintf(why, len, "%s: %s (%d)%s%.160s", what, ldap_err2string(rc),
	    rc, diag != NULL && *diag != '\0' ? ": " : "",
	    diag != NULL ? diag : "");
	ldap_memfree(diag);
}

/* Does qs talk TLS (an ldaps:// URL, StartTLS, a CA file of its own)? */
static int
wants_tls(const struct lq_settings *qs)
{
	const char	*p;

	for (p = qs->qs_urls; *p != '\0'; p++)
		if (strncasecmp(p, "ldaps://", 8) == 0)
			return (1);
	return (qs->qs_starttls || qs->qs_ca_file != NULL);
}

/* A connection with qs by deadline: LQ_OK with *ldp, or why. */
static enum lq_result
conn_open(LDAP **ldp, const struct lq_settings *qs, uint64_t deadline,
    char *why, size_t len)
{
	LDAP		*ld;
	LDAPMessage	*res;
	struct berval	 cred;
	struct timeval	 tv;
	char		 what[HG_MAX_LDAP_DN + 64];
	int		 rc, err, msgid, v3 = LDAP_VERSION3;
	int		 demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;

	if ((rc = ldap_initialize(&ld, qs->qs_urls)) != LDAP_SUCCESS) {
		why_ldap(why, len, NULL, qs->qs_urls, rc);
		return (LQ_FAILED);
	}
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
	set_tv(&tv, left_ms(deadline));
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
	if (wants_tls(qs)) {
		ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
		if (qs->qs_ca_file != NULL)
			ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE,
			    qs->qs_ca_file);
		if (ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) !=
		    LDAP_OPT_SUCCESS) {
			snprintf(why, len, "%s: cannot set up TLS%s%s",
			    qs->qs_urls, qs->qs_ca_file ? " with " : "",
			    qs->qs_ca_file ? qs->qs_ca_file : "");
			ldap_unbind_ext(ld, NULL, NULL);
			return (LQ_FAILED);
		}
	}
	if (qs->qs_starttls &&
	    (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		snprintf(what, sizeof what, "StartTLS with %s", qs->qs_urls);
		why_ldap(why, len, ld, what, rc);
		ldap_unbind_ext(ld, NULL, NULL);
		return (LQ_FAILED);
	}
	if (qs->qs_bind_dn != NULL) {
		/* The password goes to libldap and the wire, nowhere else. */
		cred.bv_val = qs->qs_bind_pw;
		cred.bv_len = strlen(qs->qs_bind_pw);
		rc = ldap_sasl_bind(ld, qs->qs_bind_dn, LDAP_SASL_SIMPLE,
		    &cred, NULL, NULL, &msgid);
		if (rc == LDAP_SUCCESS &&
		    (rc = await(ld, msgid, deadline, &res)) == LDAP_SUCCESS) {
			rc = ldap_parse_result(ld, res, &err, NULL, NULL,
			    NULL, NULL, 1);
			if (rc == LDAP_SUCCESS)
				rc = err;
		}
		if (rc != LDAP_SUCCESS) {
			snprintf(what, sizeof what, "bind as %s to %s",
			    qs->qs_bind_dn, qs->qs_urls);
			why_ldap(why, len, ld, what, rc);
			ldap_unbind_ext(ld, NULL, NULL);
			return (rc == LDAP_INVALID_CREDENTIALS ? LQ_REFUSED :
			    LQ_FAILED);
		}
	}
	*ldp = ld;
	return (LQ_OK);
}

/* One search of base by deadline, no attributes: its LDAP result code,
 * the entries it found in *count, the answer in *res (to free). */
static int
search(LDAP *ld, const char *base, int scope, const char *filter,
    int sizelimit, uint64_t deadline, LDAPMessage **res, int *count)
{
	char	 noattrs[] = LDAP_NO_ATTRS, *attrs[] = { noattrs, NULL };
	int	 rc, err, msgid;

	*res = NULL;
	*count = 0;
	rc = ldap_search_ext(ld, base, scope, filter, attrs, 0, NULL, NULL,
	    NULL, sizelimit, &msgid);
	if (rc != LDAP_SUCCESS || (rc = await(ld, msgid, deadline, res)) !=
	    LDAP_SUCCESS)
		return (rc);
	if ((rc = ldap_parse_result(ld, *res, &err, NULL, NULL, NULL, NULL,
	    0)) != LDAP_SUCCESS)
		return (rc);
	*count = ldap_count_entries(ld, *res);
	return (err);
}

/*
 * The entry of user (membership member, memberof): its DN in *dn (to
 * free with ldap_memfree), or NULL when the directory has no one entry
 * for the user (then in no group). Returns an LDAP result code.
 */
static int
user_dn(LDAP *ld, const struct lq_settings *qs, const char *user,
    uint64_t deadline, char **dn, char *why, size_t len)
{
	LDAPMessage	*res;
	char		 filter[LQ_MAX_FILTER], esc[HG_MAX_USER * 6 + 1];
	int		 rc, n;

	*dn = NULL;
	json_escape(esc, sizeof esc, user);
	if (ldapstr_expand(qs->qs_filter, user, filter, sizeof filter) != 0) {
		log_info("ldap: user '%s': too long for user_filter, in no "
		    "directory group", esc);
		return (LDAP_SUCCESS);
	}
	rc = search(ld, qs->qs_base, LDAP_SCOPE_SUBTREE, filter, 2, deadline,
	    &res, &n);
	if (rc == LDAP_SIZELIMIT_EXCEEDED || (rc == LDAP_SUCCESS && n > 1)) {
		log_info("ldap: user '%s': %s matches more than one entry "
		    "under %s, in no directory group", esc, filter,
		    qs->qs_base);
		rc = LDAP_SUCCESS;
	} else if (rc != LDAP_SUCCESS)
		why_ldap(why, len, ld, "search for the user", rc);
	else if (n == 0)
		log_debug("ldap: user '%s': no entry %s under %s, in no "
		    "directory group", esc, filter, qs->qs_base);
	else
		*dn = ldap_get_dn(ld, ldap_first_entry(ld, res));
	ldap_msgfree(res);
	return (rc);
}

/*
 * Which of qs's groups user is in, into *mask: an LDAP result code,
 * LDAP_SUCCESS when the directory answered every question.
 */
static int
membership(LDAP *ld, struct lq_settings *qs, const char *user,
    uint64_t deadline, uint64_t *mask, char *why, size_t len)
{
	LDAPMessage	*res;
	const char	*base, *value, *group;
	char		*dn = NULL, filter[LQ_MAX_FILTER];
	char		 esc[LQ_MAX_FILTER / 2];
	size_t		 g;
	int		 rc = LDAP_SUCCESS, n;

	*mask = 0;
	if (qs->qs_membership != HG_LDAP_MEMBERUID && ((rc = user_dn(ld, qs,
	    user, deadline, &dn, why, len)) != LDAP_SUCCESS || dn == NULL))
		return (rc);
	for (g = 0; g < qs->qs_ngroups; g++) {
		group = qs->qs_groups[g];
		base = qs->qs_membership == HG_LDAP_MEMBEROF ? dn : group;
		value = qs->qs_membership == HG_LDAP_MEMBERUID ? user :
		    qs->qs_membership == HG_LDAP_MEMBEROF ? group : dn;
		if (ldapstr_escape(value, esc, sizeof esc) < 0 ||
		    snprintf(filter, sizeof filter, "(%s%s=%s)", qs->qs_attr,
		    qs->qs_nested ? ":" HG_LDAP_IN_CHAIN ":" : "", esc) >=
		    (int)sizeof filter)
			continue;	/* too long to be in it */
		rc = search(ld, base, LDAP_SCOPE_BASE, filter, 1, deadline,
		    &res, &n);
		ldap_msgfree(res);
		if (rc == LDAP_SUCCESS) {
			if (n > 0)
				*mask |= (uint64_t)1 << g;
			continue;
		}
		if (rc == LDAP_NO_SUCH_OBJECT) {
			/* a group that is not there has no members */
			rc = LDAP_SUCCESS;
			if (base == group && !__atomic_exchange_n(
			    &qs->qs_missing[g], 1, __ATOMIC_RELAXED))
				log_warnx("ldap: no group %s in the directory "
				    "(clients.ldap_group): it has no members",
				    group);
			continue;
		}
		why_ldap(why, len, ld, "search of a group's members", rc);
		break;
	}
	ldap_memfree(dn);
	return (rc);
}

/*
 * The directory groups of user by deadline (monotonic ms), on the
 * connection *qcp (opened, or opened again, as needed; closed after a
 * failure): LQ_OK with *mask (bit i: qs_groups[i]), or LQ_FAILED or
 * LQ_REFUSED with why.
 */
enum lq_result
ldapquery_lookup(struct lq_conn **qcp, struct lq_settings *qs,
    const char *user, uint64_t deadline, uint64_t *mask, char *why,
    size_t len)
{
	enum lq_result	 r;
	int		 tries, reused, rc;

	*mask = 0;
	for (tries = 0; tries < 2; tries++) {
		reused = *qcp != NULL;
		if (!reused) {
			if ((*qcp = calloc(1, sizeof **qcp)) == NULL) {
				snprintf(why, len, "out of memory");
				return (LQ_FAILED);
			}
			if ((r = conn_open(&(*qcp)->qc_ld, qs, deadline, why,
			    len)) != LQ_OK) {
				free(*qcp);
				*qcp = NULL;
				return (r);
			}
		}
		rc = membership((*qcp)->qc_ld, qs, user, deadline, mask, why,
		    len);
		if (rc == LDAP_SUCCESS)
			return (LQ_OK);
		ldapquery_close(qcp);
		/* A connection kept open may have been closed by the
		 * server meanwhile (idle): once more on a new one. */
		if (!reused || (rc != LDAP_SERVER_DOWN &&
		    rc != LDAP_CONNECT_ERROR) || left_ms(deadline) == 0)
			break;
	}
	return (LQ_FAILED);
}

#else	/* !HAVE_LDAP: the configuration refuses ldap: and ldap_group */

void
ldapquery_init(void)
{
}

void
ldapquery_close(struct lq_conn **qcp)
{
}

enum lq_result
ldapquery_lookup(struct lq_conn **qcp, struct lq_settings *qs,
    const char *user, uint64_t deadline, uint64_t *mask, char *why,
    size_t len)
{
	*mask = 0;
	snprintf(why, len, "not supported in this build");
	return (LQ_FAILED);
}

#endif	/* HAVE_LDAP */
