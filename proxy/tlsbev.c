/*
 * tlsbev.c -- TLS on a bufferevent: libevent 2.1 has no mbedTLS
 * bufferevent, so a TLS connection -- the server side of a client of a
 * TLS listener, or the client side to an https:// parent proxy -- is a
 * filtering bufferevent
 * (bufferevent_filter_new) over the socket's bufferevent, with mbedTLS
 * reading from the socket's input buffer and writing to its output buffer
 * (its bio callbacks). The rest of the connection code sees plaintext in
 * and out of an ordinary bufferevent.
 *
 *   input filter   drives the handshake, then decrypts every record the
 *                  socket has brought (mbedTLS keeps no plaintext back, so
 *                  a later read is never needed to see earlier data)
 *   output filter  holds plaintext back until the handshake is done, then
 *                  encrypts while the socket's output is under
 *                  HG_RELAY_HIGH_WATER (the filter's own output buffer
 *                  grows beyond it: that is the backpressure the caller
 *                  sees)
 *   kick event     what must not run inside a filter: the first flush of
 *                  output queued during the handshake, reading what came
 *                  before the filter was put on (PROXY header listeners),
 *                  and reporting a TLS error, the peer's close_notify (as
 *                  EOF), the end of tlsbev_shutdown() and, on the client
 *                  side, the end of the handshake (as BEV_EVENT_CONNECTED)
 *                  to the caller
 *
 * The client side verifies the server's certificate against its CA
 * (certs/tls.c's client configuration) and its name: a host name by
 * mbedTLS, an address by its iPAddress entries (which mbedTLS 2.28 does
 * not check).
 *
 * Everything of one connection runs in its worker's thread; the shared
 * mbedTLS configuration is read-only (certs/tls.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "proxy.h"
#include "plat/plat.h"
#include "certs/certs.h"

#define TLSBEV_RECORD	16384	/* plaintext of one record */
#define TLSBEV_ERR_NAME	(-0x10000)	/* not an mbedTLS code: the
					   certificate does not name the
					   address */

enum tlsbev_state {
	TB_HANDSHAKE = 0,
	TB_OPEN,
	TB_FAILED
};

struct tlsbev {
	struct tls_server	*tb_ts;		/* server side */
	struct tls_client	*tb_tc;		/* client side */
	uint8_t			 tb_ip[16];	/* client: the server's address */
	size_t			 tb_iplen;	/* ... to check, or 0 */
	uint32_t		 tb_vflags;	/* client: why not verified */
	mbedtls_ssl_context	 tb_ssl;
	struct bufferevent	*tb_bev;	/* the filter (plaintext) */
	struct bufferevent	*tb_under;	/* the socket */
	struct evbuffer_cb_entry *tb_outcb;	/* on the socket's output */
	struct event		*tb_kick;
	int			 tb_fd;
	enum tlsbev_state	 tb_state;
	int			 tb_err;	/* mbedTLS error when failed */
	unsigned		 tb_peer_closed:1; /* close_notify received */
	unsigned		 tb_reported:1;	/* error or EOF told */
	unsigned		 tb_closing:1;	/* close_notify sent */
	unsigned		 tb_shut:1;	/* write side shut */
	unsigned		 tb_shut_told:1;
	unsigned		 tb_flush:1;	/* output waits for the kick */
	unsigned		 tb_reread:1;	/* input waits for the kick */
	unsigned		 tb_told_open:1; /* client: CONNECTED told */
	void			(*tb_shut_cb)(void *);
	void			*tb_shut_arg;
};

static int
tlsbev_send(void *arg, const unsigned char *buf, size_t len)
{
	struct tlsbev	*tb = arg;

	if (evbuffer_add(bufferevent_get_output(tb->tb_under), buf, len) != 0)
		return (MBEDTLS_ERR_SSL_ALLOC_FAILED);
	return ((int)len);
}

static int
tlsbev_recv(void *arg, unsigned char *buf, size_t len)
{
	struct tlsbev	*tb = arg;
	int		 n;

	n = evbuffer_remove(bufferevent_get_input(tb->tb_under), buf, len);
	if (n <= 0)
		return (MBEDTLS_ERR_SSL_WANT_READ);
	return (n);
}

