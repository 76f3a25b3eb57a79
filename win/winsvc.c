/*
 * winsvc.c -- `hushgate service install|uninstall|start|stop|reload|status|
 * run`: the proxy as a Windows service, managed through the service control
 * manager (SCM).  Windows only.
 *
 * install registers a service whose command line is
 *	"<this exe>" service run -c "<config>"
 * and the Event Log source of the same name; run is what the SCM starts: it
 * hands the main thread to the SCM's dispatcher and serves the proxy from
 * the service thread (proxy_serve, svcrun.c), with stop, shutdown and parameter-change
 * requests mapped to proxy_request_stop() and proxy_request_reload().
 */
#include "config.h"

#include "win/winsvc.h"

static SC_HANDLE
svc_open_scm(DWORD access)
{
	SC_HANDLE	scm;

	if ((scm = OpenSCManagerW(NULL, NULL, access)) == NULL)
		svc_err("cannot open the service control manager",
		    GetLastError());
	return (scm);
}

static SC_HANDLE
svc_open(SC_HANDLE scm, const wchar_t *name, DWORD access)
{
	SC_HANDLE	svc;
	DWORD		err;
	char		what[128];

	if ((svc = OpenServiceW(scm, name, access)) != NULL)
		return (svc);
	err = GetLastError();
	if (err == ERROR_SERVICE_DOES_NOT_EXIST) {
		fprintf(stderr, "hushgate service: no service named '%ls' is "
		    "installed (hushgate service install)\n", name);
		SetLastError(err);
		return (NULL);
	}
	snprintf(what, sizeof what, "service '%ls'", name);
	svc_err(what, err);
	SetLastError(err);
	return (NULL);
}

/*
 * The start of start, stop and reload: the options, the SCM and the
 * service opened with access. Returns 0 with both handles, else the exit
 * status (2: usage, 1: error) with nothing left open.
 */
static int
svc_begin(int argc, char **argv, DWORD access, struct svc_opts *o,
    SC_HANDLE *scm, SC_HANDLE *svc)
{
	if (svc_parse(argc, argv, o, 0, 0) != 0)
		return (2);
	if ((*scm = svc_open_scm(SC_MANAGER_CONNECT)) == NULL)
		return (1);
	if ((*svc = svc_open(*scm, o->name, access)) == NULL) {
		CloseServiceHandle(*scm);
		return (1);
	}
	return (0);
}

static const char *
svc_state_name(DWORD state)
{
	switch (state) {
	case SERVICE_STOPPED:		return ("stopped");
	case SERVICE_START_PENDING:	return ("starting");
	case SERVICE_STOP_PENDING:	return ("stopping");
	case SERVICE_RUNNING:		return ("running");
	case SERVICE_CONTINUE_PENDING:	return ("continuing");
	case SERVICE_PAUSE_PENDING:	return ("pausing");
	case SERVICE_PAUSED:		return ("paused");
	default:			return ("unknown");
	}
}

static int
svc_query(SC_HANDLE svc, SERVICE_STATUS_PROCESS *st)
{
	DWORD	need;

	if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (LPBYTE)st,
	    sizeof *st, &need)) {
		svc_err("QueryServiceStatusEx", GetLastError());
		return (-1);
	}
	return (0);
}

/* Polls until the service leaves the pending state `pending` or the wait
 * is over; returns the last state, or -1. */
static int
svc_wait(SC_HANDLE svc, DWORD pending, DWORD max_ms,
    SERVICE_STATUS_PROCESS *st)
{
	ULONGLONG	end = GetTickCount64() + max_ms;

	for (;;) {
		if (svc_query(svc, st) != 0)
			return (-1);
		if (st->dwCurrentState != pending)
			return ((int)st->dwCurrentState);
		if (GetTickCount64() >= end)
			return ((int)st->dwCurrentState);
		Sleep(SVC_POLL_MS);
	}
}

