/*
 * cmd.h -- the command-line commands besides the daemon: each takes the
 * arguments after its name and returns the exit status.
 */
#ifndef HG_CMD_H
#define HG_CMD_H

#include "proxy/proxy.h"

/* explain.c: hushgate explain */
int		 explain_main(struct hg_config *, enum hg_scheme, uint32_t,
		    const char *, int, char **);

/* paccmd.c: hushgate pac */
int		 pac_main(int, char **);

/* userscmd.c: hushgate users */
int		 users_main(int, char **);

/* ctlcmd.c: hushgate ctl (not on Windows) */
int		 ctl_main(int, char **);

/* Windows only: win/winwire.c (hushgate winhttp ...: the machine's proxy
 * settings, with a backup and an exact undo) and win/winsvc.c (hushgate
 * service ...: the SCM service). Each returns the exit status. */
int		 winwire_main(int, char **);
int		 winsvc_main(int, char **);

#endif /* HG_CMD_H */