static void
tlsbev_fail(struct tlsbev *tb, int rc)
{
	if (tb->tb_tc != NULL && rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
		tb->tb_vflags = mbedtls_ssl_get_verify_result(&tb->tb_ssl);
	tb->tb_state = TB_FAILED;
	tb->tb_err = rc;
	event_active(tb->tb_kick, 0, 0);
}

static enum bufferevent_filter_result
tlsbev_filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct tlsbev	*tb = arg;
	unsigned char	 buf[TLSBEV_RECORD];
	int		 rc, produced = 0;

	if (tb->tb_state == TB_FAILED || tb->tb_peer_closed) {
		evbuffer_drain(src, evbuffer_get_length(src));
		return (BEV_NEED_MORE);
	}
	if (tb->tb_state == TB_HANDSHAKE) {
		rc = mbedtls_ssl_handshake(&tb->tb_ssl);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			return (BEV_NEED_MORE);
		if (rc != 0) {
			tlsbev_fail(tb, rc);
			return (BEV_ERROR);
		}
		if (tb->tb_iplen != 0 && !tls_crt_names_ip(
		    mbedtls_ssl_get_peer_cert(&tb->tb_ssl), tb->tb_ip,
		    tb->tb_iplen)) {
			tlsbev_fail(tb, TLSBEV_ERR_NAME);
			return (BEV_ERROR);
		}
		tb->tb_state = TB_OPEN;
		/* Output queued during the handshake goes now. */
		tb->tb_flush = 1;
		event_active(tb->tb_kick, 0, 0);
	}
	/* Everything there is, whatever lim says: what mbedTLS decrypted
	 * and kept would wait for the next socket read otherwise. */
	for (;;) {
		rc = mbedtls_ssl_read(&tb->tb_ssl, buf, sizeof buf);
		if (rc > 0) {
			if (evbuffer_add(dst, buf, (size_t)rc) != 0) {
				tlsbev_fail(tb, MBEDTLS_ERR_SSL_ALLOC_FAILED);
				break;
			}
			produced = 1;
			continue;
		}
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == 0) {
			tb->tb_peer_closed = 1;
			event_active(tb->tb_kick, 0, 0);
		} else
			tlsbev_fail(tb, rc);
		break;
	}
	return (produced ? BEV_OK : BEV_NEED_MORE);
}

static enum bufferevent_filter_result
tlsbev_filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct tlsbev	*tb = arg;
	unsigned char	*p;
	size_t		 len, done = 0;
	int		 rc;

	if (tb->tb_state != TB_OPEN || tb->tb_closing)
		return (BEV_NEED_MORE);
	while ((len = evbuffer_get_length(src)) > 0 &&
	    (lim < 0 || done < (size_t)lim)) {
		if (len > TLSBEV_RECORD)
			len = TLSBEV_RECORD;
		if ((p = evbuffer_pullup(src, (ev_ssize_t)len)) == NULL) {
			tlsbev_fail(tb, MBEDTLS_ERR_SSL_ALLOC_FAILED);
			return (BEV_ERROR);
		}
		rc = mbedtls_ssl_write(&tb->tb_ssl, p, len);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		if (rc < 0) {
			tlsbev_fail(tb, rc);
			return (BEV_ERROR);
		}
		evbuffer_drain(src, (size_t)rc);
		done += (size_t)rc;
	}
	return (done > 0 ? BEV_OK : BEV_NEED_MORE);
}

/* The socket's output changed: after close_notify, shut once it is out. */
static void
tlsbev_outbuf(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct tlsbev	*tb = arg;

	if (!tb->tb_closing || tb->tb_shut || evbuffer_get_length(buf) != 0)
		return;
	if (shutdown(tb->tb_fd, SHUT_WR) == -1 &&
	    plat_sock_errno() != ENOTCONN)
		log_debug("tls shutdown: %s", plat_strerror(plat_sock_errno()));
	tb->tb_shut = 1;
	if (tb->tb_shut_cb != NULL)
		event_active(tb->tb_kick, 0, 0);
}

/*
 * Work left for the event loop, one piece a turn (each may run the
 * caller's callbacks, which may close the connection): the first flush
 * after the handshake, bytes read before the filter, the end of a
 * shutdown, an error or the peer's close_notify.
 */