/* Why a stopped service stopped, in words. */
static void
svc_print_exit(const SERVICE_STATUS_PROCESS *st)
{
	if (st->dwWin32ExitCode == ERROR_SERVICE_NEVER_STARTED)
		return;
	if (st->dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR)
		fprintf(stderr, "hushgate service: the proxy exited with "
		    "status %lu\n", (unsigned long)st->dwServiceSpecificExitCode);
	else if (st->dwWin32ExitCode != NO_ERROR)
		fprintf(stderr, "hushgate service: exit code %lu: %s\n",
		    (unsigned long)st->dwWin32ExitCode,
		    svc_strerror(st->dwWin32ExitCode));
}

/* Runs `"<exe>" -t -c "<config>"` with our standard handles, so its
 * "configuration OK" or its errors reach the user; returns its exit
 * status, or -1 if it could not run. */
static int
svc_check_config(const wchar_t *exe, const wchar_t *config)
{
	wchar_t			 cmd[SVC_CMDLINE_MAX];
	STARTUPINFOW		 si;
	PROCESS_INFORMATION	 pi;
	DWORD			 code, w;
	int			 r;

	r = _snwprintf(cmd, SVC_CMDLINE_MAX, L"\"%ls\" -t -c \"%ls\"", exe,
	    config);
	if (r < 0 || r >= SVC_CMDLINE_MAX)
		return (-1);
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
	si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
	si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
	fflush(stdout);
	fflush(stderr);
	if (!CreateProcessW(exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si,
	    &pi)) {
		svc_err("cannot run the configuration check", GetLastError());
		return (-1);
	}
	w = WaitForSingleObject(pi.hProcess, SVC_CHECK_WAIT_MS);
	if (w != WAIT_OBJECT_0) {
		TerminateProcess(pi.hProcess, 1);
		fprintf(stderr, "hushgate service: the configuration check "
		    "did not finish in %d s\n", SVC_CHECK_WAIT_MS / 1000);
		code = 1;
	} else if (!GetExitCodeProcess(pi.hProcess, &code))
		code = 1;
	CloseHandle(pi.hThread);
	CloseHandle(pi.hProcess);
	return ((int)code);
}

/* The Event Log source: without it ReportEvent still works, but the
 * Event Viewer cannot name the source or find the message text. */
static int
svc_eventlog_add(const wchar_t *name, const wchar_t *exe)
{
	wchar_t	key[sizeof SVC_EVENTLOG_KEY / sizeof(wchar_t) + SVC_MAX_NAME];
	HKEY	hk;
	DWORD	types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE |
		    EVENTLOG_INFORMATION_TYPE;
	LONG	r;

	_snwprintf(key, sizeof key / sizeof key[0], L"%ls%ls",
	    SVC_EVENTLOG_KEY, name);
	key[sizeof key / sizeof key[0] - 1] = L'\0';
	r = RegCreateKeyExW(HKEY_LOCAL_MACHINE, key, 0, NULL, 0,
	    KEY_SET_VALUE, NULL, &hk, NULL);
	if (r != ERROR_SUCCESS) {
		svc_err("cannot register the Event Log source", (DWORD)r);
		return (-1);
	}
	r = RegSetValueExW(hk, L"EventMessageFile", 0, REG_EXPAND_SZ,
	    (const BYTE *)exe, (DWORD)((wcslen(exe) + 1) * sizeof(wchar_t)));
	if (r == ERROR_SUCCESS)
		r = RegSetValueExW(hk, L"TypesSupported", 0, REG_DWORD,
		    (const BYTE *)&types, sizeof types);
	RegCloseKey(hk);
	if (r != ERROR_SUCCESS) {
		svc_err("cannot register the Event Log source", (DWORD)r);
		return (-1);
	}
	return (0);
}

static int
svc_eventlog_remove(const wchar_t *name)
{
	wchar_t	key[sizeof SVC_EVENTLOG_KEY / sizeof(wchar_t) + SVC_MAX_NAME];
	LONG	r;

	_snwprintf(key, sizeof key / sizeof key[0], L"%ls%ls",
	    SVC_EVENTLOG_KEY, name);
	key[sizeof key / sizeof key[0] - 1] = L'\0';
	r = RegDeleteKeyW(HKEY_LOCAL_MACHINE, key);
	if (r != ERROR_SUCCESS && r != ERROR_FILE_NOT_FOUND) {
		svc_err("cannot remove the Event Log source", (DWORD)r);
		return (-1);
	}
	return (0);
}

