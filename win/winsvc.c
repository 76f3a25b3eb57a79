/*
 * winsvc.c -- `hushgate service install|uninstall|start|stop|reload|status|
 * run`: the proxy as a Windows service, managed through the service control
 * manager (SCM).  Windows only.
 *
 * install registers a service whose command line is
 *	"<this exe>" service run -c "<config>"
 * and the Event Log source of the same name; run is what the SCM starts: it
 * hands the main thread to the SCM's dispatcher and serves the proxy from
 * the service thread (proxy_serve), with stop, shutdown and parameter-change
 * requests mapped to proxy_request_stop() and proxy_request_reload().
 */
#include "config.h"

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

static void
svc_usage(FILE *f)
{
	fprintf(f,
	    "usage: hushgate service install [-c FILE] [--name NAME] "
	    "[--log FILE]\n"
	    "                                [--account localsystem|"
	    "localservice]\n"
	    "       hushgate service uninstall|start|stop|reload|status "
	    "[--name NAME]\n"
	    "       hushgate service run [-c FILE] [--name NAME] "
	    "[--log FILE]\n"
	    "FILE defaults to %%ProgramData%%\\hushgate\\hushgate.yaml, the "
	    "log to\n"
	    "%%ProgramData%%\\hushgate\\hushgate.log; install, uninstall, "
	    "start, stop and\n"
	    "reload need an elevated prompt.\n");
}

/* The text of a Windows error code, without the trailing newline. */
static const char *
svc_strerror(DWORD err)
{
	static char	buf[512];
	DWORD		n;

	n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM |
	    FORMAT_MESSAGE_IGNORE_INSERTS, NULL, err,
	    MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), buf, sizeof buf, NULL);
	if (n == 0) {
		snprintf(buf, sizeof buf, "error %lu", (unsigned long)err);
		return (buf);
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' ' || buf[n - 1] == '.'))
		buf[--n] = '\0';
	return (buf);
}

/* Reports a failed call; the errors a user can act on get their own
 * words. */
static void
svc_err(const char *what, DWORD err)
{
	switch (err) {
	case ERROR_ACCESS_DENIED:
		fprintf(stderr, "hushgate service: %s: access denied: run "
		    "from an elevated prompt (Run as administrator)\n", what);
		break;
	default:
		fprintf(stderr, "hushgate service: %s: %s\n", what,
		    svc_strerror(err));
		break;
	}
}

static wchar_t *
svc_widen(const char *s)
{
	wchar_t	*w;
	int	 n;

	n = MultiByteToWideChar(CP_ACP, 0, s, -1, NULL, 0);
	if (n <= 0)
		return (NULL);
	if ((w = calloc((size_t)n, sizeof *w)) == NULL)
		return (NULL);
	if (MultiByteToWideChar(CP_ACP, 0, s, -1, w, n) <= 0) {
		free(w);
		return (NULL);
	}
	return (w);
}

static char *
svc_narrow(const wchar_t *w)
{
	char	*s;
	int	 n;

	n = WideCharToMultiByte(CP_ACP, 0, w, -1, NULL, 0, NULL, NULL);
	if (n <= 0)
		return (NULL);
	if ((s = calloc((size_t)n, 1)) == NULL)
		return (NULL);
	if (WideCharToMultiByte(CP_ACP, 0, w, -1, s, n, NULL, NULL) <= 0) {
		free(s);
		return (NULL);
	}
	return (s);
}

/* %ProgramData%\hushgate\<leaf>.  The known folder first: a service's
 * environment need not have ProgramData (Wine's services have none). */
static int
svc_data_path(const wchar_t *leaf, wchar_t *out, size_t outlen)
{
	wchar_t	dir[MAX_PATH];
	DWORD	n;
	int	r;

	if (SHGetFolderPathW(NULL, CSIDL_COMMON_APPDATA, NULL,
	    SHGFP_TYPE_CURRENT, dir) != S_OK) {
		n = GetEnvironmentVariableW(L"ProgramData", dir, MAX_PATH);
		if (n == 0 || n >= MAX_PATH) {
			fprintf(stderr, "hushgate service: cannot find the "
			    "ProgramData folder\n");
			return (-1);
		}
	}
	r = _snwprintf(out, outlen, L"%ls\\hushgate\\%ls", dir, leaf);
	if (r < 0 || (size_t)r >= outlen)
		return (-1);
	return (0);
}

/* A full path (the service does not start in the caller's directory). */
static int
svc_full_path(const char *arg, wchar_t *out, size_t outlen)
{
	wchar_t	*w;
	DWORD	 n;

	if ((w = svc_widen(arg)) == NULL) {
		fprintf(stderr, "hushgate service: %s: bad file name\n", arg);
		return (-1);
	}
	n = GetFullPathNameW(w, (DWORD)outlen, out, NULL);
	free(w);
	if (n == 0 || n >= outlen) {
		fprintf(stderr, "hushgate service: %s: bad file name\n", arg);
		return (-1);
	}
	return (0);
}

static int
svc_exe_path(wchar_t *out, size_t outlen)
{
	DWORD	n;

	n = GetModuleFileNameW(NULL, out, (DWORD)outlen);
	if (n == 0 || n >= outlen) {
		svc_err("GetModuleFileName", GetLastError());
		return (-1);
	}
	return (0);
}

/* Service names: what sc.exe and the registry key accept without
 * quoting surprises. */
static int
svc_set_name(const char *arg, wchar_t *out)
{
	size_t	i, n = strlen(arg);

	if (n == 0 || n > SVC_MAX_NAME)
		goto bad;
	for (i = 0; i < n; i++) {
		char	c = arg[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.'))
			goto bad;
		out[i] = (wchar_t)c;
	}
	out[n] = L'\0';
	return (0);
bad:
	fprintf(stderr, "hushgate service: bad service name '%s' (1 to %d "
	    "letters, digits, '-', '_' or '.')\n", arg, SVC_MAX_NAME);
	return (-1);
}

struct svc_opts {
	wchar_t		 name[SVC_MAX_NAME + 1];
	const char	*config;	/* -c, or NULL for the default */
	const char	*log;		/* --log, or NULL for the default */
	const char	*account;	/* --account, or NULL */
};

/* Options after the subcommand; which ones are allowed depends on it. */
static int
svc_parse(int argc, char **argv, struct svc_opts *o, int allow_files,
    int allow_account)
{
	int	i;

	memset(o, 0, sizeof *o);
	wcscpy(o->name, SVC_DEFAULT_NAME);
	for (i = 2; i < argc; i++) {
		const char	*a = argv[i];

		if (i + 1 >= argc)
			goto usage;
		if (strcmp(a, "--name") == 0) {
			if (svc_set_name(argv[++i], o->name) != 0)
				return (-1);
		} else if (allow_files && (strcmp(a, "-c") == 0 ||
		    strcmp(a, "--config") == 0))
			o->config = argv[++i];
		else if (allow_files && strcmp(a, "--log") == 0)
			o->log = argv[++i];
		else if (allow_account && strcmp(a, "--account") == 0)
			o->account = argv[++i];
		else
			goto usage;
	}
	return (0);
usage:
	svc_usage(stderr);
	return (-1);
}

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

static int
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