static void
tlsbev_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tlsbev		*tb = arg;
	struct bufferevent	*bev = tb->tb_bev;
	bufferevent_event_cb	 eventcb;
	void			*cbarg;
	short			 ev;

	/* A freed bufferevent has no callbacks; it is finalised later. */
	bufferevent_getcb(bev, NULL, NULL, &eventcb, &cbarg);
	if (eventcb == NULL)
		return;
	if (tb->tb_flush) {
		tb->tb_flush = 0;
		if (tb->tb_state == TB_OPEN && !tb->tb_closing &&
		    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
			event_active(tb->tb_kick, 0, 0);
			bufferevent_flush(bev, EV_WRITE, BEV_NORMAL);
			return;
		}
	}
	if (tb->tb_reread) {
		tb->tb_reread = 0;
		if (tb->tb_state != TB_FAILED && !tb->tb_peer_closed &&
		    (bufferevent_get_enabled(bev) & EV_READ) &&
		    evbuffer_get_length(bufferevent_get_input(tb->tb_under)) >
		    0) {
			/* As if the socket had just read them. */
			event_active(tb->tb_kick, 0, 0);
			bufferevent_trigger(tb->tb_under, EV_READ, 0);
			return;
		}
	}
	if (tb->tb_tc != NULL && tb->tb_state == TB_OPEN && !tb->tb_told_open) {
		/* The client side: the handshake is done, the server's
		 * certificate verified. */
		tb->tb_told_open = 1;
		event_active(tb->tb_kick, 0, 0);
		eventcb(bev, BEV_EVENT_CONNECTED, cbarg);
		return;
	}
	if (tb->tb_shut && tb->tb_shut_cb != NULL && !tb->tb_shut_told) {
		tb->tb_shut_told = 1;
		event_active(tb->tb_kick, 0, 0);
		tb->tb_shut_cb(tb->tb_shut_arg);
		return;
	}
	if ((tb->tb_state == TB_FAILED || tb->tb_peer_closed) &&
	    !tb->tb_reported) {
		tb->tb_reported = 1;
		/* The alert mbedTLS queued goes out before the caller closes
		 * (best effort: one non-blocking write). */
		if (tb->tb_state == TB_FAILED)
			evbuffer_write(bufferevent_get_output(tb->tb_under),
			    tb->tb_fd);
		ev = BEV_EVENT_READING | (tb->tb_state == TB_FAILED ?
		    BEV_EVENT_ERROR : BEV_EVENT_EOF);
		eventcb(bev, ev, cbarg);
	}
}

static void
tlsbev_free(void *arg)
{
	struct tlsbev	*tb = arg;

	if (tb->tb_outcb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(tb->tb_under),
		    tb->tb_outcb);
	mbedtls_ssl_free(&tb->tb_ssl);
	if (tb->tb_kick != NULL)
		event_free(tb->tb_kick);
	tls_server_unref(tb->tb_ts);
	tls_client_free(tb->tb_tc);
	free(tb);
}

/*
 * A TLS filter on under, the bufferevent of socket fd, with the state tb
 * (whose configuration is conf): the plaintext bufferevent in *bevp owns
 * under and tb. Returns 0, or -1 with tb freed (under is left as it was).
 */
static int
tlsbev_filter(struct tlsbev *tb, struct bufferevent *under, int fd,
    const struct mbedtls_ssl_config *conf, struct bufferevent **bevp)
{
	struct bufferevent	*bev;

	tb->tb_under = under;
	tb->tb_fd = fd;
	tb->tb_kick = event_new(bufferevent_get_base(under), -1, 0,
	    tlsbev_kick_cb, tb);
	if (tb->tb_kick == NULL || mbedtls_ssl_setup(&tb->tb_ssl, conf) != 0) {
		tlsbev_free(tb);
		return (-1);
	}
	mbedtls_ssl_set_bio(&tb->tb_ssl, tb, tlsbev_send, tlsbev_recv, NULL);
	bev = bufferevent_filter_new(under, tlsbev_filter_in, tlsbev_filter_out,
	    BEV_OPT_CLOSE_ON_FREE, tlsbev_free, tb);
	if (bev == NULL) {
		tlsbev_free(tb);
		return (-1);
	}
	tb->tb_bev = bev;
	tb->tb_outcb = evbuffer_add_cb(bufferevent_get_output(under),
	    tlsbev_outbuf, tb);
	bufferevent_set_max_single_read(under, HG_RELAY_READ_MAX);
	/* The filter stops encrypting at the high mark and goes on when the
	 * socket has taken the output down to the low one. */
	bufferevent_setwatermark(under, EV_WRITE, HG_RELAY_LOW_WATER,
	    HG_RELAY_HIGH_WATER);
	*bevp = bev;
	return (0);
}

/*
 * Put TLS (server side, configuration ts) on under, the bufferevent of
 * socket fd; what under has read already is the start of the handshake.
 * Returns the TLS state and the plaintext bufferevent in *bevp, which owns
 * under and the state (freeing it frees all and closes fd); or NULL
 * (under is left as it was).
 */
struct tlsbev *
tlsbev_wrap(struct bufferevent *under, int fd, struct tls_server *ts,
    struct bufferevent **bevp)
{
	struct tlsbev		*tb;

