/*
 * admin.c -- what the proxy serves itself, to origin-form requests
 * ("GET /proxy.pac HTTP/1.1"): the PAC file (/proxy.pac, /wpad.dat), a
 * health check (/healthz), and for metrics.allow the counters (/metrics)
 * and the status page (/, its script and style, and its JSON, /api/...).
 * A pac.listen address serves the PAC file only, a metrics.listen address
 * all but the PAC file. Each answer closes the connection.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "conn.h"
#include "plat/plat.h"

static void
pac_unref(const void *data, size_t len, void *arg)
{
	config_unref(arg);
}

/*
 * The address a served PAC file names: the local address of the accepted
 * socket (what the client used to reach us), or on a pac.listen socket
 * that address with the port of the first proxy listener (its own
 * address when it is not a wildcard one).
 */
static void
pac_local_proxy(struct conn *c, char *out, size_t len)
{
	static const uint8_t	 none[16];
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof ss;
	const char		*l = c->cn_cfg->cf_listeners[0].li_addr;
	const uint8_t		*addr;
	uint16_t		 port;
	int			 family;

	memset(&ss, 0, sizeof ss);
	if (getsockname(bufferevent_getfd(c->cn_cli), (struct sockaddr *)&ss,
	    &sslen) != 0 || (family = conn_sockaddr((struct sockaddr *)&ss,
	    &addr, &port)) == 0) {
		family = 4;	/* 0.0.0.0:0 */
		addr = none;
		port = 0;
	}
	if (c->cn_pac_only) {
		port = c->cn_w->w_ops->wo_listen_port(0);
		if (strncmp(l, "0.0.0.0:", 8) != 0 &&
		    strncmp(l, "[::]:", 5) != 0) {
			snprintf(out, len, "%.*s:%u",
			    (int)(strrchr(l, ':') - l), l, port);
			return;
		}
	}
	conn_addr_text(family, addr, port, out, len);
}

/* Does If-None-Match name etag (or "*")? */
static int
pac_not_modified(const struct http_request *rq, const char *etag)
{
	const struct http_header	*hh;
	size_t				 i, n = strlen(etag);

	for (i = 0; i < rq->rq_nheaders; i++) {
		hh = &rq->rq_headers[i];
		if (!http_token_eq(hh->hh_name, hh->hh_namelen,
		    "if-none-match"))
			continue;
		if (memmem(hh->hh_value, hh->hh_valuelen, etag, n) != NULL ||
		    (hh->hh_valuelen == 1 && hh->hh_value[0] == '*'))
			return (1);
	}
	return (0);
}

/*
 * GET/HEAD /proxy.pac or /wpad.dat: the PAC file of the configuration
 * this connection runs with. Its body is built once per configuration
 * (main thread) and sent by reference; the line naming the proxy is the
 * only part made per request, and the ETag covers both.
 */
static void
serve_pac(struct conn *c, const struct http_request *rq)
{
	struct hg_config	*cf = c->cn_cfg;
	const struct hg_pac	*pac = cf->cf_pac;
	struct evbuffer		*out = bufferevent_get_output(c->cn_cli);
	char			 etag[64], name[80], *line, *one[1];
	int			 status;

	if (pac == NULL) {
		conn_respond_error(c, 404, "no PAC file", END_SERVED);
		return;
	}
	if (cf->cf_npac_proxy > 0)
		line = pac_proxy_line(cf->cf_pac_proxy, cf->cf_npac_proxy);
	else {
		pac_local_proxy(c, name, sizeof name);
		one[0] = name;
		line = pac_proxy_line(one, 1);
	}
	snprintf(etag, sizeof etag, "\"%s-%08x\"", pac->pc_digest,
	    (unsigned)(pac_fnv64(line, strlen(line)) & 0xffffffff));
	status = pac_not_modified(rq, etag) ? 304 : 200;
	c->cn_req.cr_status = status;
	c->cn_req.cr_end = END_SERVED;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status,
	    conn_status_text(status));
	if (status == 200)
		evbuffer_add_printf(out, "Content-Type: "
		    "application/x-ns-proxy-autoconfig\r\n"
		    "Content-Length: %zu\r\n", pac->pc_headlen + strlen(line) +
		    pac->pc_bodylen);
	evbuffer_add_printf(out, "ETag: %s\r\nCache-Control: max-age=%u\r\n"
	    "Connection: close\r\n\r\n", etag, cf->cf_pac_max_age);
	if (status == 200 && !c->cn_req.cr_is_head) {
		evbuffer_add(out, pac->pc_head, pac->pc_headlen);
		evbuffer_add(out, line, strlen(line));
		config_ref(cf);
		if (evbuffer_add_reference(out, pac->pc_body, pac->pc_bodylen,
		    pac_unref, cf) != 0)
			config_unref(cf);
	}
	free(line);
	conn_close_after_flush(c, cf->cf_timeout_request);
}

