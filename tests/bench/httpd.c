/*
 * httpd.c -- the origin server of the plain-HTTP benchmark: HTTP/1.1 with
 * keep-alive on 127.0.0.1 (port chosen at run time, printed as
 * "http 127.0.0.1:PORT"), every request answered 200 with a 64-byte body.
 * Stops on SIGTERM/SIGINT or after --lifetime seconds (default 900).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

static void
reply(struct evhttp_request *req, void *arg)
{
	static const char body[] =
	    "0123456789abcdef0123456789abcdef0123456789abcdef012345678\n";
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);

	(void)arg;
	evbuffer_add(out, body, sizeof body - 1);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void
stop(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

int
main(int argc, char **argv)
{
	struct event_base		*base;
	struct evhttp			*http;
	struct evhttp_bound_socket	*bs;
	struct sockaddr_storage		 ss;
	ev_socklen_t			 len = sizeof ss;
	struct timeval			 life = { 900, 0 };
	int				 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--lifetime") == 0 && i + 1 < argc)
			life.tv_sec = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: httpd [--lifetime SECS]\n");
			return (2);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = evhttp_new(base);
	evhttp_set_gencb(http, reply, NULL);
	bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	if (bs == NULL) {
		fprintf(stderr, "httpd: cannot listen\n");
		return (1);
	}
	getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
	    &len);
	printf("http 127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
	fflush(stdout);
	event_add(evsignal_new(base, SIGTERM, stop, base), NULL);
	event_add(evsignal_new(base, SIGINT, stop, base), NULL);
	event_base_loopexit(base, &life);
	event_base_dispatch(base);
	return (0);
}
