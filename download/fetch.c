/*
 * fetch.c -- one HTTPS GET of a list, on the caller's event_base: the name
 * resolved through hushgate's own evdns base (its servers and hosts file),
 * a non-blocking socket, and an mbedTLS session whose I/O callbacks read
 * and write that socket directly. The session verifies the server's
 * certificate and name (always), sends SNI and speaks TLS 1.2 or later.
 *
 * A fetch has one total deadline, a bound on the body, conditional
 * request headers from the cached copy, follows at most
 * HG_FETCH_MAX_REDIRECTS redirects (https:// only) and reads bodies framed
 * by Content-Length, chunked or the close. It ends in exactly one call of
 * its callback, never before fetch_start() returns; the caller may also
 * follow the body as it comes (fq_progress), to show it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "proxy/proxy.h"
#include "download/download.h"
#include "plat/plat.h"
#include "certs/certs.h"

#define FETCH_READ_MAX	16384	/* one TLS read */

enum fetch_state {
	FS_START = 0,	/* nothing done yet */
	FS_RESOLVE,	/* evdns lookup */
	FS_CONNECT,	/* connecting to each address in turn */
	FS_HANDSHAKE,
	FS_WRITE,	/* the request */
	FS_HEAD,	/* reading the response head */
	FS_BODY,	/* reading the body of a 200 */
	FS_CANCELLED	/* waiting for a cancelled lookup to return */
};

struct fetch {
	struct event_base	*f_base;
	struct evdns_base	*f_dns;
	enum fetch_state	 f_state;
	char			*f_urlstr;	/* the URL now fetched */
	struct hg_url		 f_url;
	unsigned		 f_redirects;
	const char		*f_bad_url;	/* why the URL is refused */
	char			*f_etag;	/* conditional request */
	char			*f_modified;
	char			*f_ca_file;
	uint64_t		 f_max_bytes;
	struct tls_client	*f_tls;
	struct evdns_getaddrinfo_request *f_dnsreq;
	int			 f_dns_notfound; /* cancelled: no servers */
	struct evutil_addrinfo	*f_ai;
	struct evutil_addrinfo	*f_ai_next;
	char			 f_connect_err[128];
	int			 f_fd;
	struct event		*f_ev;		/* I/O on f_fd, or the start */
	struct event		*f_timer;	/* the total deadline */
	mbedtls_ssl_context	 f_ssl;
	int			 f_ssl_live;
	struct evbuffer		*f_out;		/* request not yet written */
	struct evbuffer		*f_in;		/* response not yet parsed */
	struct fetch_result	 f_res;
	enum body_kind		 f_body;
	uint64_t		 f_left;	/* BODY_LENGTH */
	struct chunkdec		 f_chunk;
	fetch_cb		 f_cb;
	fetch_progress_cb	 f_progress;
	uint64_t		 f_total;	/* Content-Length, or 0 */
	size_t			 f_reported;	/* body bytes last reported */
	void			*f_arg;
};

static void	fetch_step(struct fetch *);

/* The callback of a cancelled fetch. */
static void
fetch_cb_ignore(struct fetch_result *fr, void *arg)
{
}

/* Release what the current connection holds (not the result). */
static void
fetch_disconnect(struct fetch *f)
{
	if (f->f_ssl_live) {
		mbedtls_ssl_free(&f->f_ssl);
		f->f_ssl_live = 0;
	}
	if (f->f_ev != NULL)
		event_del(f->f_ev);
	if (f->f_fd != -1) {
		plat_closesocket(f->f_fd);
		f->f_fd = -1;
	}
	if (f->f_ai != NULL) {
		evutil_freeaddrinfo(f->f_ai);
		f->f_ai = f->f_ai_next = NULL;
	}
	evbuffer_drain(f->f_out, evbuffer_get_length(f->f_out));
	evbuffer_drain(f->f_in, evbuffer_get_length(f->f_in));
}

