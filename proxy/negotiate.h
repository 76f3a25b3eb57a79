/*
 * negotiate.h -- what negotiate.c (the handshakes) and negoload.c (the
 * credentials of a configuration) share; built with MIT's GSS-API only.
 */
#ifndef HG_NEGOTIATE_H
#define HG_NEGOTIATE_H

#include <gssapi/gssapi.h>
#include <krb5.h>

#define NEGO_THREADS		2	/* threads that accept tokens */

/* A configuration's acceptor (cf_nego): its copy of the keytab, and a
 * credential for each thread (MIT locks one for a whole accept). */
struct negotiate {
	krb5_context	 ng_kctx;
	krb5_keytab	 ng_kt;		/* MEMORY:, the copy */
	gss_cred_id_t	 ng_cred[NEGO_THREADS];	/* one per thread */
};

/* negotiate.c */
void		 nego_status_text(OM_uint32, OM_uint32, char *, size_t);

#endif /* HG_NEGOTIATE_H */
