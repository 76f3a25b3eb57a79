/*
 * control.c -- the control socket: a Unix stream socket (control.socket)
 * made at start, before root is dropped, and served on the main loop for
 * `hushgate ctl`. A client sends one request line,
 *
 *	status | reload | pause CATEGORY DURATION | resume CATEGORY |
 *	lists-update
 *
 * and reads the reply up to the end of the stream: a first line "ok" or
 * "error", then lines of details. Whoever may open the socket (its file
 * mode and group) may do all of it.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "proxy.h"
#include "download/download.h"

struct ctlconn {
	struct ctlconn		*cc_next;
	struct control		*cc_ctl;
	struct bufferevent	*cc_bev;
	int			 cc_done;	/* replied: close when sent */
};

struct control {
	struct event_base	*ct_base;
	const struct control_ops *ct_ops;
	void			*ct_arg;
	int			 ct_fd;
	char			*ct_path;
	dev_t			 ct_dev;	/* the socket file we made */
	ino_t			 ct_ino;
	struct event		*ct_ev;
	struct ctlconn		*ct_conns;
	unsigned		 ct_nconns;
};

#define CTL_MAX_WORDS	4

/* Close c and forget it. */
static void
ctlconn_free(struct ctlconn *c)
{
	struct ctlconn	**pp;

	for (pp = &c->cc_ctl->ct_conns; *pp != NULL; pp = &(*pp)->cc_next)
		if (*pp == c) {
			*pp = c->cc_next;
			break;
		}
	c->cc_ctl->ct_nconns--;
	bufferevent_free(c->cc_bev);
	free(c);
}

/* Reply on c: "ok" or "error", then the lines of body; then close. */
static void
reply(struct ctlconn *c, int ok, struct evbuffer *body)
{
	struct evbuffer	*out = bufferevent_get_output(c->cc_bev);

	evbuffer_add_printf(out, "%s\n", ok ? "ok" : "error");
	if (body != NULL)
		evbuffer_add_buffer(out, body);
	c->cc_done = 1;
	bufferevent_disable(c->cc_bev, EV_READ);
	bufferevent_enable(c->cc_bev, EV_WRITE);
}

static void
reply_error(struct ctlconn *c, const char *fmt, ...)
	__attribute__((format(HG_PRINTF, 2, 3)));

static void
reply_error(struct ctlconn *c, const char *fmt, ...)
{
	struct evbuffer	*b;
	va_list		 ap;

	if ((b = evbuffer_new()) == NULL) {
		reply(c, 0, NULL);
		return;
	}
	va_start(ap, fmt);
	evbuffer_add_vprintf(b, fmt, ap);
	va_end(ap);
	evbuffer_add(b, "\n", 1);
	reply(c, 0, b);
	evbuffer_free(b);
}