static void
fetch_free(struct fetch *f)
{
	fetch_disconnect(f);
	if (f->f_ev != NULL)
		event_free(f->f_ev);
	event_free(f->f_timer);
	evbuffer_free(f->f_out);
	evbuffer_free(f->f_in);
	if (f->f_res.fr_body != NULL)
		evbuffer_free(f->f_res.fr_body);
	free(f->f_res.fr_error);
	free(f->f_urlstr);
	free(f->f_etag);
	free(f->f_modified);
	free(f->f_ca_file);
	tls_client_free(f->f_tls);
	free(f);
}

/* The end: hand the result over, then free everything. */
static void
fetch_done(struct fetch *f)
{
	fetch_disconnect(f);
	f->f_cb(&f->f_res, f->f_arg);
	fetch_free(f);
}

static void __attribute__((format(HG_PRINTF, 2, 3)))
fetch_fail(struct fetch *f, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	if (vasprintf(&f->f_res.fr_error, fmt, ap) == -1)
		f->f_res.fr_error = NULL;
	va_end(ap);
	if (f->f_res.fr_error == NULL)
		f->f_res.fr_error = xstrdup("out of memory");
	f->f_res.fr_ok = 0;
	fetch_done(f);
}

static void
fetch_tls_fail(struct fetch *f, const char *what, int rc)
{
	char		 msg[256], info[256];
	uint32_t	 flags;

	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED &&
	    (flags = mbedtls_ssl_get_verify_result(&f->f_ssl)) != 0) {
		mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
		info[strcspn(info, "\n")] = '\0';
		fetch_fail(f, "certificate of %s refused: %s", f->f_url.u_host,
		    info);
		return;
	}
	tls_strerror(rc, msg, sizeof msg);
	fetch_fail(f, "%s: %s", what, msg);
}

/* Wait for what (EV_READ or EV_WRITE) on the socket, then step again. */
static void
fetch_io(evutil_socket_t fd, short what, void *arg)
{
	fetch_step(arg);
}

static void
fetch_wait(struct fetch *f, short what)
{
	event_del(f->f_ev);
	event_assign(f->f_ev, f->f_base, f->f_fd, what, fetch_io, f);
	event_add(f->f_ev, NULL);
}

/* mbedTLS asks to wait for the socket (rc): wait, and say so. */
static int
fetch_want(struct fetch *f, int rc)
{
	if (rc == MBEDTLS_ERR_SSL_WANT_READ)
		fetch_wait(f, EV_READ);
	else if (rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		fetch_wait(f, EV_WRITE);
	else
		return (0);
	return (1);
}

static void
fetch_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct fetch	*f = arg;

	if (f->f_dnsreq != NULL) {
		/* dns_done() reports it when the lookup returns. */
		if (f->f_state != FS_CANCELLED) {
			f->f_state = FS_CANCELLED;
			evdns_getaddrinfo_cancel(f->f_dnsreq);
		}
		return;
	}
	fetch_fail(f, "timed out");
}

/* mbedTLS I/O on the non-blocking socket. */
static int
bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct fetch	*f = arg;
	ssize_t		 n;

	n = plat_send(f->f_fd, buf, len);
	if (n >= 0)
		return ((int)n);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return (MBEDTLS_ERR_SSL_WANT_WRITE);
	return (MBEDTLS_ERR_NET_SEND_FAILED);
}

static int
bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct fetch	*f = arg;
	ssize_t		 n;

	n = plat_recv(f->f_fd, buf, len);
	if (n >= 0)
		return ((int)n);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return (MBEDTLS_ERR_SSL_WANT_READ);
	if (errno == ECONNRESET)
		return (MBEDTLS_ERR_NET_CONN_RESET);
	return (MBEDTLS_ERR_NET_RECV_FAILED);
}

static void
dns_done(int result, struct evutil_addrinfo *res, void *arg)
{
	struct fetch	*f = arg;

	f->f_dnsreq = NULL;
	if (f->f_state == FS_CANCELLED) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		if (f->f_dns_notfound)
			fetch_fail(f, "cannot resolve %s: not found",
			    f->f_url.u_host);
		else
			fetch_fail(f, "timed out resolving %s",
			    f->f_url.u_host);
		return;
	}
	if (result != 0 || res == NULL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		fetch_fail(f, "cannot resolve %s: %s", f->f_url.u_host,
		    evutil_gai_strerror(result));
		return;
	}
	f->f_ai = f->f_ai_next = res;
	f->f_state = FS_CONNECT;
	f->f_connect_err[0] = '\0';
	fetch_step(f);
}