static int
svc_install(int argc, char **argv)
{
	struct svc_opts			 o;
	wchar_t				 exe[MAX_PATH], config[MAX_PATH];
	wchar_t				 logf[MAX_PATH], cmd[SVC_CMDLINE_MAX];
	const wchar_t			*account = NULL;
	SC_HANDLE			 scm, svc;
	SERVICE_DESCRIPTIONW		 desc;
	SERVICE_FAILURE_ACTIONSW	 fa;
	SERVICE_FAILURE_ACTIONS_FLAG	 faf;
	SC_ACTION			 acts[3];
	DWORD				 attr, err;
	size_t				 i;
	int				 r;

	if (svc_parse(argc, argv, &o, 1, 1) != 0)
		return (2);
	/* LocalSystem by default: the service reads its configuration and
	 * writes its logs in %ProgramData%\hushgate, which the installer
	 * restricts to SYSTEM and Administrators so that an unprivileged
	 * user cannot change the rules; and it must start at boot with no
	 * password to manage.  LocalService (fewer rights, no admin
	 * token) works too when the data directory grants it write access
	 * to the log files. */
	if (o.account != NULL) {
		if (_stricmp(o.account, "localsystem") == 0)
			account = NULL;
		else if (_stricmp(o.account, "localservice") == 0)
			account = L"NT AUTHORITY\\LocalService";
		else {
			fprintf(stderr, "hushgate service: --account: "
			    "localsystem or localservice\n");
			return (2);
		}
	}
	if (svc_exe_path(exe, MAX_PATH) != 0)
		return (1);
	if (o.config != NULL) {
		if (svc_full_path(o.config, config, MAX_PATH) != 0)
			return (1);
	} else if (svc_data_path(L"hushgate.yaml", config, MAX_PATH) != 0)
		return (1);
	attr = GetFileAttributesW(config);
	if (attr == INVALID_FILE_ATTRIBUTES ||
	    (attr & FILE_ATTRIBUTE_DIRECTORY) != 0) {
		fprintf(stderr, "hushgate service: %ls: no such file; copy "
		    "hushgate.yaml there or name one with -c\n", config);
		return (1);
	}
	r = _snwprintf(cmd, SVC_CMDLINE_MAX, L"\"%ls\" service run -c "
	    L"\"%ls\"", exe, config);
	if (r < 0 || r >= SVC_CMDLINE_MAX)
		return (1);
	if (o.log != NULL) {
		size_t	len = (size_t)r;

		if (svc_full_path(o.log, logf, MAX_PATH) != 0)
			return (1);
		r = _snwprintf(cmd + len, SVC_CMDLINE_MAX - len,
		    L" --log \"%ls\"", logf);
		if (r < 0 || (size_t)r >= SVC_CMDLINE_MAX - len)
			return (1);
	}
	if (wcscmp(o.name, SVC_DEFAULT_NAME) != 0) {
		size_t	len = wcslen(cmd);

		r = _snwprintf(cmd + len, SVC_CMDLINE_MAX - len,
		    L" --name %ls", o.name);
		if (r < 0 || (size_t)r >= SVC_CMDLINE_MAX - len)
			return (1);
	}

	/* The same check as `hushgate -t`, by the same program the
	 * service will run, before anything is registered. */
	r = svc_check_config(exe, config);
	if (r != 0) {
		fprintf(stderr, "hushgate service: %ls does not check out "
		    "(see above); the service was not installed\n", config);
		return (1);
	}

	if ((scm = svc_open_scm(SC_MANAGER_CONNECT |
	    SC_MANAGER_CREATE_SERVICE)) == NULL)
		return (1);
	/* Automatic start: the telemetry services start at boot, and the
	 * proxy has to be there first.  No dependency is declared: TCP/IP
	 * is a boot driver, up before any automatic service starts. */
	svc = CreateServiceW(scm, o.name, SVC_DISPLAY_NAME,
	    SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
	    SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL, account, NULL);
	if (svc == NULL) {
		err = GetLastError();
		if (err == ERROR_SERVICE_EXISTS ||
		    err == ERROR_DUPLICATE_SERVICE_NAME)
			fprintf(stderr, "hushgate service: a service named "
			    "'%ls' exists already (hushgate service "
			    "uninstall first, or choose another --name)\n",
			    o.name);
		else if (err == ERROR_SERVICE_MARKED_FOR_DELETE)
			fprintf(stderr, "hushgate service: '%ls' is still "
			    "being deleted: close the Services console and "
			    "try again\n", o.name);
		else
			svc_err("cannot create the service", err);
		CloseServiceHandle(scm);
		return (1);
	}
	desc.lpDescription = (wchar_t *)SVC_DESCRIPTION;
	if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &desc))
		fprintf(stderr, "hushgate service: warning: cannot set the "
		    "description: %s\n", svc_strerror(GetLastError()));
	/* Restart 5 s after a failure, again and again (the last action
	 * repeats); a day without failure resets the count.  Non-crash
	 * failures count too: a proxy that stops with an error status
	 * (say a listen address taken at boot) is retried. */
	for (i = 0; i < 3; i++) {
		acts[i].Type = SC_ACTION_RESTART;
		acts[i].Delay = 5000;
	}
	memset(&fa, 0, sizeof fa);
	fa.dwResetPeriod = 86400;
	fa.cActions = 3;
	fa.lpsaActions = acts;
	if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa))
		fprintf(stderr, "hushgate service: warning: cannot set the "
		    "restart on failure: %s\n", svc_strerror(GetLastError()));
	faf.fFailureActionsOnNonCrashFailures = TRUE;
	if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG,
	    &faf))
		fprintf(stderr, "hushgate service: warning: cannot make "
		    "error exits restart: %s\n", svc_strerror(GetLastError()));
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	if (svc_eventlog_add(o.name, exe) != 0)
		fprintf(stderr, "hushgate service: warning: errors will "
		    "reach the Event Log without a named source\n");
	printf("service '%ls' installed (automatic start): %ls\n", o.name,
	    cmd);
	printf("start it now with: hushgate service start%s%ls\n",
	    wcscmp(o.name, SVC_DEFAULT_NAME) != 0 ? " --name " : "",
	    wcscmp(o.name, SVC_DEFAULT_NAME) != 0 ? o.name : L"");
	return (0);
}

