/*
 * loadgen.h -- what the load generator's files share: the options (set by
 * main in loadgen.c), the few helpers every part uses and the commands.
 *
 * The calls go one way: loadgen.c -> loadgen_oneshot.c -> loadgen_clients.c,
 * and loadgen.c -> loadgen_clients.c.
 */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define BIGBUF (256 * 1024)
#define MAX_TARGETS 64
#define HELLO_MAX 1024 /* bound on the --client-hello record */

enum mode { M_TUNNELS, M_DENY, M_BULK, M_IDLE, M_HTTP };

/* loadgen_clients.c: the options */
extern enum mode mode;
extern struct sockaddr_in dst;
extern int use_proxy;
extern char *targets[MAX_TARGETS];
extern int ntargets;
extern int conc;
extern double duration, warmup, op_timeout;
extern uint64_t max_ops;
extern int bulk_tunnels;
extern double bulk_mib;
extern int bulk_down;
extern double max_secs;
extern double hold_secs;
extern int expect_status;
extern const char *label;

/* loadgen_clients.c: the run state main sets up */
extern int epfd;
extern char bigbuf[BIGBUF];
extern volatile sig_atomic_t got_signal;

/* loadgen_clients.c: helpers */
double now_s(void);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
int parse_status(const char *b, size_t n);
void set_client_hello(const char *name);
extern unsigned char hello[HELLO_MAX];
extern size_t hello_len;

/* loadgen_clients.c: the epoll client modes */
int run_closed_loop(void);
int run_bulk(void);
int run_idle(int n);

/* loadgen_oneshot.c: the one-shot commands */
int run_startup(int argc, char **argv, const char *ready_line, int ready_port,
		const char *probe, int cpu, double timeout, const char *logpath);
int run_freeport(int n);

#endif