static void
fetch_resolve(struct fetch *f)
{
	struct evdns_getaddrinfo_request	*req;

	f->f_state = FS_RESOLVE;
	/* The callback may run before this returns (hosts file, literal). */
	req = dns_resolve(f->f_dns, f->f_url.u_host, f->f_url.u_port,
	    dns_done, f);
	if (req == NULL)
		return;
	f->f_dnsreq = req;
	if (evdns_base_count_nameservers(f->f_dns) == 0) {
		/* dns.servers: [] -- not in the hosts file is not found. */
		f->f_state = FS_CANCELLED;
		f->f_dns_notfound = 1;
		evdns_getaddrinfo_cancel(req);
	}
}

/* Begin connecting to the next address; 0 when waiting, -1 when none is
 * left (the error is reported). */
static int
fetch_connect_next(struct fetch *f)
{
	struct evutil_addrinfo	*ai;
	int			 fd;

	while ((ai = f->f_ai_next) != NULL) {
		f->f_ai_next = ai->ai_next;
		fd = plat_socket(ai->ai_family, SOCK_STREAM, 0);
		if (fd == -1) {
			snprintf(f->f_connect_err, sizeof f->f_connect_err,
			    "%s", plat_strerror(errno));
			continue;
		}
		if (plat_connect(fd, ai->ai_addr,
		    (socklen_t)ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS) {
			f->f_fd = fd;
			fetch_wait(f, EV_WRITE);
			return (0);
		}
		snprintf(f->f_connect_err, sizeof f->f_connect_err, "%s",
		    plat_strerror(errno));
		plat_closesocket(fd);
	}
	fetch_fail(f, "cannot connect to %s port %u: %s", f->f_url.u_host,
	    f->f_url.u_port, f->f_connect_err[0] ? f->f_connect_err :
	    "no address");
	return (-1);
}

/* The connection is up: start TLS. 0, or -1 when reported. */
static int
fetch_tls_start(struct fetch *f)
{
	char	*cause = NULL;
	int	 rc;

	if (f->f_tls == NULL &&
	    (f->f_tls = tls_client_new(f->f_ca_file, &cause)) == NULL) {
		fetch_fail(f, "%s", cause);
		free(cause);
		return (-1);
	}
	mbedtls_ssl_init(&f->f_ssl);
	f->f_ssl_live = 1;
	if ((rc = mbedtls_ssl_setup(&f->f_ssl,
	    (const mbedtls_ssl_config *)tls_client_conf(f->f_tls))) != 0 ||
	    (rc = mbedtls_ssl_set_hostname(&f->f_ssl, f->f_url.u_host)) != 0) {
		fetch_tls_fail(f, "TLS setup", rc);
		return (-1);
	}
	mbedtls_ssl_set_bio(&f->f_ssl, f, bio_send, bio_recv, NULL);
	f->f_state = FS_HANDSHAKE;
	return (0);
}

static void
fetch_request(struct fetch *f)
{
	const struct hg_url	*u = &f->f_url;

	evbuffer_add_printf(f->f_out, "GET %s HTTP/1.1\r\nHost: %s%s%s",
	    u->u_path, u->u_v6 ? "[" : "", u->u_host, u->u_v6 ? "]" : "");
	if (u->u_port != 443)
		evbuffer_add_printf(f->f_out, ":%u", u->u_port);
	evbuffer_add_printf(f->f_out, "\r\nUser-Agent: hushgate/%s\r\n"
	    "Accept: */*\r\nAccept-Encoding: identity\r\n"
	    "Connection: close\r\n", PACKAGE_VERSION);
	if (f->f_etag != NULL && f->f_etag[0] != '\0')
		evbuffer_add_printf(f->f_out, "If-None-Match: %s\r\n",
		    f->f_etag);
	if (f->f_modified != NULL && f->f_modified[0] != '\0')
		evbuffer_add_printf(f->f_out, "If-Modified-Since: %s\r\n",
		    f->f_modified);
	evbuffer_add(f->f_out, "\r\n", 2);
	f->f_state = FS_WRITE;
}

static void
copy_value(char *dst, size_t size, const char *v, size_t len)
{
	if (v == NULL || len >= size)
		len = 0;
	if (len > 0)
		memcpy(dst, v, len);
	dst[len] = '\0';
}

/* Follow a redirect to loc. 0 when started again, -1 when reported. */
static int
fetch_redirect(struct fetch *f, const char *loc, size_t len)
{
	char		*next;
	const char	*why;
	struct hg_url	 u;

	if (++f->f_redirects > HG_FETCH_MAX_REDIRECTS) {
		fetch_fail(f, "more than %d redirects", HG_FETCH_MAX_REDIRECTS);
		return (-1);
	}
	if (len > 0 && loc[0] == '/' && (len == 1 || loc[1] != '/')) {
		/* An absolute path on the same server. */
		if (f->f_url.u_v6)
			xasprintf(&next, "https://[%s]:%u%.*s", f->f_url.u_host,
			    f->f_url.u_port, (int)len, loc);
		else
			xasprintf(&next, "https://%s:%u%.*s", f->f_url.u_host,
			    f->f_url.u_port, (int)len, loc);
	} else
		next = xstrndup(loc, len);
	if (url_parse(next, &u, &why) != 0) {
		fetch_fail(f, "redirect to '%.200s' refused: %s", next, why);
		free(next);
		return (-1);
	}
	log_debug("lists: %s redirects to %s", f->f_urlstr, next);
	free(f->f_urlstr);
	f->f_urlstr = next;
	f->f_url = u;
	fetch_disconnect(f);
	fetch_resolve(f);
	return (0);
}

/*
 * The head of the answer is in f_in: decide. Returns 1 to read a body, 0
 * when the fetch has ended or started again.
 */
static int
fetch_head(struct fetch *f)
{
	struct http_fetch_head	 fh;
	const char		*buf, *why;
	ssize_t			 hlen;
	size_t			 avail = evbuffer_get_length(f->f_in);

	for (;;) {
		buf = (const char *)evbuffer_pullup(f->f_in, -1);
		hlen = http_head_end(buf, avail);
		if (hlen < 0) {
			if (avail > HG_MAX_RESPONSE_HEAD) {
				fetch_fail(f, "response head too large");
				return (0);
			}
			return (-1);	/* more to read */
		}
		if (hlen > HG_MAX_RESPONSE_HEAD) {
			fetch_fail(f, "response head too large");
			return (0);
		}
		if (http_fetch_head(buf, (size_t)hlen, &fh, &why) != 0) {
			fetch_fail(f, "bad response: %s", why);
			return (0);
		}
		if (fh.fh_status >= 200)
			break;
		evbuffer_drain(f->f_in, (size_t)hlen);	/* 1xx */
		avail = evbuffer_get_length(f->f_in);
	}
	f->f_res.fr_status = fh.fh_status;
	copy_value(f->f_res.fr_etag, sizeof f->f_res.fr_etag, fh.fh_etag,
	    fh.fh_etaglen);
	copy_value(f->f_res.fr_modified, sizeof f->f_res.fr_modified,
	    fh.fh_modified, fh.fh_modifiedlen);
	switch (fh.fh_status) {
	case 200:
		break;
	case 304:
		f->f_res.fr_ok = 1;
		fetch_done(f);
		return (0);
	case 301:
	case 302:
	case 303:
	case 307:
	case 308:
		if (fh.fh_location == NULL) {
			fetch_fail(f, "HTTP %d without a Location",
			    fh.fh_status);
			return (0);
		}
		fetch_redirect(f, fh.fh_location, fh.fh_locationlen);
		return (0);
	default:
		fetch_fail(f, "HTTP %d", fh.fh_status);
		return (0);
	}
	if (fh.fh_body == BODY_LENGTH && fh.fh_length > f->f_max_bytes) {
		fetch_fail(f, "body of %llu bytes is larger than max_bytes "
		    "(%llu)", (unsigned long long)fh.fh_length,
		    (unsigned long long)f->f_max_bytes);
		return (0);
	}
	evbuffer_drain(f->f_in, (size_t)hlen);
	f->f_body = fh.fh_body;
	f->f_left = fh.fh_length;
	f->f_total = fh.fh_body == BODY_LENGTH ? fh.fh_length : 0;
	memset(&f->f_chunk, 0, sizeof f->f_chunk);
	f->f_state = FS_BODY;
	return (1);
}

/* Tell the caller how much of the body has come, when more has. */
static void
fetch_report(struct fetch *f)
{
	size_t	n = evbuffer_get_length(f->f_res.fr_body);

	if (f->f_progress != NULL && n != f->f_reported) {
		f->f_reported = n;
		f->f_progress(n, f->f_total, f->f_arg);
	}
}

/* Move what f_in holds of the body into the result. Returns 1 when the
 * body is complete, 0 for more, -1 when reported. */
static int
fetch_body(struct fetch *f, int eof)
{
	struct evbuffer	*body = f->f_res.fr_body;
	uint64_t	 n = 0;
	size_t		 avail = evbuffer_get_length(f->f_in);
	int		 r = 0;

	switch (f->f_body) {
	case BODY_NONE:
		r = 1;
		break;
	case BODY_LENGTH:
		n = avail < f->f_left ? avail : f->f_left;
		evbuffer_remove_buffer(f->f_in, body, (size_t)n);
		f->f_left -= n;
		r = f->f_left == 0;
		break;
	case BODY_CHUNKED:
		r = chunk_pump(&f->f_chunk, f->f_in, body, 0, &n);
		if (r < 0) {
			fetch_fail(f, "malformed chunked body");
			return (-1);
		}
		break;
	case BODY_CLOSE:
		evbuffer_add_buffer(body, f->f_in);
		r = eof;
		break;
	}
	if (evbuffer_get_length(body) > f->f_max_bytes) {
		fetch_fail(f, "body larger than max_bytes (%llu)",
		    (unsigned long long)f->f_max_bytes);
		return (-1);
	}
	if (r == 0 && eof) {
		fetch_fail(f, "connection closed before the end of the body");
		return (-1);
	}
	fetch_report(f);
	return (r);
}

/* Read what the session has; returns 1 at EOF, 0 to wait, -1 when
 * reported. */
static int
fetch_read(struct fetch *f)
{
	unsigned char	buf[FETCH_READ_MAX];
	int		n;

	for (;;) {
		n = mbedtls_ssl_read(&f->f_ssl, buf, sizeof buf);
		if (n > 0) {
			evbuffer_add(f->f_in, buf, (size_t)n);
			if (evbuffer_get_length(f->f_in) > FETCH_READ_MAX * 4)
				return (0);	/* parse some first */
			continue;
		}
		if (fetch_want(f, n))
			return (0);
		/* A close with or without close_notify: the length or the
		 * chunking says whether the body is whole; a body that runs
		 * to the close is guarded by the pin and the shrink guard. */
		if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
		    n == MBEDTLS_ERR_SSL_CONN_EOF ||
		    n == MBEDTLS_ERR_NET_CONN_RESET)
			return (1);
		fetch_tls_fail(f, "TLS read", n);
		return (-1);
	}
}

