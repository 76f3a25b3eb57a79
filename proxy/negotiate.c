/*
 * negotiate.c -- Kerberos single sign-on for proxy authentication
 * (auth.negotiate): HTTP Negotiate (RFC 4559) with MIT's GSS-API, as
 * Squid's negotiate_kerberos_auth does it.
 *
 * The credentials of a configuration, from its keytab, and the replay
 * cache are negoload.c's.
 *
 * gss_accept_sec_context() decrypts a ticket and checks the replay cache
 * (a file lock and write): it runs on threads of our own (NEGO_THREADS),
 * never on a worker's loop. A request with a token waits (CS_AUTH) with a
 * copy of its head; the answer is posted back to its worker's loop, which
 * takes the request up again (its resume function) and comes back here to
 * find it. MIT's credential is locked for the whole of an accept, so each
 * thread has a credential of its own. At most NEGO_MAX_INFLIGHT tokens are
 * queued or being checked, NEGO_MAX_CLIENT of them for one client
 * address; over that, 503 at once (auth_busy).
 *
 * Authentication is per connection, as browsers expect of Negotiate: a
 * connection whose token was accepted keeps its user (the client
 * principal, alice@EXAMPLE.ORG, its realm kept unless strip_realm) for
 * its later requests, which need no token; a new connection needs a new
 * handshake. A handshake that needs another leg (GSS_S_CONTINUE_NEEDED)
 * gets 407 with the server's token, and its context stays with the
 * connection. The acceptor's last token (mutual authentication) goes with
 * the answer where the proxy writes one: CONNECT's 200. A failure counts
 * for the client address as Basic's do (authlimit.c), with a termination
 * code that says why where it is known: auth_ticket_expired, auth_replay,
 * auth_wrong_service, else auth_failed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

#ifdef HAVE_GSSAPI

#include <pthread.h>
#include <signal.h>

#include <event2/event.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>

#include "rules/rules.h"
#include "negotiate.h"

#define NEGO_MAX_INFLIGHT	64	/* tokens queued or being checked ... */
#define NEGO_MAX_CLIENT		4	/* ... of them for one address */
#define NEGO_MAX_TOKEN		HG_MAX_REQUEST_HEAD	/* decoded, bytes */
#define NEGO_MAX_REPLY		768	/* base64 of a token we send */

enum { NJ_QUEUED = 0, NJ_RUNNING, NJ_POSTED };
enum { NR_OK = 0, NR_CONTINUE, NR_FAIL };

/*
 * One token to accept. The pool reads what the worker wrote before
 * queueing it and writes the answer before posting it back; fields
 * marked nego_mtx are shared.
 */
struct nego_job {
	struct nego_job		*nj_next;	/* pool, ns_done (nego_mtx) */
	int			 nj_state;	/* nego_mtx */
	struct conn		*nj_conn;	/* NULL: it left (nego_mtx) */
	struct nego_state	*nj_ns;		/* the worker's, to post to */
	struct hg_config	*nj_cf;		/* a reference: credentials */
	auth_resume_fn		 nj_resume;
	char			*nj_head;	/* a copy of the request head */
	size_t			 nj_headlen;
	gss_ctx_id_t		 nj_ctx;	/* the handshake so far */
	gss_buffer_desc		 nj_in;		/* the token */
	int			 nj_family;	/* the client's address */
	uint8_t			 nj_addr[16];
	char			 nj_client[46];
	/* the answer */
	int			 nj_result;	/* NR_ */
	enum conn_end		 nj_end;	/* NR_FAIL */
	char			 nj_user[HG_MAX_USER + 1];	/* NR_OK */
	char			 nj_out[NEGO_MAX_REPLY + 1];	/* base64 */
	char			 nj_why[256];
};

/* A worker's: the answers posted back to its loop. */
struct nego_state {
	struct event		*ns_ev;
	struct nego_job		*ns_done;	/* nego_mtx */
};

/* A connection's (cn_nego), the worker's alone. */
struct nego_conn {
	gss_ctx_id_t		 nc_ctx;	/* a handshake that goes on */
	struct nego_job		*nc_job;	/* queued, running or posted */
	struct nego_job		*nc_answer;	/* for the request taken up */
	char			 nc_user[HG_MAX_USER + 1]; /* "": none yet */
	char			 nc_reply[NEGO_MAX_REPLY + 48]; /* for 200 */
};