/* Asks a running service to stop and waits for it; 0 when stopped. */
static int
svc_stop_wait(SC_HANDLE svc, const wchar_t *name, int quiet_if_stopped)
{
	SERVICE_STATUS		ss;
	SERVICE_STATUS_PROCESS	st;
	DWORD			err;
	int			state;

	if (!ControlService(svc, SERVICE_CONTROL_STOP, &ss)) {
		err = GetLastError();
		if (err == ERROR_SERVICE_NOT_ACTIVE) {
			if (!quiet_if_stopped)
				printf("service '%ls' is not running\n", name);
			return (0);
		}
		if (err != ERROR_SERVICE_CANNOT_ACCEPT_CTRL) {
			svc_err("cannot stop the service", err);
			return (-1);
		}
		/* Starting or stopping already: wait for it below. */
	}
	state = svc_wait(svc, SERVICE_STOP_PENDING, SVC_STOP_WAIT_MS, &st);
	if (state == SERVICE_START_PENDING) {
		/* A stop request during start is refused; retry once it
		 * runs. */
		state = svc_wait(svc, SERVICE_START_PENDING,
		    SVC_START_WAIT_MS, &st);
		if (state == SERVICE_RUNNING &&
		    ControlService(svc, SERVICE_CONTROL_STOP, &ss))
			state = svc_wait(svc, SERVICE_STOP_PENDING,
			    SVC_STOP_WAIT_MS, &st);
	}
	if (state != SERVICE_STOPPED) {
		fprintf(stderr, "hushgate service: '%ls' did not stop within "
		    "%d s (state: %s)\n", name, SVC_STOP_WAIT_MS / 1000,
		    state < 0 ? "unknown" : svc_state_name((DWORD)state));
		return (-1);
	}
	printf("service '%ls' stopped\n", name);
	svc_print_exit(&st);
	return (0);
}