/* Is the path of rq's (origin-form) target path, with or without a
 * query? */
int
admin_path_is(const struct http_request *rq, const char *path)
{
	size_t	len = strlen(path);

	return (rq->rq_targetlen >= len && memcmp(rq->rq_target, path,
	    len) == 0 && (rq->rq_targetlen == len ||
	    rq->rq_target[len] == '?'));
}

/* May c read /metrics and the status page (metrics.allow)? If not, it
 * has its 403. */
static int
metrics_allowed(struct conn *c)
{
	if (cidr_list_match(c->cn_cfg->cf_metrics_allow,
	    c->cn_cfg->cf_nmetrics_allow, c->cn_family, c->cn_addr))
		return (1);
	conn_respond_error(c, 403, "metrics: client address not in "
	    "metrics.allow", END_SERVED);
	return (0);
}

/* Send status and body (of type ctype, with the headers of every status
 * page answer and extra ones), then close. */
static void
send_body(struct conn *c, int status, const char *ctype, const char *extra,
    struct evbuffer *body)
{
	struct evbuffer	*out = bufferevent_get_output(c->cn_cli);

	c->cn_req.cr_status = status;
	c->cn_req.cr_end = END_SERVED;
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: no-referrer\r\n%sConnection: close\r\n\r\n",
	    status, conn_status_text(status), ctype,
	    evbuffer_get_length(body), extra != NULL ? extra : "");
	if (!c->cn_req.cr_is_head)
		evbuffer_add_buffer(out, body);
	conn_close_after_flush(c, c->cn_cfg->cf_timeout_request);
}

/* The JSON API of the status page: /api/status, /api/recent,
 * /api/explain (statusapi.c). */
static const struct api {
	const char	*a_path;
	int		(*a_fn)(struct conn *, const char *, size_t,
			    struct evbuffer *);
} apis[] = {
	{ "/api/status", statusapi_status },
	{ "/api/recent", statusapi_recent },
	{ "/api/explain", statusapi_explain },
};

static const struct api *
api_find(const struct http_request *rq)
{
	size_t	i;

	for (i = 0; i < sizeof apis / sizeof apis[0]; i++)
		if (admin_path_is(rq, apis[i].a_path))
			return (&apis[i]);
	return (NULL);
}

static void
serve_api(struct conn *c, const struct http_request *rq,
    const struct api *a)
{
	struct evbuffer	*body;
	const char	*q;
	size_t		 plen = strlen(a->a_path), qlen = 0;
	int		 status;

	if (!metrics_allowed(c))
		return;
	if ((body = evbuffer_new()) == NULL) {
		conn_close(c, END_ERROR);
		return;
	}
	q = rq->rq_target + plen;
	if (rq->rq_targetlen > plen) {
		q++;	/* the '?' */
		qlen = rq->rq_targetlen - plen - 1;
	}
	status = a->a_fn(c, q, qlen, body);
	send_body(c, status, "application/json", NULL, body);
	evbuffer_free(body);
}

/* What the page may load: its own script and style, its own JSON. */
#define STATUS_CSP	"Content-Security-Policy: default-src 'none'; " \
	"script-src 'self'; style-src 'self'; connect-src 'self'; " \
	"img-src 'self'; base-uri 'none'; form-action 'none'; " \
	"frame-ancestors 'none'\r\n"

