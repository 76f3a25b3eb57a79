/*
 * tls.c -- mbedTLS configurations.
 *
 * The client, used to download lists and to reach the https:// parent
 * proxies (upstreams:): TLS 1.2 or later, the peer's certificate always
 * verified against a CA bundle (the system's by default). A tls_client
 * is reference-counted like a tls_server: a parent's connection keeps its
 * own, so that an idle pooled one outlives a reload.
 *
 * The server, one per TLS listener (listen: [{tls: {cert, key}}]): TLS 1.2
 * only (the highest this mbedTLS speaks as a server), ECDHE with AEAD
 * ciphers only, renegotiation off, session tickets for resumption. A
 * tls_server is reference-counted: the configuration holds one reference
 * and every TLS connection another, so a reload that brings new
 * certificate files lets open connections finish on the old ones. Its
 * ssl_config is read-only once set up and shared by every worker; the
 * random generator and the ticket keys lock themselves (mbedTLS is built
 * with MBEDTLS_THREADING_PTHREAD).
 *
 * Randomness comes from a CTR-DRBG seeded by the platform entropy source.
 *
 * And what a certificate file says (cert_info_load()), for the checks of
 * -t and for certs show.
 */
#include "config.h"

#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <winsock2.h>	/* before windows.h (plat.h has it too) */
#include <windows.h>
#include <wincrypt.h>
#endif

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "rules/rules.h"
#include "certs/certs.h"
#include "plat/plat.h"

struct tls_client {
	int				 tc_refs;	/* atomic */
	mbedtls_entropy_context		 tc_entropy;
	mbedtls_ctr_drbg_context	 tc_drbg;
	mbedtls_x509_crt		 tc_ca;
	mbedtls_ssl_config		 tc_conf;
};

struct tls_server {
	int				 ts_refs;	/* atomic */
	mbedtls_entropy_context		 ts_entropy;
	mbedtls_ctr_drbg_context	 ts_drbg;
	mbedtls_x509_crt		 ts_cert;
	mbedtls_pk_context		 ts_key;
	mbedtls_ssl_ticket_context	 ts_ticket;
	mbedtls_ssl_config		 ts_conf;
};

/* ECDHE key exchange and AEAD ciphers, strongest first. */
static const int tls_server_suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	0
};

/* Text of an mbedTLS error code into buf. */
void
tls_strerror(int rc, char *buf, size_t len)
{
	mbedtls_strerror(rc, buf, len);
	if (buf[0] == '\0')
		snprintf(buf, len, "mbedTLS error -0x%04x", (unsigned)-rc);
}

/* A CTR-DRBG seeded from the platform; 0 or an mbedTLS error. */
static int
tls_seed(mbedtls_ctr_drbg_context *drbg, mbedtls_entropy_context *ent,
    const char *pers)
{
	return (mbedtls_ctr_drbg_seed(drbg, mbedtls_entropy_func, ent,
	    (const unsigned char *)pers, strlen(pers)));
}

#ifdef _WIN32
/*
 * Windows keeps its trust anchors in the "ROOT" system store, not in a
 * file: each certificate there is added to ca. Returns the number added.
 */
static int
load_system_roots(mbedtls_x509_crt *ca)
{
	HCERTSTORE	 store;
	PCCERT_CONTEXT	 cert = NULL;
	int		 n = 0;

	if ((store = CertOpenSystemStoreA(0, "ROOT")) == NULL)
		return (0);
	while ((cert = CertEnumCertificatesInStore(store, cert)) != NULL) {
		if (cert->dwCertEncodingType == X509_ASN_ENCODING &&
		    mbedtls_x509_crt_parse_der(ca, cert->pbCertEncoded,
		    cert->cbCertEncoded) == 0)
			n++;
	}
	CertCloseStore(store, 0);
	return (n);
}
#endif

/*
 * A client configuration trusting the certificates in ca_file (NULL: the
 * system's trust anchors: Debian's bundle, or Windows' ROOT store). Returns it (free with tls_client_free), or NULL with
 * *cause set (caller frees).
 */