/* A duration of ms as "1h2m3s". */
static void
fmt_duration(char *buf, size_t len, uint64_t ms)
{
	uint64_t	s = (ms + 999) / 1000;

	if (s >= 3600)
		snprintf(buf, len, "%lluh%02llum%02llus",
		    (unsigned long long)(s / 3600),
		    (unsigned long long)(s % 3600 / 60),
		    (unsigned long long)(s % 60));
	else if (s >= 60)
		snprintf(buf, len, "%llum%02llus",
		    (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	else
		snprintf(buf, len, "%llus", (unsigned long long)s);
}

static void
fmt_time(char *buf, size_t len, time_t t)
{
	struct tm	tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "never");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The url: lists of the running configuration, a line each. */
static void
status_lists(struct evbuffer *b, const struct control_state *st)
{
	const struct hg_listsrc	*src;
	struct hg_listmeta	 lm;
	const char		*why, *last;
	char			 when[32], lastwhen[32];
	time_t			 lt;
	size_t			 i;

	evbuffer_add_printf(b, "lists: %zu\n", st->cs_cfg->cf_nsources);
	for (i = 0; i < st->cs_cfg->cf_nsources; i++) {
		src = &st->cs_cfg->cf_sources[i];
		if (listmeta_read(src->ls_meta, &lm, &why) == 0)
			fmt_time(when, sizeof when, (time_t)lm.lm_checked);
		else
			snprintf(when, sizeof when, "never");
		evbuffer_add_printf(b, "list: %s entries %ld checked %s",
		    src->ls_url, src->ls_entries < 0 ? 0 : src->ls_entries,
		    when);
		if (src->ls_entries >= 0 && strcmp(when, "never") != 0)
			evbuffer_add_printf(b, " (%llus ago)",
			    (unsigned long long)(time(NULL) -
			    (time_t)lm.lm_checked));
		last = st->cs_rf != NULL ? refresh_last(st->cs_rf,
		    src->ls_body, &lt) : NULL;
		if (last != NULL) {
			fmt_time(lastwhen, sizeof lastwhen, lt);
			evbuffer_add_printf(b, " last %s: %s", lastwhen, last);
		}
		evbuffer_add(b, "\n", 1);
	}
}

static void
do_status(struct ctlconn *c)
{
	struct control		*ct = c->cc_ctl;
	struct control_state	 st;
	struct wstats		*ws;
	struct evbuffer		*b;
	char			*names[HG_MAX_PAUSES], when[32];
	unsigned		 left[HG_MAX_PAUSES], open;
	uint64_t		 act[4] = { 0, 0, 0, 0 }, total = 0;
	size_t			 i, n;

	memset(&st, 0, sizeof st);
	ct->ct_ops->co_state(ct->ct_arg, &st);
	ws = xcalloc(1, sizeof *ws);
	open = workers_sum_stats(ws);
	for (i = 0; i <= HG_METRIC_CATS; i++)
		for (n = 0; n < 4; n++)
			act[n] += ws->ws_decisions[i][n];
	for (n = 0; n < 4; n++)
		total += act[n];
	free(ws);
	if ((b = evbuffer_new()) == NULL) {
		reply_error(c, "out of memory");
		return;
	}
	fmt_time(when, sizeof when, st.cs_loaded);
	evbuffer_add_printf(b, "version: %s\npid: %ld\nuptime: %llus\n"
	    "config: %s\ngeneration: %u\nloaded: %s\nworkers: %u\n"
	    "connections: %u\n", PACKAGE_VERSION, (long)getpid(),
	    (unsigned long long)st.cs_uptime, st.cs_file, st.cs_gen, when,
	    workers_count(), open);
	evbuffer_add_printf(b, "requests: %llu allow %llu deny %llu audit %llu "
	    "none %llu\n", (unsigned long long)total,
	    (unsigned long long)act[HG_ACT_ALLOW],
	    (unsigned long long)act[HG_ACT_DENY],
	    (unsigned long long)act[HG_ACT_AUDIT],
	    (unsigned long long)act[HG_ACT_NONE]);
	n = pause_list(names, left, HG_MAX_PAUSES);
	evbuffer_add_printf(b, "paused: %zu\n", n);
	for (i = 0; i < n; i++) {
		fmt_duration(when, sizeof when, left[i]);
		evbuffer_add_printf(b, "pause: %s %s left\n", names[i], when);
		free(names[i]);
	}
	status_lists(b, &st);
	reply(c, 1, b);
	evbuffer_free(b);
}

static void
do_reload(struct ctlconn *c)
{
	struct control		*ct = c->cc_ctl;
	struct hg_errors	 errs;
	struct evbuffer		*b;
	size_t			 i;
	int			 gen;

	if ((b = evbuffer_new()) == NULL) {
		reply_error(c, "out of memory");
		return;
	}
	errors_init(&errs);
	gen = ct->ct_ops->co_reload(ct->ct_arg, &errs);
	if (gen >= 0)
		evbuffer_add_printf(b, "generation: %d\n", gen);
	else {
		for (i = 0; i < errs.er_count; i++)
			evbuffer_add_printf(b, "%s\n", errs.er_msgs[i]);
		if (errs.er_dropped)
			evbuffer_add_printf(b, "(%zu more errors)\n",
			    errs.er_dropped);
	}
	errors_free(&errs);
	reply(c, gen >= 0, b);
	evbuffer_free(b);
}

/* Is name a category of the running configuration? */
static int
category_known(struct control *ct, const char *name)
{
	struct control_state		 st;
	const struct hg_category	*ca;
	size_t				 i, n;

	memset(&st, 0, sizeof st);
	ct->ct_ops->co_state(ct->ct_arg, &st);
	n = ruleset_ncategories(st.cs_cfg->cf_rules);
	for (i = 0; i < n; i++) {
		ca = ruleset_category_const(st.cs_cfg->cf_rules, (uint32_t)i);
		if (strcmp(ca->ca_name, name) == 0)
			return (1);
	}
	return (0);
}

static void
do_pause(struct ctlconn *c, const char *name, const char *dur)
{
	struct evbuffer	*b;
	char		 s[32];
	unsigned	 ms;

	if (!category_known(c->cc_ctl, name)) {
		reply_error(c, "pause: no category named '%s'", name);
		return;
	}
	if (duration_parse(dur, &ms) != 0 || ms < 1000 ||
	    ms > HG_CTL_PAUSE_MAX_MS) {
		reply_error(c, "pause: '%s' is not a duration from 1s to 24h "
		    "(such as 90s, 10m, 1h)", dur);
		return;
	}
	if (pause_set(name, ms) != 0) {
		reply_error(c, "pause: %u categories are paused already",
		    HG_MAX_PAUSES);
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		reply(c, 1, NULL);
		return;
	}
	fmt_duration(s, sizeof s, ms);
	evbuffer_add_printf(b, "pause: %s %s left\n", name, s);
	reply(c, 1, b);
	evbuffer_free(b);
}

static void
do_resume(struct ctlconn *c, const char *name)
{
	if (pause_clear(name) != 0)
		reply_error(c, "resume: '%s' is not paused", name);
	else
		reply(c, 1, NULL);
}

static void
do_lists_update(struct ctlconn *c)
{
	struct control	*ct = c->cc_ctl;
	struct evbuffer	*b;
	char		 why[128];
	int		 n;

	if ((n = ct->ct_ops->co_lists_update(ct->ct_arg, why,
	    sizeof why)) < 0) {
		reply_error(c, "lists-update: %s", why);
		return;
	}
	if ((b = evbuffer_new()) == NULL) {
		reply(c, 1, NULL);
		return;
	}
	evbuffer_add_printf(b, "started: %d\n", n);
	reply(c, 1, b);
	evbuffer_free(b);
}

/* Split line into at most CTL_MAX_WORDS words; -1 past that. */
static int
split(char *line, char **w)
{
	char	*p, *last;
	int	 n = 0;

	for (p = strtok_r(line, " \t", &last); p != NULL;
	    p = strtok_r(NULL, " \t", &last)) {
		if (n == CTL_MAX_WORDS)
			return (-1);
		w[n++] = p;
	}
	return (n);
}

/* One request line (NUL-terminated, no end of line). */
static void
request_line(struct ctlconn *c, char *line, size_t len)
{
	char	*w[CTL_MAX_WORDS];
	size_t	 i;
	int	 n;

	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			break;
	if (i < len || strlen(line) != len) {
		reply_error(c, "request: not a line of text");
		return;
	}
	if ((n = split(line, w)) <= 0) {
		reply_error(c, "request: empty or too many words");
		return;
	}
	if (strcmp(w[0], "status") == 0 && n == 1)
		do_status(c);
	else if (strcmp(w[0], "reload") == 0 && n == 1)
		do_reload(c);
	else if (strcmp(w[0], "pause") == 0 && n == 3)
		do_pause(c, w[1], w[2]);
	else if (strcmp(w[0], "resume") == 0 && n == 2)
		do_resume(c, w[1]);
	else if (strcmp(w[0], "lists-update") == 0 && n == 1)
		do_lists_update(c);
	else if (strcmp(w[0], "status") == 0 || strcmp(w[0], "reload") == 0 ||
	    strcmp(w[0], "pause") == 0 || strcmp(w[0], "resume") == 0 ||
	    strcmp(w[0], "lists-update") == 0)
		reply_error(c, "%s: wrong number of arguments", w[0]);
	else
		reply_error(c, "unknown command (status, reload, pause "
		    "CATEGORY DURATION, resume CATEGORY, lists-update)");
}

static void
ctl_read(struct bufferevent *bev, void *arg)
{
	struct ctlconn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	char		 line[HG_CTL_LINE_MAX + 1];
	size_t		 len, eollen;

	if (c->cc_done)
		return;
	eol = evbuffer_search_eol(in, NULL, &eollen, EVBUFFER_EOL_LF);
	if (eol.pos < 0) {
		if (evbuffer_get_length(in) > HG_CTL_LINE_MAX)
			reply_error(c, "request: line longer than %d bytes",
			    HG_CTL_LINE_MAX);
		return;
	}
	len = (size_t)eol.pos;
	if (len > HG_CTL_LINE_MAX) {
		reply_error(c, "request: line longer than %d bytes",
		    HG_CTL_LINE_MAX);
		return;
	}
	evbuffer_remove(in, line, len);
	line[len] = '\0';
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	request_line(c, line, len);
}

static void
ctl_write(struct bufferevent *bev, void *arg)
{
	struct ctlconn	*c = arg;

	if (c->cc_done &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		ctlconn_free(c);
}

static void
ctl_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctlconn	*c = arg;

	if (!c->cc_done && (what & BEV_EVENT_TIMEOUT) &&
	    (what & BEV_EVENT_READING)) {
		reply_error(c, "request: no request line within %ds",
		    HG_CTL_READ_MS / 1000);
		return;
	}
	ctlconn_free(c);
}

static void
ctl_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct control	*ct = arg;
	struct ctlconn	*c;
	struct timeval	 tv;
	int		 fd, i;

	for (i = 0; i < HG_CTL_CLIENTS; i++) {
		if ((fd = accept(lfd, NULL, NULL)) == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("control: accept");
			return;
		}
		if (ct->ct_nconns >= HG_CTL_CLIENTS ||
		    evutil_make_socket_nonblocking(fd) != 0 ||
		    evutil_make_socket_closeonexec(fd) != 0) {
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof *c);
		c->cc_ctl = ct;
		c->cc_bev = bufferevent_socket_new(ct->ct_base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->cc_bev == NULL) {
			close(fd);
			free(c);
			continue;
		}
		c->cc_next = ct->ct_conns;
		ct->ct_conns = c;
		ct->ct_nconns++;
		tv.tv_sec = HG_CTL_READ_MS / 1000;
		tv.tv_usec = (HG_CTL_READ_MS % 1000) * 1000;
		bufferevent_set_timeouts(c->cc_bev, &tv, &tv);
		bufferevent_setwatermark(c->cc_bev, EV_READ, 0,
		    HG_CTL_LINE_MAX + 2);
		bufferevent_setcb(c->cc_bev, ctl_read, ctl_write, ctl_event, c);
		bufferevent_enable(c->cc_bev, EV_READ);
	}
}

/*
 * Does something answer on the socket at path? 1 yes, 0 no (a stale
 * socket file), -1 with errno when that cannot be told.
 */
static int
answers(const struct sockaddr_un *sun)
{
	int	fd, rc;

	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return (-1);
	if (evutil_make_socket_nonblocking(fd) != 0) {
		close(fd);
		return (-1);
	}
	if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0 ||
	    errno == EAGAIN || errno == EINPROGRESS)
		rc = 1;		/* a listener, maybe with a full backlog */
	else if (errno == ECONNREFUSED)
		rc = 0;
	else
		rc = -1;
	close(fd);
	return (rc);
}

