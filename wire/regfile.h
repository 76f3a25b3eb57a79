/*
 * regfile.h -- the settings `hushgate winhttp` touches and its backup
 * file (a regedit .reg file), without any Windows call: the Windows code
 * (winwire.c) reads and writes the registry, this part formats and parses
 * the backup, and is built and fuzzed everywhere (tests/fuzz/fuzz_regfile).
 */
#ifndef HG_REGFILE_H
#define HG_REGFILE_H

#include <stddef.h>
#include <stdint.h>

#define WW_MAX_VALUE	65536	/* bytes of one saved value */
#define WW_MAX_BACKUP	(1024 * 1024)	/* bytes of a backup file */
#define WW_MAX_TEXT	2048	/* proxy, bypass, URL */
#define WW_WRAP		76	/* regedit's line length for hex data */

/*
 * The binary connection settings (connblob.c): little-endian DWORDs, and
 * strings in single bytes without a terminator, each a length first:
 *   WinHttpSettings            0x18, 0, flags, len, proxy, len, bypass
 *                              [, len, autoconfig URL]
 *   DefaultConnectionSettings  0x46, counter, flags, len, proxy, len,
 *                              bypass, len, autoconfig URL, 32 zero bytes
 * WinHTTP readers (Wine's winhttp among them) accept WinHttpSettings only
 * with 0x18 and a zero second DWORD.  `netsh winhttp reset proxy` writes
 * the 20 bytes of "direct" (flags 1, both strings empty), which is also
 * the value a new Windows installation has.
 */
#define WINHTTP_MAGIC	0x18
#define WININET_MAGIC	0x46
#define CONN_DIRECT	1
#define CONN_PROXY	2
#define CONN_AUTOURL	4
#define CONN_AUTODETECT	8
#define WINHTTP_DIRECT_LEN	20

enum ww_store { ST_WINHTTP, ST_USER, ST_MACHINE, ST_POLICY };

enum ww_root { R_HKLM, R_HKCU };

/* A key in one registry view: 64, 32, or 0 (HKCU has one). */
struct ww_key {
	enum ww_root	 k_root;
	const char	*k_path;
	int		 k_view;
};

#define P_CONN	"SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\" \
		"Internet Settings\\Connections"
#define P_INET	"SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\" \
		"Internet Settings"
#define P_POLI	"SOFTWARE\\Policies\\Microsoft\\Windows\\CurrentVersion\\" \
		"Internet Settings"
#define P_DATA	"SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection"
#define U_CONN	"Software\\Microsoft\\Windows\\CurrentVersion\\" \
		"Internet Settings\\Connections"
#define U_INET	"Software\\Microsoft\\Windows\\CurrentVersion\\" \
		"Internet Settings"

enum { K_CONN64, K_CONN32, K_INET64, K_INET32, K_POLI64, K_POLI32,
    K_DATA64, K_DATA32, K_UINET, K_UCONN, K_NKEYS };

extern const struct ww_key ww_keys[K_NKEYS];

/* Every value a set may touch; the backup holds all of them. */
#define WW_NSLOTS	23
struct ww_slot {
	int		 s_key;
	const char	*s_name;
	enum ww_store	 s_store;
};

extern const struct ww_slot ww_slots[WW_NSLOTS];


/* One saved value. */
struct ww_saved {
	int		 sv_present;
	uint32_t	 sv_type;
	unsigned char	*sv_data;
	size_t		 sv_len;
};

/*
 * The state a backup holds: each slot's value and, per key, how many
 * leading components of its path existed (all of them: -1), so that
 * reset can remove what set created.
 */
struct ww_backup {
	struct ww_saved	 b_val[WW_NSLOTS];
	int		 b_seen[WW_NSLOTS];
	int		 b_keyseen[K_NKEYS];
	int		 b_exist[K_NKEYS];
};

/* A growing byte buffer. */
struct ww_buf {
	unsigned char	*wb_p;
	size_t		 wb_len;
	size_t		 wb_cap;
	int		 wb_err;
};

void		 wb_add(struct ww_buf *, const void *, size_t);
void		 wb_u32(struct ww_buf *, uint32_t);
void		 wb_text(struct ww_buf *, const char *);
uint32_t	 get_u32(const unsigned char *);
void		 key_regname(const struct ww_key *, int, char *, size_t);
int		 key_ncomp(const struct ww_key *);
int		 backup_format(const struct ww_backup *, struct ww_buf *);
int		 backup_parse(const unsigned char *, size_t, struct ww_backup *,
		    char *, size_t);
void		 backup_free(struct ww_backup *);

/*
 * A connection settings blob appended to the buffer: WinHttpSettings, or
 * with wininet DefaultConnectionSettings (with its change counter); the
 * autoconfig URL only when not empty for WinHttpSettings.  NULL texts are
 * empty.  Each text must be printable ASCII below WW_MAX_TEXT bytes:
 * else -1 and *why says which and why (a static string).
 */
int		 conn_blob(struct ww_buf *, int, uint32_t, uint32_t,
		    const char *, const char *, const char *, const char **);
/*
 * WinHttpSettings as `netsh winhttp set proxy PROXY BYPASS` writes it
 * (flags 3: direct and proxy; a NULL bypass is empty), or with a NULL
 * proxy as `netsh winhttp reset proxy` writes it (direct).  -1 and *why
 * for an empty or unfit proxy or bypass list.
 */
int		 winhttp_settings(struct ww_buf *, const char *, const char *,
		    const char **);

#endif /* HG_REGFILE_H */