	if ((tb = calloc(1, sizeof *tb)) == NULL)
		return (NULL);
	mbedtls_ssl_init(&tb->tb_ssl);
	tb->tb_ts = ts;
	tls_server_ref(ts);
	if (tlsbev_filter(tb, under, fd, tls_server_conf(ts), bevp) != 0)
		return (NULL);
	if (evbuffer_get_length(bufferevent_get_input(under)) > 0) {
		tb->tb_reread = 1;
		event_active(tb->tb_kick, 0, 0);
	}
	return (tb);
}

/*
 * Put TLS (client side, configuration tc) on under, the bufferevent of
 * socket fd connected to peer, and send the ClientHello. The server's
 * certificate must name peer's host or address. Returns the TLS state
 * and the plaintext bufferevent in *bevp as tlsbev_wrap() does; the
 * caller hears of the end of the handshake as BEV_EVENT_CONNECTED, of
 * its failure as BEV_EVENT_ERROR (tlsbev_error() says why).
 */
struct tlsbev *
tlsbev_wrap_client(struct bufferevent *under, int fd, struct tls_client *tc,
    const struct hg_target *peer, struct bufferevent **bevp)
{
	struct tlsbev		*tb;
	int			 rc;

	if ((tb = calloc(1, sizeof *tb)) == NULL)
		return (NULL);
	mbedtls_ssl_init(&tb->tb_ssl);
	tb->tb_tc = tc;
	tls_client_ref(tc);
	if (tlsbev_filter(tb, under, fd, tls_client_conf(tc), bevp) != 0)
		return (NULL);
	if (peer->t_kind == HG_HOST_NAME)
		rc = mbedtls_ssl_set_hostname(&tb->tb_ssl, peer->t_host);
	else {
		tb->tb_iplen = peer->t_kind == HG_HOST_IPV4 ? 4 : 16;
		memcpy(tb->tb_ip, peer->t_addr, tb->tb_iplen);
		rc = 0;
	}
	if (rc == 0)
		rc = mbedtls_ssl_handshake(&tb->tb_ssl);
	if (rc != 0 && rc != MBEDTLS_ERR_SSL_WANT_READ &&
	    rc != MBEDTLS_ERR_SSL_WANT_WRITE)
		tlsbev_fail(tb, rc);
	return (tb);
}

/* The handshake is done. */
int
tlsbev_open(const struct tlsbev *tb)
{
	return (tb->tb_state == TB_OPEN);
}

/* Why TLS failed (into buf), or NULL when it did not. */
const char *
tlsbev_error(const struct tlsbev *tb, char *buf, size_t len)
{
	char	ip[INET6_ADDRSTRLEN];
	size_t	n;

	if (tb->tb_state != TB_FAILED)
		return (NULL);
	if (tb->tb_err == TLSBEV_ERR_NAME) {
		inet_ntop(tb->tb_iplen == 4 ? AF_INET : AF_INET6, tb->tb_ip,
		    ip, sizeof ip);
		snprintf(buf, len, "the certificate does not name %s", ip);
		return (buf);
	}
	if (tb->tb_vflags != 0) {
		/* "certificate not verified: The certificate is ..." */
		n = (size_t)snprintf(buf, len, "certificate not verified: ");
		if (n < len && mbedtls_x509_crt_verify_info(buf + n, len - n,
		    "", tb->tb_vflags) > 0) {
			n = strlen(buf);
			while (n > 0 && buf[n - 1] == '\n')
				buf[--n] = '\0';
			while (n-- > 0)
				if (buf[n] == '\n')
					buf[n] = ';';
			return (buf);
		}
	}
	tls_strerror(tb->tb_err, buf, len);
	return (buf);
}

/*
 * Reading was enabled again: decrypt what the socket holds already (the
 * filter runs only when the socket reads).
 */
void
tlsbev_kick(struct tlsbev *tb)
{
	tb->tb_reread = 1;
	event_active(tb->tb_kick, 0, 0);
}

/*
 * No more plaintext goes out (the plaintext output is empty): send
 * close_notify and shut the socket's write side once everything is
 * written; then, from the event loop, done(arg) when it is not NULL.
 */
void
tlsbev_shutdown(struct tlsbev *tb, void (*done)(void *), void *arg)
{
	tb->tb_shut_cb = done;
	tb->tb_shut_arg = arg;
	if (tb->tb_closing) {
		if (tb->tb_shut && done != NULL)
			event_active(tb->tb_kick, 0, 0);
		return;
	}
	tb->tb_closing = 1;
	if (tb->tb_state == TB_OPEN)
		mbedtls_ssl_close_notify(&tb->tb_ssl);
	tlsbev_outbuf(bufferevent_get_output(tb->tb_under), NULL, tb);
}
