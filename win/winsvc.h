/*
 * winsvc.h -- what the files of `hushgate service` share: the options,
 * paths and names (svcutil.c) and the service process (svcrun.c).
 */
#ifndef HG_WINSVC_H
#define HG_WINSVC_H

#include <winsock2.h>	/* before windows.h, which would bring winsock.h */
#include <windows.h>
#include <shlobj.h>

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <wchar.h>

#include "proxy/proxy.h"
#include "cmd/cmd.h"

#define SVC_DEFAULT_NAME	L"hushgate"
#define SVC_DISPLAY_NAME	L"hushgate filtering proxy"
#define SVC_DESCRIPTION	L"Filtering HTTP CONNECT proxy on 127.0.0.1: " \
	L"denies telemetry hosts by rule, allows the rest. Configuration " \
	L"and log in %ProgramData%\\hushgate."
#define SVC_EVENTLOG_KEY	\
	L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\"
#define SVC_MAX_NAME		64
#define SVC_CMDLINE_MAX		(3 * MAX_PATH + 64)

/* How long the command-line tools wait for the service to reach a state.
 * The proxy drains open connections on stop (timeouts: drain, 10 s by
 * default), so stop allows well over that. */
#define SVC_START_WAIT_MS	60000
#define SVC_STOP_WAIT_MS	90000
#define SVC_CHECK_WAIT_MS	120000
#define SVC_POLL_MS		250

/* The service thread tells the SCM it is still making progress this
 * often while it starts or stops. */
#define SVC_TICK_MS		2000
/* Without a "workers started" line (the log level may hide info lines)
 * the service reports running after this long. */
#define SVC_READY_FALLBACK_MS	10000

/* Event IDs of the message table (1 error, 2 warning, 3 information; each
 * message is the line itself). */
#define SVC_EVENT_ERROR		1
#define SVC_EVENT_WARNING	2
#define SVC_EVENT_INFO		3

struct svc_opts {
	wchar_t		 name[SVC_MAX_NAME + 1];
	const char	*config;	/* -c, or NULL for the default */
	const char	*log;		/* --log, or NULL for the default */
	const char	*account;	/* --account, or NULL */
};

/* svcutil.c */
void		 svc_usage(FILE *);
const char	*svc_strerror(DWORD);
void		 svc_err(const char *, DWORD);
wchar_t		*svc_widen(const char *);
char		*svc_narrow(const wchar_t *);
int		 svc_data_path(const wchar_t *, wchar_t *, size_t);
int		 svc_full_path(const char *, wchar_t *, size_t);
int		 svc_exe_path(wchar_t *, size_t);
int		 svc_set_name(const char *, wchar_t *);
int		 svc_parse(int, char **, struct svc_opts *, int, int);

/* svcrun.c: `service run` */
int		 svc_run(int, char **);

#endif /* HG_WINSVC_H */
