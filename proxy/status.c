/*
 * status.c -- what the status page shows beyond the counters of
 * metrics.c: each worker keeps the decisions it made lately (a ring), how
 * many it made in each of the last 60 seconds and 60 minutes, and the
 * hosts it denied or decided by default most often (a bounded table,
 * space-saving: a new host takes the place of the least counted one and
 * inherits its count). The worker writes its own store under the store's
 * mutex, which only a status request also takes, to copy it out.
 *
 * The running configuration's generation, load time and rule files with
 * their SHA-256 digests are published here by the main thread.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy.h"
#include "certs/certs.h"

struct wstatus {
	pthread_mutex_t		 st_mtx;
	struct status_recent	 st_recent[HG_STATUS_RECENT];
	unsigned		 st_nrecent;	/* records made, ever */
	struct status_bucket	 st_sec[60];
	struct status_bucket	 st_min[60];
	struct status_top	 st_top[2][HG_STATUS_TOP];
	unsigned		 st_ntop[2];
};

/* The running configuration, as the main thread published it. */
static pthread_mutex_t	 conf_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct status_conf {
	unsigned	 sc_gen;
	time_t		 sc_loaded;
	size_t		 sc_nfiles;
	char		**sc_files;
	char		(*sc_digest)[65];
} conf;
static struct timespec	 started;	/* monotonic; set before workers */

/* s (NULL: empty) into dst of n bytes, cut to fit; returns its length.
 * Not snprintf: this runs for every decision. */
static size_t
copy(char *dst, size_t n, const char *s)
{
	size_t	len = s != NULL ? strnlen(s, n - 1) : 0;

	memcpy(dst, s != NULL ? s : "", len);
	dst[len] = '\0';
	return (len);
}

/* "file:line" into dst of n bytes, cut to fit. */
static void
copy_rule(char *dst, size_t n, const char *file, unsigned line)
{
	char	num[12];
	size_t	len, k = sizeof num;

	len = copy(dst, n, file);
	num[--k] = '\0';
	do
		num[--k] = (char)('0' + line % 10);
	while ((line /= 10) != 0 && k > 1);
	num[--k] = ':';
	copy(dst + len, n - len, num + k);
}

/* The last download's result of each url: list, by its body's path (the
 * main thread's refresher tells it; a status request reads it). */
static struct list_result {
	char	*lr_body;
	char	 lr_last[192];
	time_t	 lr_at;
}			*results;
static size_t		 nresults;

struct wstatus *
status_new(void)
{
	struct wstatus	*st;

	st = xcalloc(1, sizeof *st);
	pthread_mutex_init(&st->st_mtx, NULL);
	return (st);
}

void
status_list_result(void *arg, const char *body, const char *last,
    time_t at)
{
	size_t	i;

	(void)arg;
	pthread_mutex_lock(&conf_mtx);
	for (i = 0; i < nresults; i++)
		if (strcmp(results[i].lr_body, body) == 0)
			break;
	if (i == nresults) {
		results = xreallocarray(results, nresults + 1,
		    sizeof *results);
		results[nresults++].lr_body = xstrdup(body);
	}
	copy(results[i].lr_last, sizeof results[i].lr_last, last);
	results[i].lr_at = at;
	pthread_mutex_unlock(&conf_mtx);
}

/* The last result of the list whose body is at body, into buf; 0 when
 * no download of it has ended since start. */
int
status_list_last(const char *body, char *buf, size_t len, time_t *at)
{
	size_t	i;
	int	found = 0;

	pthread_mutex_lock(&conf_mtx);
	for (i = 0; i < nresults && !found; i++)
		if (strcmp(results[i].lr_body, body) == 0) {
			copy(buf, len, results[i].lr_last);
			*at = results[i].lr_at;
			found = 1;
		}
	pthread_mutex_unlock(&conf_mtx);
	return (found);
}

void
status_free(struct wstatus *st)
{
	if (st == NULL)
		return;
	pthread_mutex_destroy(&st->st_mtx);
	free(st);
}


/* 32 bits of FNV-1a, to compare hosts quickly. */
static uint32_t
hash(const char *s)
{
	uint32_t	h = 2166136261U;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619U;
	return (h);
}

/* Count host in table k (caller holds the lock). */
static void
top_count(struct wstatus *st, int k, const char *host)
{
	struct status_top	*t = st->st_top[k], *min = NULL;
	uint32_t		 h = hash(host);
	unsigned		 i, n = st->st_ntop[k];

	for (i = 0; i < n; i++) {
		if (t[i].tp_hash == h && strcmp(t[i].tp_host, host) == 0) {
			t[i].tp_count++;
			return;
		}
		if (min == NULL || t[i].tp_count < min->tp_count)
			min = &t[i];
	}
	if (n < HG_STATUS_TOP) {
		min = &t[st->st_ntop[k]++];
		min->tp_count = 0;
	}
	copy(min->tp_host, sizeof min->tp_host, host);
	min->tp_hash = h;
	min->tp_count++;
}

