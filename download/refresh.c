/*
 * refresh.c -- lists kept current: every `url:` list of the running
 * configuration has a timer on the main thread's event_base; when it
 * fires the list is downloaded (fetch.c), checked (pin, entries, shrink
 * guard) and, when good and new, written to the cache atomically; then the
 * caller's changed() runs, which reloads the configuration exactly as
 * SIGHUP does. A bad download keeps the last good copy and says why in one
 * line. `hushgate lists update` runs the same steps once, in order, and
 * prints a line for each list: on a terminal one that shows the download
 * as it goes (redrawn at most PROGRESS_MS apart), else only the result.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>

#include "proxy/proxy.h"
#include "download/download.h"
#include "plat/plat.h"
#include "certs/certs.h"

#define REFRESH_FIRST_MS	1000	/* first download after start-up */
#define REFRESH_RETRY_MAX_MS	(3600U * 1000)	/* after a failure */
#define PROGRESS_MS		100	/* lists update: between redraws */

enum outcome {
	OUT_FAILED = 0,
	OUT_NOTMOD,	/* 304 */
	OUT_SAME,	/* 200, the same bytes */
	OUT_CHANGED
};

struct rsource {
	struct rsource		*rs_next;
	struct refresher	*rs_rf;
	struct hg_listsrc	 rs_src;	/* own copies of the strings */
	unsigned		 rs_timeout;
	struct hg_listmeta	 rs_lm;		/* of the cached copy */
	int			 rs_have_meta;
	int			 rs_have_body;
	struct event		*rs_timer;
	struct fetch		*rs_fetch;
	int			 rs_seen;
	int			 rs_have_loaded;
	uint8_t			 rs_loaded[32];	/* sha256 the rules hold */
	char			 rs_last[192];	/* the last download's result */
	time_t			 rs_last_at;
	/* lists update: the download so far */
	struct timespec		 rs_started;
	uint64_t		 rs_got;	/* body bytes */
	uint64_t		 rs_total;	/* Content-Length, or 0 */
	uint64_t		 rs_drawn_ms;	/* since rs_started */
	size_t			 rs_drawn_len;	/* of the line on screen */
};

struct refresher {
	struct event_base	*rf_base;
	struct evdns_base	*rf_dns;
	void			(*rf_changed)(void *);
	void			*rf_arg;
	/* told each download's result: list body path, result, when */
	void			(*rf_result)(void *, const char *,
				    const char *, time_t);
	void			*rf_result_arg;
	struct rsource		*rf_list;
	int			 rf_oneshot;	/* lists update */
	int			 rf_tty;	/* ... to a terminal */
	unsigned		 rf_failed;
};

static void	rsource_start(struct rsource *);

/* Read a whole file of at most max bytes; NULL with errno. */
static char *
file_read(const char *path, uint64_t max, size_t *lenp)
{
	FILE	*f;
	char	*buf;
	size_t	 len = 0, cap = 65536, n;

	if ((f = fopen(path, "rb")) == NULL)
		return (NULL);
	buf = xmalloc(cap + 1);
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len > max) {
			free(buf);
			fclose(f);
			errno = EFBIG;
			return (NULL);
		}
		if (len == cap) {
			cap *= 2;
			buf = xreallocarray(buf, cap + 1, 1);
		}
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return (NULL);
	}
	fclose(f);
	buf[len] = '\0';
	*lenp = len;
	return (buf);
}

/* mkdir -p of the directory holding path. 0 or -1 with errno. */
static int
mkdir_parent(const char *path)
{
	char	*dir = xstrdup(path), *p;
	int	 rc = 0;

	if ((p = strrchr(dir, '/')) != NULL && p != dir) {
		*p = '\0';
		for (p = dir + 1; rc == 0; p++) {
			if (*p != '/' && *p != '\0')
				continue;
			{
				char	c = *p;

				*p = '\0';
				if (plat_mkdir(dir, 0755) != 0 && errno != EEXIST)
					rc = -1;
				*p = c;
			}
			if (*p == '\0')
				break;
		}
	}
	free(dir);
	return (rc);
}

