/*
 * tls.c -- the mbedTLS client configuration used to download lists: TLS
 * 1.2 or later, the peer's certificate always verified against a CA bundle
 * (the system's by default), randomness from a CTR-DRBG seeded by the
 * platform entropy source.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "rules/rules.h"
#include "certs/certs.h"

struct tls_client {
	mbedtls_entropy_context		 tc_entropy;
	mbedtls_ctr_drbg_context	 tc_drbg;
	mbedtls_x509_crt		 tc_ca;
	mbedtls_ssl_config		 tc_conf;
};

/* Text of an mbedTLS error code into buf. */
void
tls_strerror(int rc, char *buf, size_t len)
{
	mbedtls_strerror(rc, buf, len);
	if (buf[0] == '\0')
		snprintf(buf, len, "mbedTLS error -0x%04x", (unsigned)-rc);
}

/*
 * A client configuration trusting the certificates in ca_file (NULL: the
 * system bundle). Returns it (free with tls_client_free), or NULL with
 * *cause set (caller frees).
 */
struct tls_client *
tls_client_new(const char *ca_file, char **cause)
{
	struct tls_client	*tc;
	static const char	 pers[] = "hushgate lists";
	char			 msg[160];
	int			 rc;

	if (ca_file == NULL)
		ca_file = HG_DEFAULT_CA_FILE;
	tc = xcalloc(1, sizeof *tc);
	mbedtls_entropy_init(&tc->tc_entropy);
	mbedtls_ctr_drbg_init(&tc->tc_drbg);
	mbedtls_x509_crt_init(&tc->tc_ca);
	mbedtls_ssl_config_init(&tc->tc_conf);
	if ((rc = mbedtls_ctr_drbg_seed(&tc->tc_drbg, mbedtls_entropy_func,
	    &tc->tc_entropy, (const unsigned char *)pers,
	    sizeof pers - 1)) != 0) {
		tls_strerror(rc, msg, sizeof msg);
		xasprintf(cause, "random generator: %s", msg);
		goto fail;
	}
	/* A bundle with a few certificates mbedTLS cannot parse still loads
	 * the rest (rc > 0); only an unusable file is an error. */
	rc = mbedtls_x509_crt_parse_file(&tc->tc_ca, ca_file);
	if (rc < 0 || tc->tc_ca.version == 0) {
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
tls_client_free(struct tls_client *tc)
{
	if (tc == NULL)
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

/* SHA-256 of buf into out. */
void
tls_sha256(const void *buf, size_t len, uint8_t out[32])
{
	mbedtls_sha256_ret(buf, len, out, 0);
}