struct tls_client *
tls_client_new(const char *ca_file, char **cause)
{
	struct tls_client	*tc;
	char			 msg[160];
	int			 rc;

#ifndef _WIN32
	if (ca_file == NULL)
		ca_file = HG_DEFAULT_CA_FILE;
#endif
	tc = xcalloc(1, sizeof *tc);
	tc->tc_refs = 1;
	mbedtls_entropy_init(&tc->tc_entropy);
	mbedtls_ctr_drbg_init(&tc->tc_drbg);
	mbedtls_x509_crt_init(&tc->tc_ca);
	mbedtls_ssl_config_init(&tc->tc_conf);
	if ((rc = tls_seed(&tc->tc_drbg, &tc->tc_entropy,
	    "hushgate lists")) != 0) {
		tls_strerror(rc, msg, sizeof msg);
		xasprintf(cause, "random generator: %s", msg);
		goto fail;
	}
	/* A bundle with a few certificates mbedTLS cannot parse still loads
	 * the rest (rc > 0); only an unusable file is an error. */
#ifdef _WIN32
	if (ca_file == NULL) {
		if (load_system_roots(&tc->tc_ca) == 0) {
			xasprintf(cause, "no certificate in the Windows ROOT "
			    "store");
			goto fail;
		}
	} else
#endif
	rc = mbedtls_x509_crt_parse_file(&tc->tc_ca, ca_file);
	if (ca_file != NULL && (rc < 0 || tc->tc_ca.version == 0)) {
		tls_strerror(rc, msg, sizeof msg);
		xasprintf(cause, "CA file %s: %s", ca_file, rc < 0 ? msg :
		    "no certificate");
		goto fail;
	}
	if ((rc = mbedtls_ssl_config_defaults(&tc->tc_conf,
	    MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
	    MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		tls_strerror(rc, msg, sizeof msg);
		xasprintf(cause, "TLS configuration: %s", msg);
		goto fail;
	}
	mbedtls_ssl_conf_min_version(&tc->tc_conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_authmode(&tc->tc_conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&tc->tc_conf, &tc->tc_ca, NULL);
	mbedtls_ssl_conf_rng(&tc->tc_conf, mbedtls_ctr_drbg_random,
	    &tc->tc_drbg);
	return (tc);

fail:
	tls_client_free(tc);
	return (NULL);
}

void
tls_client_ref(struct tls_client *tc)
{
	__atomic_add_fetch(&tc->tc_refs, 1, __ATOMIC_RELAXED);
}

/* Drop a reference; the last one frees it. */
void
tls_client_free(struct tls_client *tc)
{
	if (tc == NULL || __atomic_sub_fetch(&tc->tc_refs, 1,
	    __ATOMIC_ACQ_REL) != 0)
		return;
	mbedtls_ssl_config_free(&tc->tc_conf);
	mbedtls_x509_crt_free(&tc->tc_ca);
	mbedtls_ctr_drbg_free(&tc->tc_drbg);
	mbedtls_entropy_free(&tc->tc_entropy);
	free(tc);
}

const struct mbedtls_ssl_config *
tls_client_conf(const struct tls_client *tc)
{
	return (&tc->tc_conf);
}

/*
 * A server configuration presenting the certificate (chain) in cert_file
 * with the private key in key_file. Returns it with one reference (drop
 * with tls_server_unref), or NULL with *cause set (caller frees).
 */
static struct tls_server *
tls_server_new(const char *cert_file, const char *key_file, char **cause)
{
	struct tls_server	*ts;
	char			 msg[160];
	int			 rc;

	ts = xcalloc(1, sizeof *ts);
	ts->ts_refs = 1;
	mbedtls_entropy_init(&ts->ts_entropy);
	mbedtls_ctr_drbg_init(&ts->ts_drbg);
	mbedtls_x509_crt_init(&ts->ts_cert);
	mbedtls_pk_init(&ts->ts_key);
	mbedtls_ssl_ticket_init(&ts->ts_ticket);
	mbedtls_ssl_config_init(&ts->ts_conf);
	if ((rc = tls_seed(&ts->ts_drbg, &ts->ts_entropy,
	    "hushgate listener")) != 0) {
		tls_strerror(rc, msg, sizeof msg);
		xasprintf(cause, "random generator: %s", msg);
		goto fail;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&ts->ts_cert, cert_file)) != 0) {
		tls_strerror(rc, msg, sizeof msg);
		xasprintf(cause, "certificate %s: %s", cert_file, rc > 0 ?
		    "some certificates cannot be parsed" : msg);
		goto fail;
	}
	if ((rc = mbedtls_pk_parse_keyfile(&ts->ts_key, key_file,
	    NULL)) != 0) {
		tls_strerror(rc, msg, sizeof msg);
		xasprintf(cause, "key %s: %s", key_file, msg);
		goto fail;
	}
	if (mbedtls_pk_check_pair(&ts->ts_cert.pk, &ts->ts_key) != 0) {
		xasprintf(cause, "key %s does not match certificate %s",
		    key_file, cert_file);
		goto fail;
	}
	if ((rc = mbedtls_ssl_config_defaults(&ts->ts_conf,
	    MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
	    MBEDTLS_SSL_PRESET_DEFAULT)) != 0 ||
	    (rc = mbedtls_ssl_conf_own_cert(&ts->ts_conf, &ts->ts_cert,
	    &ts->ts_key)) != 0 ||
	    (rc = mbedtls_ssl_ticket_setup(&ts->ts_ticket,
	    mbedtls_ctr_drbg_random, &ts->ts_drbg, MBEDTLS_CIPHER_AES_256_GCM,
	    TLS_TICKET_LIFETIME)) != 0) {
		tls_strerror(rc, msg, sizeof msg);
		xasprintf(cause, "TLS configuration: %s", msg);
		goto fail;
	}
	mbedtls_ssl_conf_min_version(&ts->ts_conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(&ts->ts_conf, tls_server_suites);
	mbedtls_ssl_conf_renegotiation(&ts->ts_conf,
	    MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	mbedtls_ssl_conf_rng(&ts->ts_conf, mbedtls_ctr_drbg_random,
	    &ts->ts_drbg);
	mbedtls_ssl_conf_session_tickets_cb(&ts->ts_conf,
	    mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
	    &ts->ts_ticket);
	return (ts);

fail:
	tls_server_unref(ts);
	return (NULL);
}

void
tls_server_ref(struct tls_server *ts)
{
	__atomic_add_fetch(&ts->ts_refs, 1, __ATOMIC_RELAXED);
}

void
tls_server_unref(struct tls_server *ts)
{
	if (ts == NULL || __atomic_sub_fetch(&ts->ts_refs, 1,
	    __ATOMIC_ACQ_REL) != 0)
		return;
	mbedtls_ssl_config_free(&ts->ts_conf);
	mbedtls_ssl_ticket_free(&ts->ts_ticket);
	mbedtls_pk_free(&ts->ts_key);
	mbedtls_x509_crt_free(&ts->ts_cert);
	mbedtls_ctr_drbg_free(&ts->ts_drbg);
	mbedtls_entropy_free(&ts->ts_entropy);
	free(ts);
}

const struct mbedtls_ssl_config *
tls_server_conf(const struct tls_server *ts)
{
	return (&ts->ts_conf);
}

/*
 * Load the credentials of every TLS listener of cf and attach them to it
 * (li_tls). A file that cannot be used is an error in errs, a
 * certificate that expires within HG_CERT_WARN_DAYS a warning in warns,
 * both at the listen entry's tls: (file:line:col). Returns 0 or -1.
 */
int
tls_server_attach(struct hg_config *cf, struct hg_errors *errs,
    struct hg_errors *warns)
{
	struct cert_info	 ci;
	struct hg_listener	*li;
	char			*cause = NULL, *msg;
	size_t			 i;
	int			 rc = 0;

	cf->cf_tls_free = tls_server_unref;
	for (i = 0; i < cf->cf_nlisteners; i++) {
		li = &cf->cf_listeners[i];
		if (li->li_cert == NULL)
			continue;
		li->li_tls = tls_server_new(li->li_cert, li->li_key, &cause);
		if (li->li_tls == NULL) {
			xasprintf(&msg, "%s: listen.tls: %s", li->li_tls_at,
			    cause);
			errors_add_msg(errs, msg);
			free(msg);
			free(cause);
			cause = NULL;
			rc = -1;
			continue;
		}
		if (cert_info_load(li->li_cert, &ci, NULL) != 0)
			continue;
		if (ci.ci_days_left < 0) {
			xasprintf(&msg, "%s: listen.tls: certificate %s expired "
			    "on %s", li->li_tls_at, li->li_cert,
			    ci.ci_not_after);
			errors_add_msg(warns, msg);
			free(msg);
		} else if (ci.ci_days_left < HG_CERT_WARN_DAYS) {
			xasprintf(&msg, "%s: listen.tls: certificate %s expires "
			    "in %ld days (%s)", li->li_tls_at, li->li_cert,
			    ci.ci_days_left, ci.ci_not_after);
			errors_add_msg(warns, msg);
			free(msg);
		}
	}
	return (rc);
}

/*
 * The TLS client configuration of every https:// upstream of cf (up_tlsc),
 * trusting its ca: or the system's anchors. A CA file that cannot be
 * used is an error in errs at the ca: value (or the upstream's entry).
 * Returns 0 or -1.
 */
int
tls_upstream_attach(struct hg_config *cf, struct hg_errors *errs)
{
	struct hg_upstream	*up;
	char			*cause = NULL;
	size_t			 i;
	int			 rc = 0;

	cf->cf_tlsc_free = tls_client_free;
	for (i = 0; i < cf->cf_nupstreams; i++) {
		up = &cf->cf_upstreams[i];
		if (!up->up_tls)
			continue;
		if ((up->up_tlsc = tls_client_new(up->up_ca, &cause)) != NULL)
			continue;
		if (up->up_ca != NULL)
			errors_add(errs, up->up_file, up->up_ca_line,
			    up->up_ca_col, "upstreams.ca: %s", cause);
		else
			errors_add(errs, up->up_file, up->up_line, up->up_col,
			    "upstreams: %s: %s", up->up_name, cause);
		free(cause);
		cause = NULL;
		rc = -1;
	}
	return (rc);
}

/* Append ", " and text to the list in out. */
static void
cert_append(char *out, size_t n, const char *kind, const char *text)
{
	size_t	len = strlen(out);

	snprintf(out + len, n - len, "%s%s:%s", len ? ", " : "", kind, text);
}

/*
 * Each subjectAltName entry of crt, from the raw extensions (mbedTLS 2.28
 * keeps only the dNSName ones): fn(tag, bytes, len, arg), tag 2 for a
 * dNSName, 7 for an iPAddress.
 */
static void
cert_san_walk(const mbedtls_x509_crt *crt, void (*fn)(int,
    const unsigned char *, size_t, void *), void *arg)
{
	unsigned char	*p = crt->v3_ext.p, *end, *ext_end, *names_end;
	size_t		 len;
	int		 crit;
	mbedtls_x509_buf oid;

	if (p == NULL || crt->v3_ext.len == 0)
		return;
	end = p + crt->v3_ext.len;
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE) != 0)
		return;
	end = p + len;
	while (p < end) {
		if (mbedtls_asn1_get_tag(&p, end, &len,
		    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
			return;
		ext_end = p + len;
		if (mbedtls_asn1_get_tag(&p, ext_end, &oid.len,
		    MBEDTLS_ASN1_OID) != 0)
			return;
		oid.p = p;
		p += oid.len;
		if (p < ext_end && *p == MBEDTLS_ASN1_BOOLEAN &&
		    mbedtls_asn1_get_bool(&p, ext_end, &crit) != 0)
			return;
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_SUBJECT_ALT_NAME, &oid) != 0 ||
		    mbedtls_asn1_get_tag(&p, ext_end, &len,
		    MBEDTLS_ASN1_OCTET_STRING) != 0 ||
		    mbedtls_asn1_get_tag(&p, ext_end, &len,
		    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) {
			p = ext_end;
			continue;
		}
		names_end = p + len;
		while (p < names_end) {
			unsigned char tag = *p++;

			if (mbedtls_asn1_get_len(&p, names_end, &len) != 0)
				return;
			if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2) ||
			    tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7))
				fn(tag & 0x1f, p, len, arg);
			p += len;
		}
		return;
	}
}