/* Make the listening socket of cf at ct->ct_path; 0, or -1 said why. */
static int
control_bind(struct control *ct, const struct hg_config *cf)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
	struct group		*gr = NULL;
	const char		*path = ct->ct_path;
	mode_t			 old;
	int			 fd, rc;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		log_warnx("control: %s: path too long for a socket (at most "
		    "%zu bytes)", path, sizeof sun.sun_path - 1);
		return (-1);
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (cf->cf_control_group != NULL &&
	    (gr = getgrnam(cf->cf_control_group)) == NULL) {
		log_warnx("control: group '%s' does not exist",
		    cf->cf_control_group);
		return (-1);
	}
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			log_warnx("control: %s exists and is not a socket",
			    path);
			return (-1);
		}
		if ((rc = answers(&sun)) == 1) {
			log_warnx("control: %s: another instance answers on "
			    "it; not starting", path);
			return (-1);
		}
		if (rc == -1) {
			log_warn("control: %s", path);
			return (-1);
		}
		if (unlink(path) == -1) {
			log_warn("control: removing the stale socket %s", path);
			return (-1);
		}
		log_info("control: removed the stale socket %s", path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1) {
		log_warn("control: socket");
		return (-1);
	}
	/* No moment with a mode wider than asked: the process is still
	 * single-threaded here, so the umask may change a while. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (rc == -1) {
		log_warn("control: %s", path);
		close(fd);
		return (-1);
	}
	if (chmod(path, (mode_t)cf->cf_control_mode) == -1 ||
	    (gr != NULL && chown(path, (uid_t)-1, gr->gr_gid) == -1) ||
	    listen(fd, HG_CTL_CLIENTS) == -1 || lstat(path, &sb) == -1 ||
	    evutil_make_socket_nonblocking(fd) != 0 ||
	    evutil_make_socket_closeonexec(fd) != 0) {
		log_warn("control: %s", path);
		unlink(path);
		close(fd);
		return (-1);
	}
	ct->ct_fd = fd;
	ct->ct_dev = sb.st_dev;
	ct->ct_ino = sb.st_ino;
	return (0);
}

/*
 * Make and serve the control socket of cf on base (main thread, before
 * root is dropped and before other threads start): *out is NULL when cf
 * has none. Returns -1, said why, when it cannot be made or another
 * instance answers on it.
 */
