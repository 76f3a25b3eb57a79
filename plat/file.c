/*
 * file.c -- files written whole (the lists cache, the users file, the
 * Windows proxy settings backup): a temporary file next to the target,
 * on the disk, then renamed over it, so that a reader (a reload, a start
 * after a crash) finds the old file or the new one, never a part. The
 * same code for both systems, on the primitives of plat.h.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy.h"
#include "plat/plat.h"

/*
 * Write data to a new file next to path ("PATH.XXXXXX") with mode and the
 * owner of the file at path if there is one (where this process may give
 * it), flushed to the disk. Returns its name (caller frees, and renames
 * or removes the file), or NULL with errno.
 */
char *
plat_temp_file(const char *path, const void *data, size_t len, int mode)
{
	struct stat	 st;
	char		*tmp;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd, saved;

	xasprintf(&tmp, "%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) == -1)
		goto fail;
	if (plat_fchmod(fd, mode) != 0)
		goto fail;
	if (stat(path, &st) == 0 && plat_fchown(fd, &st) != 0 &&
	    errno != EPERM)
		goto fail;
	while (off < len) {
		n = write(fd, (const char *)data + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			goto fail;
		}
		off += (size_t)n;
	}
	if (plat_fsync(fd) != 0)
		goto fail;
	n = close(fd);
	fd = -1;
	if (n != 0)
		goto fail;
	return (tmp);

fail:
	saved = errno;
	if (fd != -1) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	errno = saved;
	return (NULL);
}

/* Replace path with data (mode, owner: as plat_temp_file). 0, or -1 with
 * errno and path untouched. */
int
plat_replace_file(const char *path, const void *data, size_t len, int mode)
{
	char	*tmp;
	int	 saved;

	if ((tmp = plat_temp_file(path, data, len, mode)) == NULL)
		return (-1);
	if (plat_rename(tmp, path) != 0) {
		saved = errno;
		unlink(tmp);
		free(tmp);
		errno = saved;
		return (-1);
	}
	free(tmp);
	return (0);
}
