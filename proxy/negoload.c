/*
 * negoload.c -- the acceptor credentials of auth.negotiate, made when a
 * configuration is loaded (negotiate_attach(): -t, the start and each
 * reload, on the main thread) and freed with it; the handshakes are
 * negotiate.c's.
 *
 * The keytab file is read and its keys copied into a MEMORY: keytab of
 * the configuration's own, from which its credentials are made
 * (gss_acquire_cred_from() with a cred store naming the keytab and the
 * replay cache: no environment variable, nothing process-wide such as
 * krb5_gss_register_acceptor_identity()). So a reload reads the file
 * again; a reload whose keytab cannot be read, or lacks the principal's
 * keys, is refused and keeps the running credentials; and a keytab
 * replaced under a running proxy changes nothing until a reload.
 *
 * The replay cache is MIT's file2 format in replay_cache (default
 * krb5.rcache2 in lists.cache_dir, a directory the proxy owns, rather
 * than MIT's /var/tmp/krb5_UID.rcache2): each authenticator accepted is
 * kept there for the clock skew allowed, so that a token seen again is
 * refused. MIT opens the file for each check and locks it (an open file
 * description lock), so the threads and every configuration share it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

#ifdef HAVE_GSSAPI

#include <sys/stat.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>

#include "rules/rules.h"
#include "negotiate.h"

static unsigned		 nego_kt_serial;	/* MEMORY: keytab names */

static void
nego_free(struct negotiate *ng)
{
	OM_uint32	min;
	int		i;

	for (i = 0; i < NEGO_THREADS; i++)
		if (ng->ng_cred[i] != GSS_C_NO_CREDENTIAL)
			gss_release_cred(&min, &ng->ng_cred[i]);
	if (ng->ng_kt != NULL)
		krb5_kt_close(ng->ng_kctx, ng->ng_kt);	/* the last: gone */
	if (ng->ng_kctx != NULL)
		krb5_free_context(ng->ng_kctx);
	free(ng);
}

/* The text of a Kerberos error (into buf). */
static const char *
krb_text(krb5_context k, krb5_error_code e, char *buf, size_t n)
{
	const char	*m = krb5_get_error_message(k, e);

	snprintf(buf, n, "%s", m);
	krb5_free_error_message(k, m);
	return (buf);
}

/*
 * Copy the keys of the keytab file into ng's MEMORY: keytab (name kt);
 * with a principal, it must have keys for it. Returns 0, or -1 with a
 * message in why.
 */
static int
keytab_copy(struct negotiate *ng, const struct hg_config *cf, char *why,
    size_t n)
{
	krb5_context		 k = ng->ng_kctx;
	krb5_keytab		 kt = NULL;
	krb5_kt_cursor		 cur;
	krb5_keytab_entry	 e;
	krb5_principal		 want = NULL;
	krb5_error_code		 r;
	char			 name[4096 + 8], msg[256];
	unsigned		 count = 0, match = 0;
	FILE			*f;

	/* the file's own error first: MIT says little about a missing one */
	if ((f = fopen(cf->cf_nego_keytab, "r")) == NULL) {
		snprintf(why, n, "%s: cannot open: %s", cf->cf_nego_keytab,
		    strerror(errno));
		return (-1);
	}
	fclose(f);
	if (cf->cf_nego_principal != NULL && (r = krb5_parse_name(k,
	    cf->cf_nego_principal, &want)) != 0) {
		snprintf(why, n, "service_principal %s: %s",
		    cf->cf_nego_principal, krb_text(k, r, msg, sizeof msg));
		return (-1);
	}
	snprintf(name, sizeof name, "FILE:%s", cf->cf_nego_keytab);
	if ((r = krb5_kt_resolve(k, name, &kt)) != 0 ||
	    (r = krb5_kt_start_seq_get(k, kt, &cur)) != 0) {
		snprintf(why, n, "%s: %s", cf->cf_nego_keytab,
		    krb_text(k, r, msg, sizeof msg));
		goto out;
	}
	while ((r = krb5_kt_next_entry(k, kt, &e, &cur)) == 0) {
		count++;
		if (want == NULL || krb5_principal_compare(k, want,
		    e.principal))
			match++;
		r = krb5_kt_add_entry(k, ng->ng_kt, &e);
		krb5_free_keytab_entry_contents(k, &e);
		if (r != 0)
			break;
	}
	krb5_kt_end_seq_get(k, kt, &cur);
	if (r != KRB5_KT_END)
		snprintf(why, n, "%s: %s", cf->cf_nego_keytab,
		    krb_text(k, r, msg, sizeof msg));
	else if (count == 0 || match == 0) {
		snprintf(why, n, "%s: no key%s%s in it", cf->cf_nego_keytab,
		    want != NULL ? " for " : "", want != NULL ?
		    cf->cf_nego_principal : "");
		r = KRB5_KT_NOTFOUND;
	} else
		r = 0;
out:
	if (kt != NULL)
		krb5_kt_close(k, kt);
	if (want != NULL)
		krb5_free_principal(k, want);
	return (r != 0 ? -1 : 0);
}