/* Count one decision in bucket b of epoch e. */
static void
bucket_count(struct status_bucket *b, int64_t e, unsigned tag, unsigned act)
{
	unsigned	i;

	if (b->sb_epoch != e) {
		memset(b, 0, sizeof *b);
		b->sb_epoch = e;
	}
	for (i = 0; i < b->sb_n; i++)
		if (b->sb_e[i].se_tag == tag && b->sb_e[i].se_act == act)
			break;
	if (i == b->sb_n) {
		if (i == HG_STATUS_BCATS) {
			b->sb_other[act]++;
			return;
		}
		b->sb_e[i].se_tag = tag;
		b->sb_e[i].se_act = act;
		b->sb_n++;
	}
	b->sb_e[i].se_count++;
}

/*
 * One decision record (the worker that wrote it): tag and act are its
 * category counter and action as metrics.c counts them; dflt, decided by
 * the default (no rule matched).
 */
void
status_record(struct wstatus *st, const struct dlog_record *r, unsigned tag,
    unsigned act, int dflt)
{
	struct status_recent	*e;
	struct timespec		 now, mono;
	int64_t			 s;

	clock_gettime(CLOCK_REALTIME, &now);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	s = (int64_t)mono.tv_sec;
	pthread_mutex_lock(&st->st_mtx);
	e = &st->st_recent[st->st_nrecent++ % HG_STATUS_RECENT];
	e->re_ns = (uint64_t)now.tv_sec * 1000000000ULL +
	    (uint64_t)now.tv_nsec;
	copy(e->re_client, sizeof e->re_client, r->dr_client);
	copy(e->re_method, sizeof e->re_method, r->dr_method);
	copy(e->re_host, sizeof e->re_host, r->dr_host);
	copy(e->re_action, sizeof e->re_action, r->dr_action);
	copy(e->re_category, sizeof e->re_category, r->dr_category);
	if (r->dr_rule_file != NULL)
		copy_rule(e->re_rule, sizeof e->re_rule, r->dr_rule_file,
		    r->dr_rule_line);
	else
		e->re_rule[0] = '\0';
	e->re_port = r->dr_port;
	e->re_status = r->dr_status;
	e->re_end = r->dr_end;
	e->re_default = dflt;
	bucket_count(&st->st_sec[s % 60], s, tag, act);
	bucket_count(&st->st_min[(s / 60) % 60], s / 60, tag, act);
	if (r->dr_host != NULL && r->dr_host[0] != '\0') {
		if (act == HG_ACT_DENY)
			top_count(st, 0, r->dr_host);
		if (dflt)
			top_count(st, 1, r->dr_host);
	}
	pthread_mutex_unlock(&st->st_mtx);
}

/* Add the window counts of a ring of 60 buckets to w (lock held). */
static void
window_add(const struct status_bucket *ring, int64_t now,
    uint64_t w[][4], size_t ntags)
{
	const struct status_bucket	*b;
	unsigned			 i, j;

	for (i = 0; i < 60; i++) {
		b = &ring[i];
		if (b->sb_epoch <= now - 60 || b->sb_epoch > now)
			continue;
		for (j = 0; j < b->sb_n; j++)
			if (b->sb_e[j].se_tag < ntags)
				w[b->sb_e[j].se_tag][b->sb_e[j].se_act] +=
				    b->sb_e[j].se_count;
		for (j = 0; j < 4; j++)
			w[0][j] += b->sb_other[j];
	}
}

/*
 * Add one worker's store into the sum s (a status request, any thread):
 * the windows, the recent decisions and the top tables are appended to
 * the caller's arrays, merged by status_sum_done().
 */
void
status_add(struct status_sum *s, struct wstatus *st)
{
	struct timespec	mono;
	int64_t		now;
	unsigned	i, n, k;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	now = (int64_t)mono.tv_sec;
	pthread_mutex_lock(&st->st_mtx);
	window_add(st->st_sec, now, s->ss_minute, HG_METRIC_CATS + 1);
	window_add(st->st_min, now / 60, s->ss_hour, HG_METRIC_CATS + 1);
	n = st->st_nrecent < HG_STATUS_RECENT ? st->st_nrecent :
	    HG_STATUS_RECENT;
	s->ss_recent = xreallocarray(s->ss_recent, s->ss_nrecent + n,
	    sizeof *s->ss_recent);
	memcpy(s->ss_recent + s->ss_nrecent, st->st_recent,
	    n * sizeof *st->st_recent);
	s->ss_nrecent += n;
	for (k = 0; k < 2; k++) {
		n = st->st_ntop[k];
		s->ss_top[k] = xreallocarray(s->ss_top[k], s->ss_ntop[k] + n,
		    sizeof *s->ss_top[k]);
		for (i = 0; i < n; i++)
			s->ss_top[k][s->ss_ntop[k] + i] = st->st_top[k][i];
		s->ss_ntop[k] += n;
	}
	pthread_mutex_unlock(&st->st_mtx);
}

