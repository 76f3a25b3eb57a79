/*
 * certs.c -- `hushgate certs init` (a local CA and a server certificate it
 * signs, for a TLS listener) and `hushgate certs show` (what each TLS
 * listener presents).
 *
 * Keys are EC P-256: small, fast to sign with, and accepted by every
 * client that speaks TLS 1.2. The CA is a self-signed certificate with
 * basicConstraints CA:true and keyCertSign|cRLSign; the server
 * certificate has a subjectAltName entry for every --name and --ip,
 * extendedKeyUsage serverAuth and digitalSignature|keyEncipherment, and is
 * not a CA. mbedTLS 2.28 writes neither subjectAltName nor
 * extendedKeyUsage itself: both are encoded here (certs_san_der).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "rules/rules.h"
#include "certs/certs.h"
#include "plat/plat.h"

#define CERTS_PEM_MAX	8192	/* one PEM certificate or key */

/* The files of certs init, in the order they are written. */
enum { F_CA_KEY = 0, F_CA_CRT, F_SRV_KEY, F_SRV_CRT, F_COUNT };
static const char *const certs_files[F_COUNT] = {
	"ca.key", "ca.crt", "server.key", "server.crt"
};

/* extendedKeyUsage: SEQUENCE { id-kp-serverAuth } */
static const unsigned char certs_eku_server[] = {
	0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01
};

static int
certs_arg_name(struct certs_opts *co, const char *s, char **cause)
{
	struct hg_target	 t;
	const char		*why;

	if (co->co_nnames == HG_CERT_MAX_NAMES) {
		xasprintf(cause, "more than %d names", HG_CERT_MAX_NAMES);
		return (-1);
	}
	if (host_normalise(s, strlen(s), &t, &why) != 0) {
		xasprintf(cause, "--name %s: %s", s, why);
		return (-1);
	}
	if (t.t_kind != HG_HOST_NAME) {
		xasprintf(cause, "--name %s: an address (use --ip)", s);
		return (-1);
	}
	memcpy(co->co_names[co->co_nnames++], t.t_host, t.t_len + 1);
	return (0);
}

static int
certs_arg_ip(struct certs_opts *co, const char *s, char **cause)
{
	size_t	n = co->co_nips;

	if (n == HG_CERT_MAX_NAMES) {
		xasprintf(cause, "more than %d addresses", HG_CERT_MAX_NAMES);
		return (-1);
	}
	if (inet_pton(AF_INET, s, co->co_ips[n]) == 1)
		co->co_iplen[n] = 4;
	else if (inet_pton(AF_INET6, s, co->co_ips[n]) == 1)
		co->co_iplen[n] = 16;
	else {
		xasprintf(cause, "--ip %s: not an IPv4 or IPv6 address", s);
		return (-1);
	}
	co->co_nips++;
	return (0);
}

/*
 * Parse the arguments of `certs init` (argv[0] is the first option):
 * --dir DIR, --name NAME, --ip IP (both repeatable), --days N, --force;
 * "--opt=value" works too. With neither --name nor --ip the certificate is
 * for localhost, 127.0.0.1 and ::1. Returns 0, or -1 with *cause set
 * (caller frees).
 */
int
certs_parse_args(int argc, char **argv, struct certs_opts *co, char **cause)
{
	static const char *const withval[] = { "--dir", "--name", "--ip",
	    "--days" };
	const char	*opt, *val;
	char		 name[16];
	char		*end;
	unsigned long	 days;
	size_t		 k, len;
	int		 i;

	memset(co, 0, sizeof *co);
	co->co_dir = ".";
	co->co_days = HG_CERT_DAYS;
	for (i = 0; i < argc; i++) {
		opt = argv[i];
		if (strcmp(opt, "--force") == 0) {
			co->co_force = 1;
			continue;
		}
		val = NULL;
		for (k = 0; k < sizeof withval / sizeof withval[0]; k++) {
			len = strlen(withval[k]);
			if (strncmp(opt, withval[k], len) != 0)
				continue;
			if (opt[len] == '=')
				val = opt + len + 1;
			else if (opt[len] == '\0' && i + 1 < argc)
				val = argv[++i];
			else if (opt[len] == '\0') {
				xasprintf(cause, "%s needs a value", opt);
				return (-1);
			} else
				continue;
			snprintf(name, sizeof name, "%s", withval[k]);
			break;
		}
		if (val == NULL) {
			xasprintf(cause, "unknown argument '%s'", opt);
			return (-1);
		}
		if (strcmp(name, "--dir") == 0) {
			if (*val == '\0') {
				xasprintf(cause, "--dir: empty");
				return (-1);
			}
			co->co_dir = val;
		} else if (strcmp(name, "--name") == 0) {
			if (certs_arg_name(co, val, cause) != 0)
				return (-1);
		} else if (strcmp(name, "--ip") == 0) {
			if (certs_arg_ip(co, val, cause) != 0)
				return (-1);
		} else {
			errno = 0;
			days = strtoul(val, &end, 10);
			if (*val < '0' || *val > '9' || *end != '\0' ||
			    errno != 0 || days == 0 ||
			    days > HG_CERT_MAX_DAYS) {
				xasprintf(cause, "--days %s: expected 1 to %d",
				    val, HG_CERT_MAX_DAYS);
				return (-1);
			}
			co->co_days = (unsigned)days;
		}
	}
	if (co->co_nnames == 0 && co->co_nips == 0) {
		certs_arg_name(co, "localhost", cause);
		certs_arg_ip(co, "127.0.0.1", cause);
		certs_arg_ip(co, "::1", cause);
	}
	return (0);
}