static int
fetch_waiting(struct fetch *f)
{
	return (event_pending(f->f_ev, EV_READ | EV_WRITE, NULL));
}

/* Run the state machine until it has to wait. */
static void
fetch_step(struct fetch *f)
{
	int		rc, err;
	size_t		n;

	for (;;) {
		switch (f->f_state) {
		case FS_START:
			fetch_resolve(f);
			return;
		case FS_RESOLVE:
		case FS_CANCELLED:
			return;
		case FS_CONNECT:
			if (f->f_fd == -1) {
				fetch_connect_next(f);
				return;
			}
			err = plat_sock_error(f->f_fd);
			if (err != 0) {
				snprintf(f->f_connect_err,
				    sizeof f->f_connect_err, "%s",
				    plat_strerror(err));
				event_del(f->f_ev);
				plat_closesocket(f->f_fd);
				f->f_fd = -1;
				continue;
			}
			if (fetch_tls_start(f) != 0)
				return;
			break;
		case FS_HANDSHAKE:
			rc = mbedtls_ssl_handshake(&f->f_ssl);
			if (fetch_want(f, rc))
				return;
			if (rc != 0) {
				fetch_tls_fail(f, "TLS handshake", rc);
				return;
			}
			fetch_request(f);
			break;
		case FS_WRITE:
			n = evbuffer_get_length(f->f_out);
			rc = mbedtls_ssl_write(&f->f_ssl,
			    evbuffer_pullup(f->f_out, -1), n);
			if (fetch_want(f, rc))
				return;
			if (rc < 0) {
				fetch_tls_fail(f, "TLS write", rc);
				return;
			}
			evbuffer_drain(f->f_out, (size_t)rc);
			if (evbuffer_get_length(f->f_out) == 0)
				f->f_state = FS_HEAD;
			break;
		case FS_HEAD:
		case FS_BODY:
			if ((rc = fetch_read(f)) < 0)
				return;
			if (f->f_state == FS_HEAD &&
			    (err = fetch_head(f)) <= 0) {
				if (err == 0)
					return;		/* ended */
				if (rc == 1) {
					fetch_fail(f, "connection closed "
					    "before a response");
					return;
				}
				if (fetch_waiting(f))
					return;
				continue;
			}
			if ((err = fetch_body(f, rc == 1)) < 0)
				return;
			if (err == 1) {
				f->f_res.fr_ok = 1;
				fetch_done(f);
				return;
			}
			if (fetch_waiting(f))
				return;
			continue;	/* stopped reading to parse */
		}
	}
}