/*
 * Write buf to a new temporary file next to path, making its directory
 * if needed (the cache files are 0600). Returns its name (caller frees
 * and renames or unlinks it), or NULL with *cause.
 */
static char *
temp_write(const char *path, const void *buf, size_t len, char **cause)
{
	char	*tmp;

	if (mkdir_parent(path) != 0) {
		xasprintf(cause, "cannot create the directory of %s: %s",
		    path, strerror(errno));
		return (NULL);
	}
	if ((tmp = plat_temp_file(path, buf, len, 0600)) == NULL)
		xasprintf(cause, "cannot write a new %s: %s", path,
		    strerror(errno));
	return (tmp);
}

/* Replace path with buf atomically (a temporary file, then rename). */
static int
file_replace(const char *path, const void *buf, size_t len, char **cause)
{
	if (mkdir_parent(path) != 0) {
		xasprintf(cause, "cannot create the directory of %s: %s",
		    path, strerror(errno));
		return (-1);
	}
	if (plat_replace_file(path, buf, len, 0600) != 0) {
		xasprintf(cause, "cannot replace %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/* Read the cached copy's metadata into rs (rs_have_meta, rs_have_body). */
static void
rsource_read_meta(struct rsource *rs)
{
	const char	*why;

	rs->rs_have_body = access(rs->rs_src.ls_body, R_OK) == 0;
	rs->rs_have_meta = listmeta_read(rs->rs_src.ls_meta, &rs->rs_lm,
	    &why) == 0;
	if (!rs->rs_have_meta && why != NULL)
		log_warnx("lists: %s: %s, ignored", rs->rs_src.ls_meta, why);
}

/* The entries a list file gives in its format (as the loader counts). */
static long
count_entries(const struct rsource *rs, const char *path)
{
	struct hg_ruleset	*scratch = ruleset_new();
	struct hg_errors	 errs;
	uint32_t		 file, cat;
	long			 n;

	errors_init(&errs);
	file = ruleset_add_file(scratch, rs->rs_src.ls_url);
	cat = ruleset_add_category(scratch, "list", HG_ACT_DENY, file, 0);
	n = list_load(scratch, cat, path, rs->rs_src.ls_url,
	    rs->rs_src.ls_format, &errs, NULL);
	errors_free(&errs);
	ruleset_free(scratch);
	return (n);
}

/*
 * Check a download and, when good and new, make it the cached copy.
 * *msg says what happened (caller frees).
 */
static enum outcome
rsource_apply(struct rsource *rs, struct fetch_result *fr, char **msg)
{
	const struct hg_listsrc	*src = &rs->rs_src;
	struct hg_listmeta	 lm = rs->rs_lm;
	const char		*body;
	char			*tmp = NULL, *old, *text, *cause = NULL;
	char			 got[65], want[65];
	uint8_t			 sum[32];
	size_t			 len, oldlen, added = 0, removed = 0;
	long			 entries;
	int			 same;
	enum outcome		 out;

	if (!fr->fr_ok) {
		*msg = xstrdup(fr->fr_error);
		return (OUT_FAILED);
	}
	if (fr->fr_status == 304) {
		if (!rs->rs_have_body || !rs->rs_have_meta) {
			*msg = xstrdup("304 Not Modified, but no copy is "
			    "cached");
			return (OUT_FAILED);
		}
		out = OUT_NOTMOD;
		*msg = xstrdup("not modified");
		goto meta;
	}
	len = evbuffer_get_length(fr->fr_body);
	body = (const char *)evbuffer_pullup(fr->fr_body, -1);
	if (body == NULL)
		body = "";
	tls_sha256(body, len, sum);
	if (src->ls_have_pin && memcmp(sum, src->ls_pin, 32) != 0) {
		sha256_hex(sum, got);
		sha256_hex(src->ls_pin, want);
		xasprintf(msg, "sha256 mismatch: the body is %s, the pin %s",
		    got, want);
		return (OUT_FAILED);
	}
	if ((tmp = temp_write(src->ls_body, body, len, &cause)) == NULL) {
		xasprintf(msg, "cache: %s", cause);
		free(cause);
		return (OUT_FAILED);
	}
	entries = count_entries(rs, tmp);
	if (entries <= 0) {
		xasprintf(msg, "no entries in %zu bytes (format %s)", len,
		    src->ls_format);
		goto refuse;
	}
	if (rs->rs_have_body && rs->rs_have_meta &&
	    !listsrc_shrink_ok(lm.lm_entries, (uint64_t)entries,
	    src->ls_max_shrink)) {
		xasprintf(msg, "%ld entries, down from %" PRIu64 ": more "
		    "than max_shrink (%g) would go at once", entries,
		    lm.lm_entries, src->ls_max_shrink);
		goto refuse;
	}
	same = rs->rs_have_body && rs->rs_have_meta && lm.lm_have_sha256 &&
	    memcmp(sum, lm.lm_sha256, 32) == 0;
	if (same) {
		unlink(tmp);
		out = OUT_SAME;
		xasprintf(msg, "%zu bytes, %ld entries, unchanged", len,
		    entries);
	} else {
		old = rs->rs_have_body ? file_read(src->ls_body,
		    HG_MAX_LIST_BYTES, &oldlen) : NULL;
		listsrc_diff(old ? old : "", old ? oldlen : 0, body, len,
		    &added, &removed);
		free(old);
		if (plat_rename(tmp, src->ls_body) != 0) {
			xasprintf(msg, "cache: cannot rename %s: %s", tmp,
			    strerror(errno));
			goto refuse;
		}
		lm.lm_fetched = (uint64_t)time(NULL);
		out = OUT_CHANGED;
		xasprintf(msg, "%zu bytes, %ld entries, +%zu/-%zu", len,
		    entries, added, removed);
	}
	free(tmp);
	memcpy(lm.lm_sha256, sum, 32);
	lm.lm_have_sha256 = 1;
	lm.lm_bytes = len;
	lm.lm_entries = (uint64_t)entries;

meta:
	/* A validator the server no longer sends is dropped with it. */
	memcpy(lm.lm_etag, fr->fr_etag, sizeof lm.lm_etag);
	memcpy(lm.lm_modified, fr->fr_modified, sizeof lm.lm_modified);
	if (out == OUT_NOTMOD) {
		if (fr->fr_etag[0] == '\0')
			memcpy(lm.lm_etag, rs->rs_lm.lm_etag,
			    sizeof lm.lm_etag);
		if (fr->fr_modified[0] == '\0')
			memcpy(lm.lm_modified, rs->rs_lm.lm_modified,
			    sizeof lm.lm_modified);
	}
	lm.lm_checked = (uint64_t)time(NULL);
	text = listmeta_format(&lm, src->ls_url);
	if (file_replace(src->ls_meta, text, strlen(text), &cause) != 0) {
		/* The body is in place; without metadata the next download
		 * is unconditional and unguarded: say so. */
		log_warnx("lists: %s: cache: %s", src->ls_url, cause);
		free(cause);
	} else
		metrics_list_checked(src->ls_meta, lm.lm_checked);
	free(text);
	return (out);

refuse:
	unlink(tmp);
	free(tmp);
	return (OUT_FAILED);
}

static void
rsource_schedule(struct rsource *rs, unsigned ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(rs->rs_timer, &tv);
}

/* When the cached copy is due: soon when missing or stale. */
static void
rsource_schedule_from_cache(struct rsource *rs)
{
	uint64_t	now = (uint64_t)time(NULL), due;

	rsource_read_meta(rs);
	if (!rs->rs_have_body || !rs->rs_have_meta) {
		rsource_schedule(rs, REFRESH_FIRST_MS);
		return;
	}
	due = rs->rs_lm.lm_checked * 1000 + rs->rs_src.ls_refresh;
	if (due <= now * 1000 + REFRESH_FIRST_MS)
		rsource_schedule(rs, REFRESH_FIRST_MS);
	else if (due - now * 1000 > rs->rs_src.ls_refresh)	/* clock */
		rsource_schedule(rs, rs->rs_src.ls_refresh);
	else
		rsource_schedule(rs, (unsigned)(due - now * 1000));
}

/*
 * Does the cache hold another copy than the running rules were loaded
 * from? (One written by `hushgate lists update` meanwhile.)
 */
static int
rsource_cache_newer(struct rsource *rs)
{
	rsource_read_meta(rs);
	return (rs->rs_have_body && rs->rs_have_meta &&
	    rs->rs_lm.lm_have_sha256 && (!rs->rs_have_loaded ||
	    memcmp(rs->rs_lm.lm_sha256, rs->rs_loaded, 32) != 0));
}

/* Milliseconds since rs_started. */
static uint64_t
progress_ms(const struct rsource *rs)
{
	struct timespec	now;
	int64_t		ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(now.tv_sec - rs->rs_started.tv_sec) * 1000 +
	    (now.tv_nsec - rs->rs_started.tv_nsec) / 1000000;
	return (ms > 0 ? (uint64_t)ms : 0);
}

/* A count of bytes for a person: 812 B, 12.3 KiB, 4.0 MiB. */
static void
progress_bytes(char *buf, size_t size, uint64_t n)
{
	static const char	*units[] = { "KiB", "MiB", "GiB", "TiB" };
	double			 v = (double)n / 1024;
	size_t			 u = 0;

	if (n < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", n);
		return;
	}
	while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
}

/*
 * Write line over the one on the terminal: back to its start, the new
 * text, and spaces over what is left of a longer old one.
 */
static void
progress_draw(struct rsource *rs, const char *line, const char *end)
{
	size_t	len = strlen(line);

	printf("\r%s%*s%s", line, rs->rs_drawn_len > len ?
	    (int)(rs->rs_drawn_len - len) : 0, "", end);
	fflush(stdout);
	rs->rs_drawn_len = len;
}

/* lists update on a terminal: the line of a download under way. */
static void
progress_show(struct rsource *rs, uint64_t ms)
{
	char	line[1024], got[32], total[32], rate[32];
	int	n;

	progress_bytes(got, sizeof got, rs->rs_got);
	progress_bytes(rate, sizeof rate, ms > 0 ?
	    rs->rs_got * 1000 / ms : 0);
	n = snprintf(line, sizeof line, "%s: %s", rs->rs_src.ls_url, got);
	if (n < 0 || (size_t)n >= sizeof line)
		n = (int)sizeof line - 1;
	if (rs->rs_total > 0) {
		progress_bytes(total, sizeof total, rs->rs_total);
		snprintf(line + n, sizeof line - (size_t)n,
		    " of %s (%" PRIu64 "%%), %s/s", total,
		    rs->rs_got >= rs->rs_total ? 100 :
		    rs->rs_got * 100 / rs->rs_total, rate);
	} else
		snprintf(line + n, sizeof line - (size_t)n, ", %s/s", rate);
	progress_draw(rs, line, "");
	rs->rs_drawn_ms = ms;
}

/* fetch_progress_cb: more of the body of rs has come. */
static void
progress_more(uint64_t got, uint64_t total, void *arg)
{
	struct rsource	*rs = arg;
	uint64_t	 ms = progress_ms(rs);

	rs->rs_got = got;
	rs->rs_total = total;
	if (rs->rs_drawn_ms == 0 || ms >= rs->rs_drawn_ms + PROGRESS_MS)
		progress_show(rs, ms > 0 ? ms : 1);
}

/* fetch_progress_cb without a terminal: the count alone. */
static void
progress_count(uint64_t got, uint64_t total, void *arg)
{
	struct rsource	*rs = arg;

	rs->rs_got = got;
	rs->rs_total = total;
}

/* lists update: the one line of a list that is done (over its progress
 * line on a terminal). */
static void
progress_done(struct rsource *rs, const char *what, const char *msg)
{
	char		*line, *end;
	uint64_t	 n;

	/* "N bytes, " that the bytes received say again */
	n = strtoull(msg, &end, 10);
	if (end != msg && n == rs->rs_got && strncmp(end, " bytes, ", 8) == 0)
		msg = end + 8;
	xasprintf(&line, "%s: %s%s; %" PRIu64 " bytes in %.2fs",
	    rs->rs_src.ls_url, what, msg, rs->rs_got,
	    (double)progress_ms(rs) / 1000);
	if (rs->rs_rf->rf_tty)
		progress_draw(rs, line, "\n");
	else {
		printf("%s\n", line);
		fflush(stdout);
	}
	free(line);
}

static void
rsource_done(struct fetch_result *fr, void *arg)
{
	struct rsource		*rs = arg;
	struct refresher	*rf = rs->rs_rf;
	struct rsource		*next;
	enum outcome		 out;
	char			*msg = NULL;
	unsigned		 retry;

	rs->rs_fetch = NULL;
	out = rsource_apply(rs, fr, &msg);
	if (rf->rf_oneshot) {
		progress_done(rs, out == OUT_FAILED ? "error: " : "", msg);
		if (out == OUT_FAILED)
			rf->rf_failed++;
		free(msg);
		if ((next = rs->rs_next) != NULL)
			rsource_start(next);
		else
			event_base_loopexit(rf->rf_base, NULL);
		return;
	}
	snprintf(rs->rs_last, sizeof rs->rs_last, "%s%s",
	    out == OUT_FAILED ? "failed: " : "", msg);
	rs->rs_last_at = time(NULL);
	if (rf->rf_result != NULL)
		rf->rf_result(rf->rf_result_arg, rs->rs_src.ls_body,
		    rs->rs_last, rs->rs_last_at);
	if (out == OUT_FAILED) {
		log_warnx("lists: %s: failed: %s; %s", rs->rs_src.ls_url, msg,
		    rs->rs_have_body ? "keeping the last good copy" :
		    "the list stays empty");
		retry = rs->rs_src.ls_refresh < REFRESH_RETRY_MAX_MS ?
		    rs->rs_src.ls_refresh : REFRESH_RETRY_MAX_MS;
		rsource_schedule(rs, retry);
	} else {
		log_info("lists: %s: %s", rs->rs_src.ls_url, msg);
		rsource_schedule(rs, rs->rs_src.ls_refresh);
	}
	free(msg);
	if (out != OUT_CHANGED && rsource_cache_newer(rs)) {
		log_info("lists: %s: the cached copy is newer than the "
		    "running rules", rs->rs_src.ls_url);
		out = OUT_CHANGED;
	}
	if (out == OUT_CHANGED)
		rf->rf_changed(rf->rf_arg);
}

static void
rsource_start(struct rsource *rs)
{
	struct fetch_req	rq;
	char			*line;

	rsource_read_meta(rs);
	memset(&rq, 0, sizeof rq);
	rq.fq_url = rs->rs_src.ls_url;
	if (rs->rs_have_body && rs->rs_have_meta) {
		rq.fq_etag = rs->rs_lm.lm_etag;
		rq.fq_modified = rs->rs_lm.lm_modified;
	}
	rq.fq_ca_file = rs->rs_src.ls_ca_file;
	rq.fq_max_bytes = rs->rs_src.ls_max_bytes;
	rq.fq_timeout = rs->rs_timeout;
	if (rs->rs_rf->rf_oneshot) {
		clock_gettime(CLOCK_MONOTONIC, &rs->rs_started);
		rs->rs_got = rs->rs_total = rs->rs_drawn_ms = 0;
		rs->rs_drawn_len = 0;
		if (rs->rs_rf->rf_tty) {
			rq.fq_progress = progress_more;
			xasprintf(&line, "%s: ...", rs->rs_src.ls_url);
			progress_draw(rs, line, "");
			free(line);
		} else
			rq.fq_progress = progress_count;
	}
	log_debug("lists: downloading %s", rs->rs_src.ls_url);
	rs->rs_fetch = fetch_start(rs->rs_rf->rf_base, rs->rs_rf->rf_dns, &rq,
	    rsource_done, rs);
}

static void
rsource_due(evutil_socket_t fd, short what, void *arg)
{
	struct rsource	*rs = arg;

	if (rs->rs_fetch == NULL)
		rsource_start(rs);
}

static void
rsource_clear(struct rsource *rs)
{
	free(rs->rs_src.ls_url);
	free(rs->rs_src.ls_format);
	free(rs->rs_src.ls_ca_file);
	free(rs->rs_src.ls_body);
	free(rs->rs_src.ls_meta);
}

/* Take the settings of src (strings copied). */
static void
rsource_set(struct rsource *rs, const struct hg_config *cf,
    const struct hg_listsrc *src)
{
	rsource_clear(rs);
	rs->rs_src = *src;
	rs->rs_src.ls_url = xstrdup(src->ls_url);
	rs->rs_src.ls_format = xstrdup(src->ls_format);
	rs->rs_src.ls_ca_file = src->ls_ca_file ? xstrdup(src->ls_ca_file) :
	    NULL;
	rs->rs_src.ls_body = xstrdup(src->ls_body);
	rs->rs_src.ls_meta = xstrdup(src->ls_meta);
	rs->rs_src.ls_file = NULL;	/* belongs to the configuration */
	rs->rs_timeout = cf->cf_list_timeout;
}

static void
rsource_free(struct rsource *rs)
{
	if (rs->rs_fetch != NULL)
		fetch_cancel(rs->rs_fetch);
	event_free(rs->rs_timer);
	rsource_clear(rs);
	free(rs);
}

/*
 * A refresher on base, resolving through dns; changed(arg) runs after a
 * list has changed in the cache.
 */
struct refresher *
refresh_new(struct event_base *base, struct evdns_base *dns,
    void (*changed)(void *), void *arg)
{
	struct refresher	*rf;

	rf = xcalloc(1, sizeof *rf);
	rf->rf_base = base;
	rf->rf_dns = dns;
	rf->rf_changed = changed;
	rf->rf_arg = arg;
	return (rf);
}

/*
 * Follow the url: lists of a (new) configuration: new lists get a timer
 * (soon when their copy is missing or stale), lists no longer named are
 * dropped, the others take the new settings.
 */
void
refresh_sync(struct refresher *rf, const struct hg_config *cf)
{
	struct rsource	*rs, **pp;
	size_t		 i;

	for (rs = rf->rf_list; rs != NULL; rs = rs->rs_next)
		rs->rs_seen = 0;
	for (i = 0; i < cf->cf_nsources; i++) {
		const struct hg_listsrc *src = &cf->cf_sources[i];

		for (rs = rf->rf_list; rs != NULL; rs = rs->rs_next)
			if (strcmp(rs->rs_src.ls_body, src->ls_body) == 0)
				break;
		if (rs != NULL && rs->rs_seen)
			continue;	/* named twice: one download */
		if (rs == NULL) {
			rs = xcalloc(1, sizeof *rs);
			rs->rs_rf = rf;
			rs->rs_timer = evtimer_new(rf->rf_base, rsource_due,
			    rs);
			if (rs->rs_timer == NULL)
				fatalx("out of memory");
			for (pp = &rf->rf_list; *pp != NULL;
			    pp = &(*pp)->rs_next)
				;
			*pp = rs;
		}
		rsource_set(rs, cf, src);
		rs->rs_seen = 1;
		/* What the configuration just loaded from the cache. */
		rsource_read_meta(rs);
		rs->rs_have_loaded = rs->rs_have_body &&
		    rs->rs_lm.lm_have_sha256;
		memcpy(rs->rs_loaded, rs->rs_lm.lm_sha256, 32);
		if (rs->rs_fetch == NULL && !rf->rf_oneshot)
			rsource_schedule_from_cache(rs);
	}
	for (pp = &rf->rf_list; (rs = *pp) != NULL;) {
		if (rs->rs_seen) {
			pp = &rs->rs_next;
			continue;
		}
		*pp = rs->rs_next;
		rsource_free(rs);
	}
}

/*
 * Download every list now rather than when due (`hushgate ctl
 * lists-update`), as the timers would; returns how many downloads
 * started (a list being downloaded already is not started again).
 */
int
refresh_now(struct refresher *rf)
{
	struct rsource	*rs;
	int		 n = 0;

	for (rs = rf->rf_list; rs != NULL; rs = rs->rs_next) {
		if (rs->rs_fetch != NULL)
			continue;
		evtimer_del(rs->rs_timer);
		rsource_start(rs);
		n++;
	}
	return (n);
}

/*
 * What the last download of the list cached at body gave ("failed: ..."
 * or what changed), with when; NULL when none has ended yet.
 */
const char *
refresh_last(const struct refresher *rf, const char *body, time_t *when)
{
	const struct rsource	*rs;

	for (rs = rf->rf_list; rs != NULL; rs = rs->rs_next)
		if (strcmp(rs->rs_src.ls_body, body) == 0 &&
		    rs->rs_last[0] != '\0') {
			*when = rs->rs_last_at;
			return (rs->rs_last);
		}
	return (NULL);
}

/* Have fn told the result of every download from now on. */
void
refresh_on_result(struct refresher *rf, void (*fn)(void *, const char *,
    const char *, time_t), void *arg)
{
	rf->rf_result = fn;
	rf->rf_result_arg = arg;
}

/* Stop every download and timer; free the refresher. */
void
refresh_free(struct refresher *rf)
{
	struct rsource	*rs;

	if (rf == NULL)
		return;
	while ((rs = rf->rf_list) != NULL) {
		rf->rf_list = rs->rs_next;
		rsource_free(rs);
	}
	free(rf);
}

static void
changed_nothing(void *arg)
{
}

/*
 * `hushgate lists update`: download every url: list of cf once, in
 * order, and print one line for each (the result, the bytes received and
 * the time taken; on a terminal, the progress until then). Returns 0
 * when all went well, 1 otherwise.
 */
int
refresh_update_all(struct hg_config *cf)
{
	struct event_base	*base;
	struct evdns_base	*dns;
	struct refresher	*rf;
	int			 rc;

	if (cf->cf_nsources == 0) {
		printf("no url: lists in %s\n", cf->cf_file);
		return (0);
	}
	if ((base = event_base_new()) == NULL)
		fatalx("cannot create event base");
	if ((dns = dns_base_open(base, cf)) == NULL) {
		event_base_free(base);
		return (1);
	}
	rf = refresh_new(base, dns, changed_nothing, NULL);
	rf->rf_oneshot = 1;
	rf->rf_tty = isatty(STDOUT_FILENO);
	refresh_sync(rf, cf);
	rsource_start(rf->rf_list);
	event_base_dispatch(base);
	rc = rf->rf_failed != 0;
	refresh_free(rf);
	evdns_base_free(dns, 1);
	/* A cancelled lookup may still report to the loop. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
	return (rc);
}