struct san_text {
	char	*st_out;
	size_t	 st_n;
};

static void
san_text(int tag, const unsigned char *p, size_t len, void *arg)
{
	struct san_text	*st = arg;
	char		 txt[HG_MAX_HOST + 1];

	if (tag == 2 && len < sizeof txt) {
		memcpy(txt, p, len);
		txt[len] = '\0';
		cert_append(st->st_out, st->st_n, "DNS", txt);
	} else if (tag == 7 && (len == 4 || len == 16)) {
		inet_ntop(len == 4 ? AF_INET : AF_INET6, p, txt, sizeof txt);
		cert_append(st->st_out, st->st_n, "IP", txt);
	}
}

/* The subjectAltName entries of crt (dNSName and iPAddress) into out. */
static void
cert_sans(const mbedtls_x509_crt *crt, char *out, size_t n)
{
	struct san_text	st = { out, n };

	out[0] = '\0';
	cert_san_walk(crt, san_text, &st);
}

struct san_ip {
	const uint8_t	*si_addr;
	size_t		 si_len;
	int		 si_found;
};

static void
san_ip(int tag, const unsigned char *p, size_t len, void *arg)
{
	struct san_ip	*si = arg;

	if (tag == 7 && len == si->si_len && memcmp(p, si->si_addr, len) == 0)
		si->si_found = 1;
}