static void
fetch_begin(evutil_socket_t fd, short what, void *arg)
{
	struct fetch	*f = arg;

	if (f->f_bad_url != NULL) {
		/* Checked by the loader; reported from the loop anyway. */
		fetch_fail(f, "%s", f->f_bad_url);
		return;
	}
	fetch_step(f);
}

/*
 * Start downloading rq->fq_url. cb is called once, from the event loop,
 * with the result (which it must not keep; it may take fr_body by setting
 * it to NULL). Returns the fetch, for fetch_cancel().
 */
struct fetch *
fetch_start(struct event_base *base, struct evdns_base *dns,
    const struct fetch_req *rq, fetch_cb cb, void *arg)
{
	struct fetch	*f;
	struct timeval	 tv;
	const char	*why;

	f = xcalloc(1, sizeof *f);
	f->f_base = base;
	f->f_dns = dns;
	f->f_fd = -1;
	f->f_urlstr = xstrdup(rq->fq_url);
	f->f_etag = rq->fq_etag ? xstrdup(rq->fq_etag) : NULL;
	f->f_modified = rq->fq_modified ? xstrdup(rq->fq_modified) : NULL;
	f->f_ca_file = rq->fq_ca_file ? xstrdup(rq->fq_ca_file) : NULL;
	f->f_max_bytes = rq->fq_max_bytes;
	f->f_cb = cb;
	f->f_progress = rq->fq_progress;
	f->f_arg = arg;
	f->f_out = evbuffer_new();
	f->f_in = evbuffer_new();
	f->f_res.fr_body = evbuffer_new();
	if (f->f_out == NULL || f->f_in == NULL || f->f_res.fr_body == NULL)
		fatalx("out of memory");
	f->f_ev = event_new(base, -1, 0, fetch_begin, f);
	f->f_timer = evtimer_new(base, fetch_timeout, f);
	if (f->f_ev == NULL || f->f_timer == NULL)
		fatalx("out of memory");
	tv.tv_sec = rq->fq_timeout / 1000;
	tv.tv_usec = (rq->fq_timeout % 1000) * 1000;
	evtimer_add(f->f_timer, &tv);
	if (url_parse(f->f_urlstr, &f->f_url, &why) != 0)
		f->f_bad_url = why;
	event_active(f->f_ev, EV_TIMEOUT, 0);
	return (f);
}

/* Stop a fetch without calling its callback. */
void
fetch_cancel(struct fetch *f)
{
	if (f->f_dnsreq != NULL) {
		/* dns_done() runs later: let it end quietly. */
		f->f_cb = fetch_cb_ignore;
		if (f->f_state != FS_CANCELLED) {
			f->f_state = FS_CANCELLED;
			evdns_getaddrinfo_cancel(f->f_dnsreq);
		}
		return;
	}
	fetch_free(f);
}