/*
 * The DER of the subjectAltName extension value (GeneralNames: dNSName
 * for each name, then iPAddress for each address) at the end of
 * buf[0..size). Returns its length (it starts at buf + size - length), or
 * -1 when it does not fit.
 */
ssize_t
certs_san_der(const struct certs_opts *co, unsigned char *buf, size_t size)
{
	unsigned char	*p = buf + size;
	size_t		 len = 0, i;
	int		 r;

	/* Written backwards: the last entry first. */
#define SAN_PUT(expr) do {						\
	if ((r = (expr)) < 0)						\
		return (-1);						\
	len += (size_t)r;						\
} while (0)
	for (i = co->co_nips; i-- > 0;) {
		SAN_PUT(mbedtls_asn1_write_raw_buffer(&p, buf, co->co_ips[i],
		    co->co_iplen[i]));
		SAN_PUT(mbedtls_asn1_write_len(&p, buf, co->co_iplen[i]));
		SAN_PUT(mbedtls_asn1_write_tag(&p, buf,
		    MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));
	}
	for (i = co->co_nnames; i-- > 0;) {
		size_t n = strlen(co->co_names[i]);

		SAN_PUT(mbedtls_asn1_write_raw_buffer(&p, buf,
		    (const unsigned char *)co->co_names[i], n));
		SAN_PUT(mbedtls_asn1_write_len(&p, buf, n));
		SAN_PUT(mbedtls_asn1_write_tag(&p, buf,
		    MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2));
	}
	SAN_PUT(mbedtls_asn1_write_len(&p, buf, len));
	SAN_PUT(mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE));
#undef SAN_PUT
	return ((ssize_t)len);
}

/* "YYYYMMDDhhmmss" of t (UTC) for mbedTLS. */
static void
certs_time(time_t t, char out[16])
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