static const struct statuspage_file *
page_find(const struct http_request *rq)
{
	const struct statuspage_file	*f;

	for (f = statuspage_files; f->sp_path != NULL; f++)
		if (admin_path_is(rq, f->sp_path))
			return (f);
	return (NULL);
}

/* GET /, /status.css, /status.js: the status page, compiled in. */
static void
serve_page(struct conn *c, const struct statuspage_file *f)
{
	struct evbuffer	*body;

	if (!metrics_allowed(c))
		return;
	if ((body = evbuffer_new()) == NULL ||
	    evbuffer_add_reference(body, f->sp_body, f->sp_len, NULL,
	    NULL) != 0) {
		if (body != NULL)
			evbuffer_free(body);
		conn_close(c, END_ERROR);
		return;
	}
	send_body(c, 200, f->sp_type, STATUS_CSP, body);
	evbuffer_free(body);
}

/* GET /metrics, for the addresses in metrics.allow (loopback by default). */
static void
serve_metrics(struct conn *c)
{
	struct evbuffer		*body, *out;
	struct wstats		*sum = NULL;
	struct auth_counts	 ac;
	struct ldap_counts	 lk;
	unsigned		 open;

	if (!metrics_allowed(c))
		return;
	if ((body = evbuffer_new()) == NULL ||
	    (sum = calloc(1, sizeof *sum)) == NULL) {
		if (body != NULL)
			evbuffer_free(body);
		conn_close(c, END_ERROR);
		return;
	}
	open = c->cn_w->w_ops->wo_sum_stats(sum);
	auth_counts(&ac);
	ldapgroups_counts(&lk);
	metrics_render(body, c->cn_cfg, sum, open, &ac, &lk);
	free(sum);
	c->cn_req.cr_status = 200;
	c->cn_req.cr_end = END_SERVED;
	out = bufferevent_get_output(c->cn_cli);
	evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n\r\n", evbuffer_get_length(body));
	if (!c->cn_req.cr_is_head)
		evbuffer_add_buffer(out, body);
	evbuffer_free(body);
	conn_close_after_flush(c, c->cn_cfg->cf_timeout_request);
}

/*
 * A request to the proxy itself (an origin-form target: request.c): the
 * PAC file, /healthz, /metrics, as the listener it came on allows.
 * Never recorded.
 */
void
admin_request(struct conn *c, const struct http_request *rq)
{
	const struct api		*a = api_find(rq);
	const struct statuspage_file	*f = page_find(rq);
	int				 get;

	c->cn_req.cr_nolog = 1;
	c->cn_req.cr_is_head = http_method_is(rq, "HEAD");
	get = http_method_is(rq, "GET") || c->cn_req.cr_is_head;
	if (get && c->cn_admin_only && !admin_path_is(rq, "/metrics") &&
	    !admin_path_is(rq, "/healthz") && a == NULL && f == NULL) {
		conn_respond_error(c, 404, "this address serves /metrics, "
		    "/healthz and the status page only", END_SERVED);
		return;
	}
	if ((a != NULL || f != NULL) && !c->cn_pac_only) {
		if (!c->cn_cfg->cf_status)
			conn_respond_error(c, 404, "the status page is off "
			    "(metrics.status)", END_SERVED);
		else if (get && a != NULL)
			serve_api(c, rq, a);
		else if (get)
			serve_page(c, f);
		else
			conn_respond(c, 405, "Allow: GET, HEAD\r\n", NULL,
			    "hushgate: the status page only reads\n",
			    END_SERVED, 0);
		return;
	}
	if (get && (admin_path_is(rq, "/proxy.pac") ||
	    admin_path_is(rq, "/wpad.dat"))) {
		serve_pac(c, rq);
		return;
	}
	if (get && !c->cn_pac_only && admin_path_is(rq, "/healthz")) {
		conn_respond(c, 200, NULL, NULL, "ok\n", END_SERVED, 0);
		return;
	}
	if (get && !c->cn_pac_only && admin_path_is(rq, "/metrics")) {
		serve_metrics(c);
		return;
	}
	conn_respond_error(c, 404, "not found", END_SERVED);
}
