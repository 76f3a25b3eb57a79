/*
 * winreg.h -- the registry side of `hushgate winhttp` (winreg.c), over the
 * table of keys and values in wire/regfile.h. Windows only.
 */
#ifndef HG_WINREG_H
#define HG_WINREG_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "wire/regfile.h"

/* Says what failed on which key (and value), in words a user can act on. */
void		 winreg_error(const char *, const struct ww_key *, const char *,
		    LONG);
/* How many leading components of the key exist (-1: all of them). */
int		 winreg_key_depth(const struct ww_key *, LONG *);
/* One slot of ww_slots: its current type and bytes, or that it is absent. */
int		 winreg_read(size_t, struct ww_saved *);
/* Sets a slot's value (type, bytes), creating its key. */
int		 winreg_write(size_t, DWORD, const void *, size_t);
/* Removes the keys below component N that a change created, if empty. */
int		 winreg_cleanup(const struct ww_key *, int);

#endif /* HG_WINREG_H */
