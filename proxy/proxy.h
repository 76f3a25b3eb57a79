/*
 * proxy.h -- the daemon and the command line: everything that touches a
 * socket.
 */
#ifndef HG_PROXY_H
#define HG_PROXY_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include "rules/rules.h"

#define HG_MAX_REQUEST_HEAD	8192	/* request line + headers (431) */
#define HG_MAX_HEADERS		100	/* header lines in one head (431) */
#define HG_RELAY_HIGH_WATER	(512 * 1024)	/* stop reading the peer */
#define HG_RELAY_LOW_WATER	(128 * 1024)	/* resume reading */
#define HG_RELAY_READ_MAX	(256 * 1024)	/* one read from a socket */
#define HG_LINGER_MS		2000	/* drain input after a final answer */
#define HG_MAX_DLOG_LINE	4096	/* one decision log line */

struct event_base;
struct evconnlistener;
struct evdns_base;
struct bufferevent;
struct event;
struct evdns_getaddrinfo_request;
struct evutil_addrinfo;

/* log.c */
enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO,
    LOG_LVL_DEBUG };
void		 log_init(int);
void		 log_set_level(int);
int		 log_get_level(void);
void		 log_warn(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_warnx(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_info(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_debug(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 fatal(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
void		 fatalx(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
void		 log_libevent(int, const char *);

/* http.c: request heads, no libevent here (fuzzed on its own) */
struct http_header {
	const char	*hh_name;
	size_t		 hh_namelen;
	const char	*hh_value;
	size_t		 hh_valuelen;
};

struct http_request {
	const char		*rq_method;
	size_t			 rq_methodlen;
	const char		*rq_target;
	size_t			 rq_targetlen;
	int			 rq_minor;	/* HTTP/1.x */
	struct http_header	 rq_headers[HG_MAX_HEADERS];
	size_t			 rq_nheaders;
};

ssize_t		 http_head_end(const char *, size_t);
int		 http_parse_head(const char *, size_t, struct http_request *,
		    const char **);
int		 http_method_is(const struct http_request *, const char *);

/* dlog.c: the decision log */
struct dlog_record {
	struct timespec	 dr_start;
	const char	*dr_client;
	const char	*dr_method;
	const char	*dr_host;
	int		 dr_port;	/* 0: unknown */
	const char	*dr_action;	/* NULL: none */
	const char	*dr_category;
	const char	*dr_rule_file;
	unsigned	 dr_rule_line;
	int		 dr_status;
	const char	*dr_upstream;
	uint64_t	 dr_bytes_up;
	uint64_t	 dr_bytes_down;
	const char	*dr_end;
};
int		 dlog_open(const char *);
int		 dlog_reopen(void);
void		 dlog_close(void);
void		 dlog_write(const struct dlog_record *);
size_t		 dlog_format(char *, size_t, const struct dlog_record *,
		    const struct timespec *);
size_t		 json_escape(char *, size_t, const char *);

/* worker.c */
struct worker {
	unsigned		 w_id;
	pthread_t		 w_thread;
	struct event_base	*w_base;
	struct evdns_base	*w_dns;
	struct evconnlistener	*w_listeners[HG_MAX_LISTEN];
	size_t			 w_nlisteners;
	struct hg_config	*w_cfg;		/* for new connections */
	unsigned		 w_gen;
	struct event		*w_ev_stop;	/* asks the worker to drain */
	struct event		*w_ev_kill;	/* drain time is over */
	int			 w_stopping;
	unsigned		 w_nconns;
	struct conn		*w_conns;	/* list of open connections */
};

int		 workers_start(struct hg_config *, unsigned);
void		 workers_set_done_event(struct event *);
unsigned	 workers_finished(void);
unsigned	 workers_count(void);
void		 workers_set_config(struct hg_config *, unsigned);
void		 workers_stop(void);
void		 workers_kill(void);
void		 workers_join(void);
unsigned	 workers_open_connections(void);
int		 worker_take_slot(unsigned);
void		 worker_release_slot(void);
void		 worker_refresh_config(struct worker *);

/* conn.c */
void		 conn_accept(struct worker *, int, struct sockaddr *, int);
void		 conn_shutdown_all(struct worker *);
void		 conn_drain_idle(struct worker *);

/* explain.c */
int		 explain_main(struct hg_config *, int, char **);

#endif /* HG_PROXY_H */