static int
recent_newer(const void *a, const void *b)
{
	const struct status_recent	*x = a, *y = b;

	return (x->re_ns < y->re_ns ? 1 : x->re_ns > y->re_ns ? -1 : 0);
}

static int
top_by_host(const void *a, const void *b)
{
	return (strcmp(((const struct status_top *)a)->tp_host,
	    ((const struct status_top *)b)->tp_host));
}

static int
top_by_count(const void *a, const void *b)
{
	const struct status_top	*x = a, *y = b;

	if (x->tp_count != y->tp_count)
		return (x->tp_count < y->tp_count ? 1 : -1);
	return (strcmp(x->tp_host, y->tp_host));
}

/* Sort what status_add() gathered: the recent decisions newest first,
 * each top table merged by host and sorted by count, most first. */
void
status_sum_done(struct status_sum *s)
{
	struct status_top	*t;
	size_t			 i, o, k;

	if (s->ss_nrecent > 0)
		qsort(s->ss_recent, s->ss_nrecent, sizeof *s->ss_recent,
		    recent_newer);
	for (k = 0; k < 2; k++) {
		if ((t = s->ss_top[k]) == NULL || s->ss_ntop[k] == 0)
			continue;
		qsort(t, s->ss_ntop[k], sizeof *t, top_by_host);
		for (i = 1, o = 0; i < s->ss_ntop[k]; i++) {
			if (strcmp(t[i].tp_host, t[o].tp_host) == 0)
				t[o].tp_count += t[i].tp_count;
			else
				t[++o] = t[i];
		}
		s->ss_ntop[k] = o + 1;
		qsort(t, s->ss_ntop[k], sizeof *t, top_by_count);
	}
}

void
status_sum_free(struct status_sum *s)
{
	free(s->ss_recent);
	free(s->ss_top[0]);
	free(s->ss_top[1]);
	free(s);
}

/* Seconds since the daemon started. */
long long
status_uptime(void)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((long long)(now.tv_sec - started.tv_sec));
}

/* Read the whole file path into *body (free it); 0, or -1. */
static int
read_all(const char *path, char **body, size_t *len)
{
	FILE	*f;
	char	*b = NULL;
	size_t	 n = 0, cap = 0, got;

	if ((f = fopen(path, "rb")) == NULL)
		return (-1);
	do {
		if (cap - n < 65536)
			b = xreallocarray(b, (cap = cap * 2 + 65536), 1);
		got = fread(b + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		fclose(f);
		free(b);
		return (-1);
	}
	fclose(f);
	*body = b;
	*len = n;
	return (0);
}

/*
 * The running configuration is cf, generation gen, loaded at loaded
 * (main thread, at start and after each reload): the SHA-256 digest of
 * each of its rule files is taken now (-: unreadable).
 */
void
status_publish(const struct hg_config *cf, unsigned gen, time_t loaded)
{
	struct status_conf	 n, old;
	uint8_t			 sum[32];
	char			*body;
	size_t			 i, len;

	if (started.tv_sec == 0)
		clock_gettime(CLOCK_MONOTONIC, &started);
	memset(&n, 0, sizeof n);
	n.sc_gen = gen;
	n.sc_loaded = loaded;
	n.sc_nfiles = ruleset_nfiles(cf->cf_rules);
	n.sc_files = xcalloc(n.sc_nfiles + 1, sizeof *n.sc_files);
	n.sc_digest = xcalloc(n.sc_nfiles + 1, sizeof *n.sc_digest);
	for (i = 0; i < n.sc_nfiles; i++) {
		n.sc_files[i] = xstrdup(ruleset_file(cf->cf_rules,
		    (uint32_t)i));
		if (read_all(n.sc_files[i], &body, &len) == 0) {
			tls_sha256(body, len, sum);
			sha256_hex(sum, n.sc_digest[i]);
			free(body);
		} else
			copy(n.sc_digest[i], sizeof n.sc_digest[i], "-");
	}
	pthread_mutex_lock(&conf_mtx);
	old = conf;
	conf = n;
	pthread_mutex_unlock(&conf_mtx);
	for (i = 0; i < old.sc_nfiles; i++)
		free(old.sc_files[i]);
	free(old.sc_files);
	free(old.sc_digest);
}

/*
 * Call fn for the running configuration's generation and load time (file
 * NULL), then for each rule file with its digest, under the lock.
 */
void
status_conf_each(void (*fn)(unsigned, time_t, const char *, const char *,
    void *), void *arg)
{
	size_t	i;

	pthread_mutex_lock(&conf_mtx);
	fn(conf.sc_gen, conf.sc_loaded, NULL, NULL, arg);
	for (i = 0; i < conf.sc_nfiles; i++)
		fn(conf.sc_gen, conf.sc_loaded, conf.sc_files[i],
		    conf.sc_digest[i], arg);
	pthread_mutex_unlock(&conf_mtx);
}