static int
svc_uninstall(int argc, char **argv)
{
	struct svc_opts	o;
	SC_HANDLE	scm, svc;
	DWORD		err;
	int		rc = 0;

	if (svc_parse(argc, argv, &o, 0, 0) != 0)
		return (2);
	if ((scm = svc_open_scm(SC_MANAGER_CONNECT)) == NULL)
		return (1);
	svc = svc_open(scm, o.name, SERVICE_STOP | SERVICE_QUERY_STATUS |
	    DELETE);
	if (svc == NULL) {
		err = GetLastError();
		CloseServiceHandle(scm);
		if (err == ERROR_SERVICE_DOES_NOT_EXIST) {
			/* The Event Log source may be left from an earlier
			 * half-done removal. */
			svc_eventlog_remove(o.name);
		}
		return (1);
	}
	if (svc_stop_wait(svc, o.name, 1) != 0)
		rc = 1;
	else if (!DeleteService(svc)) {
		err = GetLastError();
		if (err == ERROR_SERVICE_MARKED_FOR_DELETE)
			fprintf(stderr, "hushgate service: '%ls' is already "
			    "marked for deletion: it goes once every handle "
			    "to it (the Services console) is closed\n",
			    o.name);
		else
			svc_err("cannot delete the service", err);
		rc = 1;
	}
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	if (rc != 0)
		return (rc);
	if (svc_eventlog_remove(o.name) != 0)
		rc = 1;
	printf("service '%ls' removed\n", o.name);
	return (rc);
}

static int
svc_start(int argc, char **argv)
{
	struct svc_opts		o;
	SC_HANDLE		scm, svc;
	SERVICE_STATUS_PROCESS	st;
	DWORD			err;
	int			state, rc = 0;

	if ((rc = svc_begin(argc, argv, SERVICE_START | SERVICE_QUERY_STATUS,
	    &o, &scm, &svc)) != 0)
		return (rc);
	if (!StartServiceW(svc, 0, NULL)) {
		err = GetLastError();
		if (err != ERROR_SERVICE_ALREADY_RUNNING) {
			svc_err("cannot start the service", err);
			rc = 1;
			goto out;
		}
	}
	/* Running means listening: the service reports it once the
	 * proxy's sockets are bound. */
	state = svc_wait(svc, SERVICE_START_PENDING, SVC_START_WAIT_MS, &st);
	if (state == SERVICE_RUNNING)
		printf("service '%ls' running (pid %lu)\n", o.name,
		    (unsigned long)st.dwProcessId);
	else if (state == SERVICE_STOPPED) {
		fprintf(stderr, "hushgate service: '%ls' stopped while "
		    "starting; its log (%%ProgramData%%\\hushgate\\"
		    "hushgate.log unless --log) and the Event Log say why\n",
		    o.name);
		svc_print_exit(&st);
		rc = 1;
	} else {
		fprintf(stderr, "hushgate service: '%ls' is %s after %d s\n",
		    o.name, state < 0 ? "unknown" :
		    svc_state_name((DWORD)state), SVC_START_WAIT_MS / 1000);
		rc = 1;
	}
out:
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	return (rc);
}

static int
svc_stop(int argc, char **argv)
{
	struct svc_opts	o;
	SC_HANDLE	scm, svc;
	int		rc;

	if ((rc = svc_begin(argc, argv, SERVICE_STOP | SERVICE_QUERY_STATUS,
	    &o, &scm, &svc)) != 0)
		return (rc);
	rc = svc_stop_wait(svc, o.name, 0) == 0 ? 0 : 1;
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	return (rc);
}

/* Like SIGHUP on Unix: the service rereads its configuration; a file
 * that does not load leaves the old rules in force. */
