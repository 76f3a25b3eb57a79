/*
 * download.h -- the url: lists: one HTTPS download (fetch.c), and keeping
 * the cached copies current (refresh.c).
 */
#ifndef HG_DOWNLOAD_H
#define HG_DOWNLOAD_H

#include "proxy/proxy.h"

/* fetch.c: one HTTPS download of a list */
#define HG_FETCH_MAX_REDIRECTS	5

struct fetch;
/* Progress of the body: bytes so far, and the size the answer gave
 * (Content-Length), 0 when unknown; called with the fetch's arg, from
 * the event loop, whenever more has come. It must not cancel the fetch. */
typedef void (*fetch_progress_cb)(uint64_t, uint64_t, void *);
struct fetch_req {
	const char	*fq_url;
	const char	*fq_etag;	/* If-None-Match; NULL or "" = none */
	const char	*fq_modified;	/* If-Modified-Since */
	const char	*fq_ca_file;	/* NULL: the system bundle */
	uint64_t	 fq_max_bytes;
	unsigned	 fq_timeout;	/* ms, the whole download */
	fetch_progress_cb fq_progress;	/* NULL: none */
};
struct fetch_result {
	int		 fr_ok;		/* 200 with a whole body, or 304 */
	int		 fr_status;
	char		*fr_error;	/* why, when not ok */
	struct evbuffer	*fr_body;	/* the callback may take it */
	char		 fr_etag[HG_MAX_VALIDATOR];
	char		 fr_modified[HG_MAX_VALIDATOR];
};
typedef void (*fetch_cb)(struct fetch_result *, void *);
struct fetch	*fetch_start(struct event_base *, struct evdns_base *,
		    const struct fetch_req *, fetch_cb, void *);
void		 fetch_cancel(struct fetch *);

/* refresh.c: url: lists kept current */
struct refresher;
struct refresher *refresh_new(struct event_base *, struct evdns_base *,
		    void (*)(void *), void *);
void		 refresh_sync(struct refresher *, const struct hg_config *);
void		 refresh_free(struct refresher *);
int		 refresh_now(struct refresher *);
const char	*refresh_last(const struct refresher *, const char *,
		    time_t *);
int		 refresh_update_all(struct hg_config *);
void		 refresh_on_result(struct refresher *, void (*)(void *,
		    const char *, const char *, time_t), void *);

#endif /* HG_DOWNLOAD_H */