/* Write len bytes to path with mode (replacing it with force). */
static int
certs_write_file(const char *path, const void *buf, size_t len, mode_t mode,
    int force, char **cause)
{
	int	fd, flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;

	if (!force)
		flags |= O_EXCL;
	if ((fd = open(path, flags, mode)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	/* An existing file keeps its mode through O_TRUNC. */
	if (plat_fchmod(fd, mode) == -1 || write(fd, buf, len) != (ssize_t)len ||
	    close(fd) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	return (0);
}

struct certs_gen {
	mbedtls_entropy_context		 cg_entropy;
	mbedtls_ctr_drbg_context	 cg_drbg;
	mbedtls_pk_context		 cg_ca_key;
	mbedtls_pk_context		 cg_srv_key;
	unsigned char			 cg_pem[F_COUNT][CERTS_PEM_MAX];
};

static int
certs_gen_key(struct certs_gen *cg, mbedtls_pk_context *key,
    unsigned char *pem)
{
	int	rc;

	if ((rc = mbedtls_pk_setup(key,
	    mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0 ||
	    (rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
	    mbedtls_pk_ec(*key), mbedtls_ctr_drbg_random, &cg->cg_drbg)) != 0)
		return (rc);
	return (mbedtls_pk_write_key_pem(key, pem, CERTS_PEM_MAX));
}

/*
 * One certificate: subject, signed by issuer_key as issuer (self-signed
 * when subject_key is issuer_key), valid for days from an hour ago.
 */
static int
certs_gen_crt(struct certs_gen *cg, const struct certs_opts *co,
    mbedtls_pk_context *subject_key, const char *subject,
    mbedtls_pk_context *issuer_key, const char *issuer, unsigned days,
    unsigned char *pem)
{
	mbedtls_x509write_cert	 crt;
	mbedtls_mpi		 serial;
	unsigned char		 rnd[16], san[HG_CERT_MAX_SAN];
	char			 from[16], to[16];
	time_t			 now = time(NULL);
	ssize_t			 sanlen;
	int			 rc, ca = subject_key == issuer_key;

	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	if ((rc = mbedtls_ctr_drbg_random(&cg->cg_drbg, rnd, sizeof rnd)) != 0)
		goto out;
	rnd[0] &= 0x7f;		/* a positive serial */
	rnd[0] |= 0x40;
	certs_time(now - 3600, from);
	certs_time(now + (time_t)days * 86400, to);
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, subject_key);
	mbedtls_x509write_crt_set_issuer_key(&crt, issuer_key);
	if ((rc = mbedtls_mpi_read_binary(&serial, rnd, sizeof rnd)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_serial(&crt, &serial)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_subject_name(&crt, subject)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_issuer_name(&crt, issuer)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_validity(&crt, from, to)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_basic_constraints(&crt, ca,
	    ca ? 0 : -1)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_authority_key_identifier(&crt)) !=
	    0 ||
	    (rc = mbedtls_x509write_crt_set_key_usage(&crt, ca ?
	    MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN :
	    MBEDTLS_X509_KU_DIGITAL_SIGNATURE |
	    MBEDTLS_X509_KU_KEY_ENCIPHERMENT)) != 0)
		goto out;
	if (!ca) {
		if ((sanlen = certs_san_der(co, san, sizeof san)) < 0) {
			rc = MBEDTLS_ERR_ASN1_BUF_TOO_SMALL;
			goto out;
		}
		if ((rc = mbedtls_x509write_crt_set_extension(&crt,
		    MBEDTLS_OID_SUBJECT_ALT_NAME,
		    MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
		    san + sizeof san - sanlen, (size_t)sanlen)) != 0 ||
		    (rc = mbedtls_x509write_crt_set_extension(&crt,
		    MBEDTLS_OID_EXTENDED_KEY_USAGE,
		    MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
		    certs_eku_server, sizeof certs_eku_server)) != 0)
			goto out;
	}
	rc = mbedtls_x509write_crt_pem(&crt, pem, CERTS_PEM_MAX,
	    mbedtls_ctr_drbg_random, &cg->cg_drbg);
out:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	return (rc);
}

/* Quote a DN attribute value (RFC 4514 specials) into out. */
static void
certs_dn_value(char *out, size_t n, const char *s)
{
	size_t	o = 0;

	for (; *s != '\0' && o + 2 < n; s++) {
		if (strchr(",+\"\\<>;=", *s) != NULL)
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
}

/* hushgate certs init [--dir DIR] [--name NAME ...] [--ip IP ...] ... */
int
certs_init_main(int argc, char **argv)
{
	struct certs_opts	 co;
	struct certs_gen	*cg;
	char			*cause = NULL, *paths[F_COUNT], subject[400];
	char			 cn[300], msg[160], ipbuf[INET6_ADDRSTRLEN];
	const char		*ca_dn = "CN=hushgate local CA,O=hushgate";
	struct stat		 st;
	size_t			 i;
	int			 rc = 1, e, exists = 0;

	memset(paths, 0, sizeof paths);
	if ((cg = calloc(1, sizeof *cg)) == NULL) {
		fprintf(stderr, "hushgate: out of memory\n");
		return (1);
	}
	mbedtls_entropy_init(&cg->cg_entropy);
	mbedtls_ctr_drbg_init(&cg->cg_drbg);
	mbedtls_pk_init(&cg->cg_ca_key);
	mbedtls_pk_init(&cg->cg_srv_key);
	if (certs_parse_args(argc, argv, &co, &cause) != 0) {
		fprintf(stderr, "hushgate certs init: %s\n", cause);
		goto out;
	}
	if (plat_mkdir(co.co_dir, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "hushgate certs init: %s: %s\n", co.co_dir,
		    strerror(errno));
		goto out;
	}
	for (i = 0; i < F_COUNT; i++) {
		xasprintf(&paths[i], "%s/%s", co.co_dir, certs_files[i]);
		if (!co.co_force && plat_lstat(paths[i], &st) == 0) {
			fprintf(stderr, "hushgate certs init: %s exists (use "
			    "--force to replace it)\n", paths[i]);
			exists = 1;
		}
	}
	if (exists)
		goto out;
	if (co.co_nnames > 0)
		certs_dn_value(cn, sizeof cn, co.co_names[0]);
	else
		inet_ntop(co.co_iplen[0] == 4 ? AF_INET : AF_INET6,
		    co.co_ips[0], cn, sizeof cn);
	snprintf(subject, sizeof subject, "CN=%s,O=hushgate", cn);
	if ((e = mbedtls_ctr_drbg_seed(&cg->cg_drbg, mbedtls_entropy_func,
	    &cg->cg_entropy, (const unsigned char *)"hushgate certs", 14)) != 0 ||
	    (e = certs_gen_key(cg, &cg->cg_ca_key, cg->cg_pem[F_CA_KEY])) != 0 ||
	    (e = certs_gen_crt(cg, &co, &cg->cg_ca_key, ca_dn, &cg->cg_ca_key,
	    ca_dn, co.co_days > HG_CERT_CA_DAYS ? co.co_days : HG_CERT_CA_DAYS,
	    cg->cg_pem[F_CA_CRT])) != 0 ||
	    (e = certs_gen_key(cg, &cg->cg_srv_key,
	    cg->cg_pem[F_SRV_KEY])) != 0 ||
	    (e = certs_gen_crt(cg, &co, &cg->cg_srv_key, subject,
	    &cg->cg_ca_key, ca_dn, co.co_days, cg->cg_pem[F_SRV_CRT])) != 0) {
		tls_strerror(e, msg, sizeof msg);
		fprintf(stderr, "hushgate certs init: %s\n", msg);
		goto out;
	}
	for (i = 0; i < F_COUNT; i++) {
		if (certs_write_file(paths[i], cg->cg_pem[i],
		    strlen((char *)cg->cg_pem[i]), i == F_CA_KEY ||
		    i == F_SRV_KEY ? 0600 : 0644, co.co_force, &cause) != 0) {
			fprintf(stderr, "hushgate certs init: %s\n", cause);
			goto out;
		}
		printf("wrote %s%s\n", paths[i], i == F_CA_KEY ||
		    i == F_SRV_KEY ? " (mode 0600)" : "");
	}
	printf("server certificate for");
	for (i = 0; i < co.co_nnames; i++)
		printf(" DNS:%s", co.co_names[i]);
	for (i = 0; i < co.co_nips; i++) {
		inet_ntop(co.co_iplen[i] == 4 ? AF_INET : AF_INET6,
		    co.co_ips[i], ipbuf, sizeof ipbuf);
		printf(" IP:%s", ipbuf);
	}
	printf(", valid %u days (EC P-256 keys)\n\n", co.co_days);
	printf("In hushgate.yaml:\n\n"
	    "listen:\n"
	    "  - address: 127.0.0.1:3129\n"
	    "    tls: {cert: %s, key: %s}\n\n"
	    "Clients trust %s, e.g.\n"
	    "  curl --proxy https://127.0.0.1:3129 --proxy-cacert %s "
	    "https://example.com/\n", paths[F_SRV_CRT], paths[F_SRV_KEY],
	    paths[F_CA_CRT], paths[F_CA_CRT]);
	rc = 0;
out:
	free(cause);
	for (i = 0; i < F_COUNT; i++)
		free(paths[i]);
	mbedtls_pk_free(&cg->cg_srv_key);
	mbedtls_pk_free(&cg->cg_ca_key);
	mbedtls_ctr_drbg_free(&cg->cg_drbg);
	mbedtls_entropy_free(&cg->cg_entropy);
	free(cg);
	return (rc);
}

/* hushgate certs show: what each TLS listener of cf presents. */
int
certs_show(const struct hg_config *cf)
{
	struct cert_info		 ci;
	const struct hg_listener	*li;
	char				*cause = NULL;
	size_t				 i, n = 0;
	int				 rc = 0;

	for (i = 0; i < cf->cf_nlisteners; i++) {
		li = &cf->cf_listeners[i];
		if (li->li_cert == NULL)
			continue;
		if (n++ > 0)
			printf("\n");
		printf("listener:    %s (tls: %s)\n", li->li_addr,
		    li->li_tls_at);
		printf("certificate: %s\n", li->li_cert);
		if (cert_info_load(li->li_cert, &ci, &cause) != 0) {
			printf("error:       %s\n", cause);
			free(cause);
			cause = NULL;
			rc = 1;
			continue;
		}
		printf("subject:     %s\n", ci.ci_subject);
		printf("names:       %s\n", ci.ci_sans[0] ? ci.ci_sans :
		    "(none)");
		printf("issuer:      %s\n", ci.ci_issuer);
		printf("serial:      %s\n", ci.ci_serial);
		printf("not before:  %s\n", ci.ci_not_before);
		printf("not after:   %s\n", ci.ci_not_after);
		if (ci.ci_days_left < 0)
			printf("days left:   expired\n");
		else
			printf("days left:   %ld%s\n", ci.ci_days_left,
			    ci.ci_days_left < HG_CERT_WARN_DAYS ?
			    " (renew soon)" : "");
	}
	if (n == 0)
		printf("no TLS listener in %s\n", cf->cf_file);
	return (rc);
}
