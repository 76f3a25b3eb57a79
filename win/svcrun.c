/*
 * svcrun.c -- `hushgate service run`: the process the service control
 * manager starts. The main thread goes to the SCM's dispatcher; the proxy
 * is served from the service thread (proxy_serve), with stop, shutdown and
 * parameter-change requests mapped to proxy_request_stop() and
 * proxy_request_reload(). Windows only.
 */
#include "config.h"

#include "win/winsvc.h"

/* State of `service run`, shared by the service thread, the control
 * handler (dispatcher thread) and the ticker thread. */
static wchar_t			 run_name[SVC_MAX_NAME + 1] = SVC_DEFAULT_NAME;
static char			*run_config;
static char			*run_log;
static SERVICE_STATUS_HANDLE	 run_status_h;
static SERVICE_STATUS		 run_status;
static CRITICAL_SECTION		 run_mtx;
static HANDLE			 run_ready_ev;	/* the proxy listens */
static HANDLE			 run_done_ev;	/* proxy_serve returned */
static HANDLE			 run_evsrc;	/* Event Log source or NULL */
static int			 run_exit = 0;

/* ---- service run: the process the SCM starts ---- */

static void
run_report(DWORD state, DWORD exit_code, DWORD wait_hint)
{
	EnterCriticalSection(&run_mtx);
	run_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
	run_status.dwCurrentState = state;
	/* Controls are refused while starting: a stop then would race
	 * proxy_serve's setup. */
	run_status.dwControlsAccepted = state == SERVICE_RUNNING ?
	    SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
	    SERVICE_ACCEPT_PARAMCHANGE : 0;
	if (exit_code != 0) {
		run_status.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
		run_status.dwServiceSpecificExitCode = exit_code;
	} else {
		run_status.dwWin32ExitCode = NO_ERROR;
		run_status.dwServiceSpecificExitCode = 0;
	}
	run_status.dwWaitHint = wait_hint;
	if (state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING)
		run_status.dwCheckPoint++;
	else
		run_status.dwCheckPoint = 0;
	SetServiceStatus(run_status_h, &run_status);
	LeaveCriticalSection(&run_mtx);
}

static DWORD
run_state(void)
{
	DWORD	s;

	EnterCriticalSection(&run_mtx);
	s = run_status.dwCurrentState;
	LeaveCriticalSection(&run_mtx);
	return (s);
}

/* Error and warning lines also go to the Event Log; info lines are
 * watched for the one that says the listeners are up. */
static void
run_log_hook(int level, const char *line, size_t len)
{
	const wchar_t	*strs[1];
	wchar_t		*w;
	WORD		 type;
	DWORD		 id;
	int		 n;

	if (level == LOG_LVL_INFO && strstr(line, "worker") != NULL &&
	    strstr(line, " started") != NULL) {
		SetEvent(run_ready_ev);
		return;
	}
	if (level > LOG_LVL_WARN || run_evsrc == NULL)
		return;
	/* The lines are UTF-8 (host names, paths); fall back to the ANSI
	 * code page for anything that is not. */
	n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, line, (int)len,
	    NULL, 0);
	if (n > 0) {
		if ((w = calloc((size_t)n + 1, sizeof *w)) == NULL)
			return;
		MultiByteToWideChar(CP_UTF8, 0, line, (int)len, w, n);
	} else {
		n = MultiByteToWideChar(CP_ACP, 0, line, (int)len, NULL, 0);
		if (n <= 0 || (w = calloc((size_t)n + 1, sizeof *w)) == NULL)
			return;
		MultiByteToWideChar(CP_ACP, 0, line, (int)len, w, n);
	}
	w[n] = L'\0';
	if (level == LOG_LVL_ERROR) {
		type = EVENTLOG_ERROR_TYPE;
		id = SVC_EVENT_ERROR;
	} else {
		type = EVENTLOG_WARNING_TYPE;
		id = SVC_EVENT_WARNING;
	}
	strs[0] = w;
	ReportEventW(run_evsrc, type, 0, id, NULL, 1, 0, strs, NULL);
	free(w);
}

static void
run_event(WORD type, DWORD id, const char *msg)
{
	const wchar_t	*strs[1];
	wchar_t		*w;

	if (run_evsrc == NULL || (w = svc_widen(msg)) == NULL)
		return;
	strs[0] = w;
	ReportEventW(run_evsrc, type, 0, id, NULL, 1, 0, strs, NULL);
	free(w);
}

/* While starting or stopping, tells the SCM every few seconds that the
 * service is making progress (the drain may take as long as the
 * configuration allows); reports running once the listeners are up. */
static DWORD WINAPI
run_ticker(LPVOID arg)
{
	HANDLE		evs[2] = { run_done_ev, run_ready_ev };
	ULONGLONG	t0 = GetTickCount64();
	DWORD		w, s;

	for (;;) {
		s = run_state();
		w = WaitForMultipleObjects(s == SERVICE_START_PENDING ? 2 : 1,
		    evs, FALSE, SVC_TICK_MS);
		if (w == WAIT_OBJECT_0)
			break;
		s = run_state();
		if (s == SERVICE_START_PENDING && (w == WAIT_OBJECT_0 + 1 ||
		    GetTickCount64() - t0 >= SVC_READY_FALLBACK_MS))
			run_report(SERVICE_RUNNING, 0, 0);
		else if (s == SERVICE_START_PENDING ||
		    s == SERVICE_STOP_PENDING)
			run_report(s, 0, 3 * SVC_TICK_MS);
	}
	return (0);
}