int
control_open(struct event_base *base, const struct hg_config *cf,
    const struct control_ops *ops, void *arg, struct control **out)
{
	struct control	*ct;

	*out = NULL;
	if (cf->cf_control_socket == NULL)
		return (0);
	ct = xcalloc(1, sizeof *ct);
	ct->ct_base = base;
	ct->ct_ops = ops;
	ct->ct_arg = arg;
	ct->ct_fd = -1;
	ct->ct_path = xstrdup(cf->cf_control_socket);
	if (control_bind(ct, cf) != 0) {
		free(ct->ct_path);
		free(ct);
		return (-1);
	}
	ct->ct_ev = event_new(base, ct->ct_fd, EV_READ | EV_PERSIST,
	    ctl_accept, ct);
	if (ct->ct_ev == NULL || event_add(ct->ct_ev, NULL) != 0)
		fatalx("control: cannot watch the socket");
	pause_init(base);
	log_info("control: socket %s", ct->ct_path);
	*out = ct;
	return (0);
}

/* Stop serving; remove the socket file if it is still ours. */
void
control_close(struct control *ct)
{
	struct stat	sb;

	if (ct == NULL)
		return;
	while (ct->ct_conns != NULL)
		ctlconn_free(ct->ct_conns);
	event_free(ct->ct_ev);
	close(ct->ct_fd);
	if (lstat(ct->ct_path, &sb) == 0 && sb.st_dev == ct->ct_dev &&
	    sb.st_ino == ct->ct_ino && unlink(ct->ct_path) == -1)
		log_debug("control: removing %s: %s", ct->ct_path,
		    strerror(errno));
	pause_clear_all();
	free(ct->ct_path);
	free(ct);
}
