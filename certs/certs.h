/*
 * certs.h -- TLS credentials and mbedTLS configuration.
 *
 * The rest of the daemon sees mbedTLS through this header only where it
 * runs a TLS session itself (the list downloader).
 */
#ifndef HG_CERTS_H
#define HG_CERTS_H

#include <stddef.h>
#include <stdint.h>

#define HG_DEFAULT_CA_FILE	"/etc/ssl/certs/ca-certificates.crt"

struct mbedtls_ssl_config;
struct tls_client;

/* tls.c */
struct tls_client *tls_client_new(const char *, char **);
void		 tls_client_free(struct tls_client *);
const struct mbedtls_ssl_config *tls_client_conf(const struct tls_client *);
void		 tls_strerror(int, char *, size_t);
void		 tls_sha256(const void *, size_t, uint8_t [32]);

#endif /* HG_CERTS_H */