static DWORD WINAPI
run_handler(DWORD control, DWORD type, LPVOID data, LPVOID ctx)
{
	switch (control) {
	case SERVICE_CONTROL_STOP:
	case SERVICE_CONTROL_SHUTDOWN:
		if (run_state() == SERVICE_RUNNING)
			run_report(SERVICE_STOP_PENDING, 0, 3 * SVC_TICK_MS);
		proxy_request_stop();
		return (NO_ERROR);
	case SERVICE_CONTROL_PARAMCHANGE:
		proxy_request_reload();
		return (NO_ERROR);
	case SERVICE_CONTROL_INTERROGATE:
		return (NO_ERROR);
	default:
		return (ERROR_CALL_NOT_IMPLEMENTED);
	}
}

static void
run_make_parent(const char *file)
{
	char	*dir, *slash;

	if ((dir = strdup(file)) == NULL)
		return;
	slash = strrchr(dir, '\\');
	if (slash != NULL && slash > dir && slash[-1] != ':') {
		*slash = '\0';
		CreateDirectoryA(dir, NULL);
	}
	free(dir);
}

static void
run_chdir_parent(const char *file)
{
	char	*dir, *slash;

	if ((dir = strdup(file)) == NULL)
		return;
	slash = strrchr(dir, '\\');
	if (slash != NULL) {
		slash[slash > dir && slash[-1] == ':' ? 1 : 0] = '\0';
		if (!SetCurrentDirectoryA(dir))
			log_warnx("cannot change to %s: %s", dir,
			    svc_strerror(GetLastError()));
	}
	free(dir);
}

static void WINAPI
run_service_main(DWORD argc, LPWSTR *argv)
{
	HANDLE	ticker;
	int	fd = -1, rc;
	char	msg[512];

	run_status_h = RegisterServiceCtrlHandlerExW(run_name, run_handler,
	    NULL);
	if (run_status_h == NULL) {
		run_exit = 1;
		return;
	}
	run_report(SERVICE_START_PENDING, 0, 3 * SVC_TICK_MS);
	run_evsrc = RegisterEventSourceW(NULL, run_name);
	log_init(LOG_LVL_INFO);
	/* No console: the lines go to the log file (shared for reading,
	 * appended to across restarts).  Its directory is made if missing:
	 * %ProgramData%\hushgate when the service was installed by hand
	 * with a configuration elsewhere. */
	run_make_parent(run_log);
	fd = _open(run_log, _O_WRONLY | _O_APPEND | _O_CREAT | _O_BINARY,
	    _S_IREAD | _S_IWRITE);
	if (fd == -1) {
		snprintf(msg, sizeof msg, "hushgate: cannot open the log "
		    "file %s: %s; diagnostics go to the Event Log only",
		    run_log, strerror(errno));
		run_event(EVENTLOG_WARNING_TYPE, SVC_EVENT_WARNING, msg);
	} else
		log_set_fd(fd);
	log_set_hook(run_log_hook);
	log_info("service %ls: starting, configuration %s", run_name,
	    run_config);
	/* The SCM starts services in the system directory; relative paths
	 * in the configuration are meant from its own directory. */
	run_chdir_parent(run_config);

	ticker = CreateThread(NULL, 0, run_ticker, NULL, 0, NULL);
	rc = proxy_serve(run_config, 0);
	SetEvent(run_done_ev);
	if (ticker != NULL) {
		WaitForSingleObject(ticker, INFINITE);
		CloseHandle(ticker);
	}
	if (rc != 0) {
		snprintf(msg, sizeof msg, "hushgate: service stopped with "
		    "status %d (configuration %s)", rc, run_config);
		run_event(EVENTLOG_ERROR_TYPE, SVC_EVENT_ERROR, msg);
	}
	log_info("service %ls: stopped (status %d)", run_name, rc);
	log_set_hook(NULL);
	if (fd != -1) {
		log_set_fd(2);
		_close(fd);
	}
	if (run_evsrc != NULL) {
		DeregisterEventSource(run_evsrc);
		run_evsrc = NULL;
	}
	run_exit = rc;
	/* The last report: the SCM may end the process right after it. */
	run_report(SERVICE_STOPPED, (DWORD)rc, 0);
}

int
svc_run(int argc, char **argv)
{
	SERVICE_TABLE_ENTRYW	 table[2];
	struct svc_opts		 o;
	wchar_t			 path[MAX_PATH];
	DWORD			 err;

	if (svc_parse(argc, argv, &o, 1, 0) != 0)
		return (2);
	wcscpy(run_name, o.name);
	if (o.config != NULL)
		run_config = strdup(o.config);
	else if (svc_data_path(L"hushgate.yaml", path, MAX_PATH) == 0)
		run_config = svc_narrow(path);
	if (o.log != NULL)
		run_log = strdup(o.log);
	else if (svc_data_path(L"hushgate.log", path, MAX_PATH) == 0)
		run_log = svc_narrow(path);
	if (run_config == NULL || run_log == NULL) {
		fprintf(stderr, "hushgate service: out of memory\n");
		return (1);
	}
	InitializeCriticalSection(&run_mtx);
	run_ready_ev = CreateEventW(NULL, TRUE, FALSE, NULL);
	run_done_ev = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (run_ready_ev == NULL || run_done_ev == NULL) {
		svc_err("CreateEvent", GetLastError());
		return (1);
	}
	table[0].lpServiceName = run_name;
	table[0].lpServiceProc = run_service_main;
	table[1].lpServiceName = NULL;
	table[1].lpServiceProc = NULL;
	if (!StartServiceCtrlDispatcherW(table)) {
		err = GetLastError();
		if (err == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
			fprintf(stderr, "hushgate service run: this is what "
			    "the service control manager starts, not a "
			    "command for a console; use 'hushgate service "
			    "start', or 'hushgate -c FILE' to run the proxy "
			    "in this window\n");
			return (2);
		}
		svc_err("StartServiceCtrlDispatcher", err);
		return (1);
	}
	return (run_exit);
}