static pthread_mutex_t	 nego_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 nego_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t	 nego_once = PTHREAD_ONCE_INIT;
static struct nego_job	*nego_jobs;	/* queued or running, oldest first */
static unsigned		 nego_njobs;

/* The text of a GSS-API status (major, and the mechanism's minor). */
void
nego_status_text(OM_uint32 major, OM_uint32 minor, char *out, size_t n)
{
	OM_uint32	 min, ctx;
	gss_buffer_desc	 b;
	size_t		 o = 0;
	int		 pass, type;

	out[0] = '\0';
	for (pass = 0; pass < 2; pass++) {
		type = pass == 0 ? GSS_C_GSS_CODE : GSS_C_MECH_CODE;
		if ((pass == 0 ? major : minor) == 0)
			continue;
		ctx = 0;
		do {
			if (GSS_ERROR(gss_display_status(&min, pass == 0 ?
			    major : minor, type, GSS_C_NO_OID, &ctx, &b)))
				break;
			if (o < n)
				o += (size_t)snprintf(out + o, n - o, "%s%.*s",
				    o ? ": " : "", (int)b.length,
				    (const char *)b.value);
			gss_release_buffer(&min, &b);
		} while (ctx != 0);
	}
}

/* The first message of a mechanism's status code (mech: NULL, any). */
static void
mech_text(OM_uint32 code, gss_OID mech, char *out, size_t n)
{
	OM_uint32	 min, ctx = 0;
	gss_buffer_desc	 b;

	out[0] = '\0';
	if (GSS_ERROR(gss_display_status(&min, code, GSS_C_MECH_CODE,
	    mech, &ctx, &b)))
		return;
	snprintf(out, n, "%.*s", (int)b.length, (const char *)b.value);
	gss_release_buffer(&min, &b);
}

/*
 * Is the minor status of a failed accept (on this thread, just now) the
 * Kerberos error code? Through SPNEGO, the mechanism glue hands back a
 * number of its own for the Kerberos mechanism's code (MIT maps each
 * mechanism's codes apart), so the code is compared by its message: the
 * Kerberos mechanism keeps the message of this thread's last error with
 * its code, and gives it for that code alone.
 */
static int
minor_is(OM_uint32 minor, const char *text, krb5_error_code code)
{
	char	t[256];

	if (minor == (OM_uint32)code)
		return (1);
	mech_text((OM_uint32)code, gss_mech_krb5, t, sizeof t);
	return (t[0] != '\0' && strcmp(t, text) == 0);
}