/*
 * Does the certificate crt name the address addr (4 or 16 bytes) in an
 * iPAddress entry of its subjectAltName? (mbedTLS 2.28 checks a host
 * name only: the TLS of a parent proxy at an address asks this.)
 */
int
tls_crt_names_ip(const void *crt, const uint8_t *addr, size_t len)
{
	struct san_ip	si = { addr, len, 0 };

	if (crt != NULL)
		cert_san_walk(crt, san_ip, &si);
	return (si.si_found);
}

static time_t
cert_x509_time(const mbedtls_x509_time *t, char *out, size_t n)
{
	struct tm	tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = t->year - 1900;
	tm.tm_mon = t->mon - 1;
	tm.tm_mday = t->day;
	tm.tm_hour = t->hour;
	tm.tm_min = t->min;
	tm.tm_sec = t->sec;
	snprintf(out, n, "%04d-%02d-%02d %02d:%02d:%02d UTC", t->year, t->mon,
	    t->day, t->hour, t->min, t->sec);
	return (plat_timegm(&tm));
}

/*
 * What the first certificate in file says. Returns 0, or -1 with *cause
 * set when cause is not NULL (caller frees).
 */
int
cert_info_load(const char *file, struct cert_info *ci, char **cause)
{
	mbedtls_x509_crt	crt;
	char			msg[160];
	time_t			to;
	int			rc;

	memset(ci, 0, sizeof *ci);
	mbedtls_x509_crt_init(&crt);
	if ((rc = mbedtls_x509_crt_parse_file(&crt, file)) < 0 ||
	    crt.version == 0) {
		if (cause != NULL) {
			tls_strerror(rc, msg, sizeof msg);
			xasprintf(cause, "%s: %s", file, rc < 0 ? msg :
			    "no certificate");
		}
		mbedtls_x509_crt_free(&crt);
		return (-1);
	}
	mbedtls_x509_dn_gets(ci->ci_subject, sizeof ci->ci_subject,
	    &crt.subject);
	mbedtls_x509_dn_gets(ci->ci_issuer, sizeof ci->ci_issuer, &crt.issuer);
	mbedtls_x509_serial_gets(ci->ci_serial, sizeof ci->ci_serial,
	    &crt.serial);
	cert_x509_time(&crt.valid_from, ci->ci_not_before,
	    sizeof ci->ci_not_before);
	to = cert_x509_time(&crt.valid_to, ci->ci_not_after,
	    sizeof ci->ci_not_after);
	/* Whole days left, rounded down; -1 and below: expired. */
	if (to >= time(NULL))
		ci->ci_days_left = (long)((to - time(NULL)) / 86400);
	else
		ci->ci_days_left = -1 - (long)((time(NULL) - to) / 86400);
	cert_sans(&crt, ci->ci_sans, sizeof ci->ci_sans);
	mbedtls_x509_crt_free(&crt);
	return (0);
}

/* SHA-256 of buf into out. */
void
tls_sha256(const void *buf, size_t len, uint8_t out[32])
{
	mbedtls_sha256_ret(buf, len, out, 0);
}