static int
svc_reload(int argc, char **argv)
{
	struct svc_opts	o;
	SC_HANDLE	scm, svc;
	SERVICE_STATUS	ss;
	int		rc = 0;

	if ((rc = svc_begin(argc, argv, SERVICE_PAUSE_CONTINUE, &o, &scm,
	    &svc)) != 0)
		return (rc);
	if (!ControlService(svc, SERVICE_CONTROL_PARAMCHANGE, &ss)) {
		svc_err("cannot send the reload request", GetLastError());
		rc = 1;
	} else
		printf("service '%ls': reload requested (the log says if "
		    "the new configuration was taken)\n", o.name);
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	return (rc);
}

/* Exit status as with LSB init scripts: 0 running, 3 not running, 4 not
 * installed, 1 other errors. */
static int
svc_status(int argc, char **argv)
{
	struct svc_opts		 o;
	SC_HANDLE		 scm, svc;
	SERVICE_STATUS_PROCESS	 st;
	QUERY_SERVICE_CONFIGW	*qc = NULL;
	DWORD			 need = 0, err;
	int			 rc;

	if (svc_parse(argc, argv, &o, 0, 0) != 0)
		return (2);
	if ((scm = svc_open_scm(SC_MANAGER_CONNECT)) == NULL)
		return (1);
	svc = OpenServiceW(scm, o.name, SERVICE_QUERY_STATUS |
	    SERVICE_QUERY_CONFIG);
	if (svc == NULL) {
		err = GetLastError();
		CloseServiceHandle(scm);
		if (err == ERROR_SERVICE_DOES_NOT_EXIST) {
			printf("service '%ls': not installed\n", o.name);
			return (4);
		}
		svc_err("cannot open the service", err);
		return (1);
	}
	if (svc_query(svc, &st) != 0) {
		rc = 1;
		goto out;
	}
	printf("service '%ls': %s", o.name, svc_state_name(st.dwCurrentState));
	if (st.dwProcessId != 0)
		printf(" (pid %lu)", (unsigned long)st.dwProcessId);
	printf("\n");
	if (!QueryServiceConfigW(svc, NULL, 0, &need) &&
	    GetLastError() == ERROR_INSUFFICIENT_BUFFER &&
	    (qc = malloc(need)) != NULL &&
	    QueryServiceConfigW(svc, qc, need, &need)) {
		printf("start: %s\n", qc->dwStartType == SERVICE_AUTO_START ?
		    "automatic" : qc->dwStartType == SERVICE_DEMAND_START ?
		    "manual" : qc->dwStartType == SERVICE_DISABLED ?
		    "disabled" : "other");
		printf("command: %ls\n", qc->lpBinaryPathName);
		printf("account: %ls\n", qc->lpServiceStartName != NULL &&
		    qc->lpServiceStartName[0] != L'\0' ?
		    qc->lpServiceStartName : L"LocalSystem");
	}
	free(qc);
	if (st.dwCurrentState == SERVICE_STOPPED)
		svc_print_exit(&st);
	rc = st.dwCurrentState == SERVICE_STOPPED ? 3 : 0;
out:
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	return (rc);
}

int
winsvc_main(int argc, char **argv)
{
	const char	*cmd;

	if (argc < 2) {
		svc_usage(stderr);
		return (2);
	}
	cmd = argv[1];
	if (strcmp(cmd, "install") == 0)
		return (svc_install(argc, argv));
	if (strcmp(cmd, "uninstall") == 0)
		return (svc_uninstall(argc, argv));
	if (strcmp(cmd, "start") == 0)
		return (svc_start(argc, argv));
	if (strcmp(cmd, "stop") == 0)
		return (svc_stop(argc, argv));
	if (strcmp(cmd, "reload") == 0)
		return (svc_reload(argc, argv));
	if (strcmp(cmd, "status") == 0)
		return (svc_status(argc, argv));
	if (strcmp(cmd, "run") == 0)
		return (svc_run(argc, argv));
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		svc_usage(stdout);
		return (0);
	}
	svc_usage(stderr);
	return (2);
}