/* The termination code of a failed accept, by the Kerberos error. */
static enum conn_end
gss_end(OM_uint32 major, OM_uint32 minor)
{
	static const krb5_error_code wrong[] = {
		KRB5KRB_AP_WRONG_PRINC, KRB5KRB_AP_ERR_NOT_US,
		KRB5KRB_AP_ERR_NOKEY, KRB5KRB_AP_ERR_BADKEYVER,
		KRB5KRB_AP_ERR_BAD_INTEGRITY, KRB5_KT_NOTFOUND,
		KRB5_KT_KVNONOTFOUND, KRB5KRB_AP_ERR_BADMATCH
	};
	char		 text[256];
	size_t		 i;

	if (GSS_ROUTINE_ERROR(major) == GSS_S_CREDENTIALS_EXPIRED)
		return (END_AUTH_EXPIRED);
	if (GSS_SUPPLEMENTARY_INFO(major) &
	    (GSS_S_DUPLICATE_TOKEN | GSS_S_OLD_TOKEN))
		return (END_AUTH_REPLAY);
	if (minor == 0)
		return (END_AUTH_FAILED);
	mech_text(minor, GSS_C_NO_OID, text, sizeof text);
	if (minor_is(minor, text, KRB5KRB_AP_ERR_TKT_EXPIRED))
		return (END_AUTH_EXPIRED);
	if (minor_is(minor, text, KRB5KRB_AP_ERR_REPEAT))
		return (END_AUTH_REPLAY);
	for (i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
		if (minor_is(minor, text, wrong[i]))
			return (END_AUTH_WRONG_SERVICE);
	return (END_AUTH_FAILED);
}

/* The name a client principal is logged and matched as: its realm kept,
 * or cut (strip); no control character. Returns 0 or -1 with why. */
static int
principal_user(const gss_buffer_desc *b, int strip, char *user, size_t n,
    char *why, size_t whyn)
{
	size_t	len = b->length, i;
	const char *s = b->value;

	if (strip)
		for (i = len; i > 0; i--)
			if (s[i - 1] == '@' && (i < 2 || s[i - 2] != '\\')) {
				len = i - 1;
				break;
			}
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			break;
	if (len == 0 || len >= n || i < len) {
		snprintf(why, whyn, "client principal %s", len >= n ?
		    "name too long" : "name not printable");
		return (-1);
	}
	memcpy(user, s, len);
	user[len] = '\0';
	return (0);
}

/* Accept j's token with cred; the answer into j (a thread of the pool). */
static void
job_accept(struct nego_job *j, gss_cred_id_t cred)
{
	OM_uint32	 major, minor, min;
	gss_buffer_desc	 out = GSS_C_EMPTY_BUFFER, name = GSS_C_EMPTY_BUFFER;
	gss_name_t	 src = GSS_C_NO_NAME;

	major = gss_accept_sec_context(&minor, &j->nj_ctx, cred, &j->nj_in,
	    GSS_C_NO_CHANNEL_BINDINGS, &src, NULL, &out, NULL, NULL, NULL);
	if (out.length > 0 && base64_encode(out.value, out.length, j->nj_out,
	    sizeof j->nj_out) == 0) {
		j->nj_out[0] = '\0';
		if (major == GSS_S_CONTINUE_NEEDED) {
			major = GSS_S_FAILURE;
			minor = 0;
			snprintf(j->nj_why, sizeof j->nj_why, "the acceptor's "
			    "token is too long to send");
		}
	}
	gss_release_buffer(&min, &out);
	if (GSS_ERROR(major)) {
		j->nj_result = NR_FAIL;
		j->nj_end = gss_end(major, minor);
		if (j->nj_why[0] == '\0')
			nego_status_text(GSS_ROUTINE_ERROR(major) == GSS_S_FAILURE &&
			    minor != 0 ? 0 : major, minor, j->nj_why,
			    sizeof j->nj_why);
	} else if (major & GSS_S_CONTINUE_NEEDED) {
		j->nj_result = NR_CONTINUE;
		goto out;
	} else if (GSS_ERROR(gss_display_name(&min, src, &name, NULL))) {
		j->nj_result = NR_FAIL;
		j->nj_end = END_AUTH_FAILED;
		snprintf(j->nj_why, sizeof j->nj_why, "no client name");
	} else if (principal_user(&name, j->nj_cf->cf_nego_strip_realm,
	    j->nj_user, sizeof j->nj_user, j->nj_why, sizeof j->nj_why) != 0) {
		j->nj_result = NR_FAIL;
		j->nj_end = END_AUTH_FAILED;
	} else
		j->nj_result = NR_OK;
	gss_release_buffer(&min, &name);
	if (j->nj_ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &j->nj_ctx, GSS_C_NO_BUFFER);
out:
	if (src != GSS_C_NO_NAME)
		gss_release_name(&min, &src);
}

static void
job_free(struct nego_job *j)
{
	OM_uint32	min;

	if (j->nj_ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &j->nj_ctx, GSS_C_NO_BUFFER);
	free(j->nj_in.value);
	if (j->nj_head != NULL) {
		explicit_bzero(j->nj_head, j->nj_headlen);
		free(j->nj_head);
	}
	config_unref(j->nj_cf);
	free(j);
}

/* A log line for a failed handshake; a failure of the address. */
static void
job_failed(const struct nego_job *j, const char *more)
{
	log_info("%s: proxy authentication failed for user '-': Negotiate: "
	    "%s%s", j->nj_client, j->nj_why, more);
	auth_limit_fail(j->nj_cf->cf_auth_max_failures,
	    j->nj_cf->cf_auth_fail_window, j->nj_family, j->nj_addr);
}

/* The answer of a token that no request waits for any more (the client
 * closed): a failure still counts, a success clears the count. */
static void
job_settle(struct nego_job *j)
{
	if (j->nj_result == NR_FAIL)
		job_failed(j, " (the client did not wait)");
	else if (j->nj_result == NR_OK)
		auth_limit_forget(j->nj_family, j->nj_addr);
}

/*
 * A thread of the pool: accept the oldest queued token with this
 * thread's credential of the job's configuration, then post the answer
 * to the worker whose request waits for it, or settle it when none does.
 */
static void *
pool_main(void *arg)
{
	struct nego_job		*j, **pp;
	struct nego_state	*ns;
	int			 t = (int)(intptr_t)arg;

	for (;;) {
		pthread_mutex_lock(&nego_mtx);
		for (;;) {
			for (j = nego_jobs; j != NULL &&
			    j->nj_state != NJ_QUEUED; j = j->nj_next)
				;
			if (j != NULL)
				break;
			pthread_cond_wait(&nego_cond, &nego_mtx);
		}
		j->nj_state = NJ_RUNNING;
		pthread_mutex_unlock(&nego_mtx);

		job_accept(j, j->nj_cf->cf_nego->ng_cred[t]);

		pthread_mutex_lock(&nego_mtx);
		for (pp = &nego_jobs; *pp != j; pp = &(*pp)->nj_next)
			;
		*pp = j->nj_next;
		nego_njobs--;
		j->nj_state = NJ_POSTED;
		if (j->nj_conn != NULL) {
			ns = j->nj_ns;
			j->nj_next = ns->ns_done;
			ns->ns_done = j;
			event_active(ns->ns_ev, 0, 0);
			j = NULL;
		}
		pthread_mutex_unlock(&nego_mtx);
		if (j != NULL) {
			job_settle(j);
			job_free(j);
		}
	}
	return (NULL);
}

static void
pool_start(void)
{
	sigset_t	all, old;
	pthread_t	t;
	int		i;

	/* Signals are the main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < NEGO_THREADS; i++) {
		if (pthread_create(&t, NULL, pool_main, (void *)(intptr_t)i) !=
		    0)
			fatalx("cannot start a Kerberos thread");
		pthread_detach(t);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/*
 * Answers are in (posted by the pool, on the worker's loop): take up
 * again each request that waited, with its answer in nc_answer for
 * negotiate_request(). The job (and the head the request is parsed
 * from) lives until its request is done with it.
 */
static void
nego_done(evutil_socket_t fd, short what, void *arg)
{
	struct worker		*w = arg;
	struct nego_state	*ns = w->w_nego;
	struct nego_job		*jobs, *j;
	struct conn		*c;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&nego_mtx);
	jobs = ns->ns_done;
	ns->ns_done = NULL;
	pthread_mutex_unlock(&nego_mtx);
	while ((j = jobs) != NULL) {
		jobs = j->nj_next;
		/* negotiate_cancel() clears nj_conn of one posted: this
		 * loop runs on the same thread */
		if ((c = j->nj_conn) == NULL) {
			job_settle(j);
			job_free(j);
			continue;
		}
		c->cn_nego->nc_job = NULL;
		c->cn_nego->nc_answer = j;
		j->nj_resume(c, j->nj_head, j->nj_headlen);
		/* c may be gone now */
		job_free(j);
	}
}

/* The worker's state, made on first use; NULL when out of memory. */
static struct nego_state *
nego_state(struct worker *w)
{
	struct nego_state	*ns;

	if ((ns = w->w_nego) != NULL)
		return (ns);
	if ((ns = calloc(1, sizeof *ns)) == NULL)
		return (NULL);
	/* On memory of ours, not event_new(): it outlives the base
	 * (negotiate_state_free()). */
	if ((ns->ns_ev = calloc(1, event_get_struct_event_size())) == NULL ||
	    event_assign(ns->ns_ev, w->w_base, -1, 0, nego_done, w) != 0) {
		free(ns->ns_ev);
		free(ns);
		return (NULL);
	}
	return (w->w_nego = ns);
}

/* After the worker's loop is over: no connection is left to wait for an
 * answer, so none is posted any more. */
void
negotiate_state_free(struct worker *w)
{
	struct nego_state	*ns = w->w_nego;
	struct nego_job		*j;

	if (ns == NULL)
		return;
	pthread_mutex_lock(&nego_mtx);
	while ((j = ns->ns_done) != NULL) {
		ns->ns_done = j->nj_next;
		job_free(j);
	}
	pthread_mutex_unlock(&nego_mtx);
	free(ns->ns_ev);
	free(ns);
	w->w_nego = NULL;
}

/*
 * c closes, or stops waiting: let go of its token (one still queued is
 * dropped; one being checked, or checked and not yet taken, is settled
 * without it), its handshake and its user.
 */
void
negotiate_cancel(struct conn *c)
{
	struct nego_conn	*nc = c->cn_nego;
	struct nego_job		*j, **pp, *drop = NULL;
	OM_uint32		 min;

	if (nc == NULL)
		return;
	c->cn_nego = NULL;
	if ((j = nc->nc_job) != NULL) {
		pthread_mutex_lock(&nego_mtx);
		if (j->nj_state == NJ_QUEUED) {
			for (pp = &nego_jobs; *pp != j; pp = &(*pp)->nj_next)
				;
			*pp = j->nj_next;
			nego_njobs--;
			drop = j;
		} else
			j->nj_conn = NULL;
		pthread_mutex_unlock(&nego_mtx);
		if (drop != NULL)
			job_free(drop);
	}
	/* nc_answer is nego_done()'s, which frees it */
	if (nc->nc_ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &nc->nc_ctx, GSS_C_NO_BUFFER);
	free(nc);
}

/* The header line for CONNECT's 200 ("" when none): the acceptor's last
 * token of the handshake that authenticated this request. */
const char *
negotiate_reply(struct conn *c)
{
	return (c->cn_nego != NULL ? c->cn_nego->nc_reply : "");
}

/*
 * Queue token (len bytes, Negotiate's, from c's request) for the pool,
 * and take the request up again with resume when it is answered; head
 * (headlen bytes) is the request head, copied. Returns 0 with c waiting
 * (CS_AUTH), -1 when over a bound of tokens in flight, -2 when out of
 * memory.
 */
static int
nego_submit(struct conn *c, struct nego_conn *nc, const char *token,
    size_t len, const char *head, size_t headlen, auth_resume_fn resume)
{
	struct nego_state	*ns;
	struct nego_job		*j, **tail;
	size_t			 alen = c->cn_family == 4 ? 4 : 16;
	unsigned		 mine = 0;

	if ((ns = nego_state(c->cn_w)) == NULL ||
	    (j = calloc(1, sizeof *j)) == NULL)
		return (-2);
	if ((j->nj_in.value = malloc(len)) == NULL ||
	    (j->nj_head = malloc(headlen)) == NULL) {
		free(j->nj_in.value);
		free(j);
		return (-2);
	}
	memcpy(j->nj_in.value, token, len);
	j->nj_in.length = len;
	memcpy(j->nj_head, head, headlen);
	j->nj_headlen = headlen;
	j->nj_ns = ns;
	j->nj_conn = c;
	j->nj_resume = resume;
	config_ref(c->cn_cfg);
	j->nj_cf = c->cn_cfg;
	j->nj_ctx = nc->nc_ctx;		/* a handshake goes on, or none */
	j->nj_family = c->cn_family;
	memcpy(j->nj_addr, c->cn_addr, sizeof j->nj_addr);
	snprintf(j->nj_client, sizeof j->nj_client, "%s", c->cn_client);

	pthread_once(&nego_once, pool_start);
	pthread_mutex_lock(&nego_mtx);
	for (tail = &nego_jobs; *tail != NULL; tail = &(*tail)->nj_next)
		if ((*tail)->nj_family == c->cn_family &&
		    memcmp((*tail)->nj_addr, c->cn_addr, alen) == 0)
			mine++;
	if (nego_njobs >= NEGO_MAX_INFLIGHT || mine >= NEGO_MAX_CLIENT) {
		pthread_mutex_unlock(&nego_mtx);
		j->nj_ctx = GSS_C_NO_CONTEXT;	/* still the connection's */
		job_free(j);
		return (-1);
	}
	*tail = j;
	nego_njobs++;
	pthread_cond_signal(&nego_cond);
	pthread_mutex_unlock(&nego_mtx);
	nc->nc_ctx = GSS_C_NO_CONTEXT;		/* the job's now */
	nc->nc_job = j;
	c->cn_state = CS_AUTH;
	return (0);
}

/*
 * The answer of the token c's request waited for (nego_done() set it):
 * the verdict. A handshake that goes on keeps its context; a success
 * makes the connection's user.
 */
static enum auth_verdict
nego_answer(struct conn *c, struct nego_conn *nc, const struct http_request *rq,
    struct auth_answer *aa)
{
	struct nego_job		*j = nc->nc_answer;
	enum body_kind		 body;
	uint64_t		 blen;
	const char		*why;
	enum auth_verdict	 v;

	nc->nc_answer = NULL;
	switch (j->nj_result) {
	case NR_OK:
		auth_limit_forget(c->cn_family, c->cn_addr);
		snprintf(nc->nc_user, sizeof nc->nc_user, "%s", j->nj_user);
		if (j->nj_out[0] != '\0')
			snprintf(nc->nc_reply, sizeof nc->nc_reply,
			    "Proxy-Authenticate: Negotiate %s\r\n", j->nj_out);
		snprintf(c->cn_req.cr_user, sizeof c->cn_req.cr_user, "%s",
		    nc->nc_user);
		return (AUTH_ALLOW);
	case NR_CONTINUE:
		nc->nc_ctx = j->nj_ctx;
		j->nj_ctx = GSS_C_NO_CONTEXT;
		v = auth_challenge(c, aa, "proxy authentication continues",
		    END_AUTH_REQUIRED, j->nj_out);
		/* the next leg comes on this connection: it stays open when
		 * no body of this request is left to read */
		aa->aa_keep = http_request_framing(rq, &body, &blen, &why) ==
		    0 && (body == BODY_NONE ||
		    (body == BODY_LENGTH && blen == 0));
		return (v);
	default:
		job_failed(j, "");
		return (auth_challenge(c, aa, "proxy authentication failed",
		    j->nj_end, NULL));
	}
}

/*
 * The Negotiate side of auth_request(): h is the request's
 * Proxy-Authorization header or NULL. Returns AUTH_NEXT when it is no
 * Negotiate token and the connection has no user, and Basic is
 * configured too; else the verdict (AUTH_PENDING: the token is being
 * checked, resume takes the request up again).
 */
enum auth_verdict
negotiate_request(struct conn *c, const struct http_request *rq,
    const struct http_header *h, const char *head, size_t headlen,
    auth_resume_fn resume, struct auth_answer *aa)
{
	const struct hg_config	*cf = c->cn_cfg;
	struct nego_conn	*nc = c->cn_nego;
	char			*tok;
	const char		*why = NULL;
	ssize_t			 n = 0;
	unsigned		 left;
	int			 r;

	if (nc != NULL && nc->nc_answer != NULL)
		return (nego_answer(c, nc, rq, aa));
	if (nc != NULL)
		nc->nc_reply[0] = '\0';
	if (h != NULL) {
		if ((tok = malloc(NEGO_MAX_TOKEN)) == NULL)
			return (auth_nomem(c, aa));
		n = negotiate_decode(h->hh_value, h->hh_valuelen, tok,
		    NEGO_MAX_TOKEN, &why);
	} else
		tok = NULL;
	if (n == 0) {
		free(tok);
		tok = NULL;
		if (nc != NULL && nc->nc_user[0] != '\0') {
			/* the connection's handshake is done: no token */
			snprintf(c->cn_req.cr_user, sizeof c->cn_req.cr_user,
			    "%s", nc->nc_user);
			return (AUTH_ALLOW);
		}
		if (cf->cf_auth_basic)
			return (AUTH_NEXT);
		if (h == NULL)
			return (auth_challenge(c, aa, "proxy authentication "
			    "required", END_AUTH_REQUIRED, NULL));
		why = "not the Negotiate scheme";
	}
	/* A token: a new handshake, or the next leg of one. */
	if (nc == NULL && (nc = c->cn_nego = calloc(1, sizeof *nc)) == NULL) {
		free(tok);
		return (auth_nomem(c, aa));
	}
	nc->nc_user[0] = '\0';
	if ((left = auth_limit_check(c->cn_family, c->cn_addr)) != 0) {
		free(tok);
		return (auth_blocked(c, aa, left));
	}
	if (n <= 0) {
		free(tok);
		log_info("%s: proxy authentication failed for user '-': %s",
		    c->cn_client, why);
		auth_limit_fail(cf->cf_auth_max_failures,
		    cf->cf_auth_fail_window, c->cn_family, c->cn_addr);
		return (auth_challenge(c, aa, "proxy authentication failed",
		    END_AUTH_FAILED, NULL));
	}
	r = nego_submit(c, nc, tok, (size_t)n, head, headlen, resume);
	free(tok);
	if (r == 0)
		return (AUTH_PENDING);
	if (r == -2)
		return (auth_nomem(c, aa));
	log_info("%s: proxy authentication refused: too many Kerberos "
	    "checks in progress", c->cn_client);
	return (auth_deny(aa, 503, END_AUTH_BUSY, "Retry-After: 1\r\n",
	    "too many authentication checks in progress, try again"));
}

#else /* !HAVE_GSSAPI: the configuration refuses auth.negotiate */

enum auth_verdict
negotiate_request(struct conn *c, const struct http_request *rq,
    const struct http_header *h, const char *head, size_t headlen,
    auth_resume_fn resume, struct auth_answer *aa)
{
	return (AUTH_NEXT);
}

void
negotiate_cancel(struct conn *c)
{
}

void
negotiate_state_free(struct worker *w)
{
}

const char *
negotiate_reply(struct conn *c)
{
	return ("");
}

#endif /* HAVE_GSSAPI */
