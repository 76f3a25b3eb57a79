/*
 * svcutil.c -- `hushgate service`: usage, error texts, names and paths,
 * the options after a subcommand. Windows only.
 */
#include "config.h"

#include "win/winsvc.h"

void
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
const char *
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
void
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

wchar_t *
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

char *
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
int
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
int
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

int
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
int
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

/* Options after the subcommand; which ones are allowed depends on it. */
int
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
