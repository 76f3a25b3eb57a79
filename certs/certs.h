/*
 * certs.h -- TLS credentials and mbedTLS configuration.
 *
 * The rest of the daemon sees mbedTLS through this header only where it
 * runs a TLS session itself (the list downloader, the TLS listener, the
 * TLS to an https:// parent proxy).
 */
#ifndef HG_CERTS_H
#define HG_CERTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HG_DEFAULT_CA_FILE	"/etc/ssl/certs/ca-certificates.crt"
#define HG_CERT_WARN_DAYS	30	/* -t warns before expiry */
#define TLS_TICKET_LIFETIME	86400	/* seconds a session ticket lasts */
#define HG_CERT_MAX_NAMES	32	/* --name and --ip of certs init */
#define HG_CERT_MAX_SAN		4096	/* DER bytes of subjectAltName */
#define HG_CERT_DAYS		825	/* server certificate lifetime */
#define HG_CERT_CA_DAYS		3650	/* local CA lifetime (at least) */
#define HG_CERT_MAX_DAYS	36500

struct mbedtls_ssl_config;
struct tls_client;
struct tls_server;
struct hg_config;
struct hg_errors;

/* tls.c */
struct cert_info {
	char		 ci_subject[256];
	char		 ci_issuer[256];
	char		 ci_serial[128];
	char		 ci_not_before[32];	/* "YYYY-MM-DD hh:mm:ss UTC" */
	char		 ci_not_after[32];
	long		 ci_days_left;		/* < 0: expired */
	char		 ci_sans[1024];		/* "DNS:a, IP:127.0.0.1" */
};

struct tls_client *tls_client_new(const char *, char **);
void		 tls_client_ref(struct tls_client *);
void		 tls_client_free(struct tls_client *);
const struct mbedtls_ssl_config *tls_client_conf(const struct tls_client *);
void		 tls_server_ref(struct tls_server *);
void		 tls_server_unref(struct tls_server *);
const struct mbedtls_ssl_config *tls_server_conf(const struct tls_server *);
int		 tls_server_attach(struct hg_config *, struct hg_errors *,
		    struct hg_errors *);
int		 tls_upstream_attach(struct hg_config *, struct hg_errors *);
int		 tls_crt_names_ip(const void *, const uint8_t *, size_t);
void		 tls_strerror(int, char *, size_t);
void		 tls_sha256(const void *, size_t, uint8_t [32]);
int		 cert_info_load(const char *, struct cert_info *, char **);

/* certs.c: certs init, certs show */
struct certs_opts {
	const char	*co_dir;
	char		 co_names[HG_CERT_MAX_NAMES][253 + 1]; /* HG_MAX_HOST */
	size_t		 co_nnames;
	uint8_t		 co_ips[HG_CERT_MAX_NAMES][16];
	size_t		 co_iplen[HG_CERT_MAX_NAMES];	/* 4 or 16 */
	size_t		 co_nips;
	unsigned	 co_days;
	int		 co_force;
};

int		 certs_parse_args(int, char **, struct certs_opts *, char **);
ssize_t		 certs_san_der(const struct certs_opts *, unsigned char *,
		    size_t);
int		 certs_init_main(int, char **);
int		 certs_show(const struct hg_config *);

#endif /* HG_CERTS_H */