/*
 * The acceptor credentials of cf (auth.negotiate), from a copy of its
 * keytab, for -t, the start and each reload; freed with cf. An error is
 * put in errs at the place of the keytab value. Returns 0 or -1.
 */
int
negotiate_attach(struct hg_config *cf, struct hg_errors *errs)
{
	struct negotiate	*ng;
	gss_key_value_element_desc el[2];
	gss_key_value_set_desc	 store = { 2, el };
	gss_buffer_desc		 b;
	gss_name_t		 name = GSS_C_NO_NAME;
	OM_uint32		 major, minor, min;
	krb5_error_code		 r;
	struct stat		 st;
	char			 ktname[64], *rc = NULL, *dir, why[512];
	char			 msg[256];
	int			 i, rv = -1;

	if (!cf->cf_auth_negotiate)
		return (0);
	if ((ng = calloc(1, sizeof *ng)) == NULL)
		fatalx("out of memory");
	cf->cf_nego = ng;
	cf->cf_nego_free = nego_free;
	why[0] = '\0';
	if ((r = krb5_init_context(&ng->ng_kctx)) != 0) {
		ng->ng_kctx = NULL;
		snprintf(why, sizeof why, "cannot start Kerberos: error %d",
		    (int)r);
		goto out;
	}
	snprintf(ktname, sizeof ktname, "MEMORY:hushgate-%u",
	    __atomic_add_fetch(&nego_kt_serial, 1, __ATOMIC_RELAXED));
	if ((r = krb5_kt_resolve(ng->ng_kctx, ktname, &ng->ng_kt)) != 0) {
		ng->ng_kt = NULL;
		snprintf(why, sizeof why, "%s", krb_text(ng->ng_kctx, r, msg,
		    sizeof msg));
		goto out;
	}
	if (keytab_copy(ng, cf, why, sizeof why) != 0)
		goto out;
	/* the replay cache: its directory must be there */
	if (cf->cf_nego_rcache != NULL)
		xasprintf(&rc, "file2:%s", cf->cf_nego_rcache);
	else
		xasprintf(&rc, "file2:%s/krb5.rcache2", cf->cf_cache_dir);
	dir = xstrdup(rc + 6);
	if (strrchr(dir, '/') != NULL)
		*strrchr(dir, '/') = '\0';
	else
		snprintf(dir, strlen(dir) + 1, ".");
	if (stat(dir[0] ? dir : "/", &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, sizeof why, "replay cache %s: no directory %s%s",
		    rc + 6, dir, cf->cf_nego_rcache == NULL ? " (lists."
		    "cache_dir; or set auth.negotiate.replay_cache)" : "");
		free(dir);
		goto out;
	}
	free(dir);
	if (cf->cf_nego_principal != NULL) {
		b.value = cf->cf_nego_principal;
		b.length = strlen(cf->cf_nego_principal);
		major = gss_import_name(&minor, &b,
		    (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME, &name);
		if (GSS_ERROR(major)) {
			nego_status_text(major, minor, msg, sizeof msg);
			snprintf(why, sizeof why, "service_principal %s: %s",
			    cf->cf_nego_principal, msg);
			goto out;
		}
	}
	el[0].key = "keytab";
	el[0].value = ktname;
	el[1].key = "rcache";
	el[1].value = rc;
	for (i = 0; i < NEGO_THREADS; i++) {
		major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE,
		    GSS_C_NO_OID_SET, GSS_C_ACCEPT, &store, &ng->ng_cred[i],
		    NULL, NULL);
		if (GSS_ERROR(major)) {
			ng->ng_cred[i] = GSS_C_NO_CREDENTIAL;
			nego_status_text(major, minor, msg, sizeof msg);
			snprintf(why, sizeof why, "%s: %s", cf->cf_nego_keytab,
			    msg);
			goto out;
		}
	}
	rv = 0;
out:
	if (name != GSS_C_NO_NAME)
		gss_release_name(&min, &name);
	free(rc);
	if (rv != 0) {
		char	*m;

		xasprintf(&m, "%s: auth.negotiate.keytab: %s",
		    cf->cf_nego_keytab_at, why);
		errors_add_msg(errs, m);
		free(m);
	}
	return (rv);
}

#else /* !HAVE_GSSAPI: the configuration refuses auth.negotiate */

int
negotiate_attach(struct hg_config *cf, struct hg_errors *errs)
{
	return (0);
}

#endif /* HAVE_GSSAPI */
