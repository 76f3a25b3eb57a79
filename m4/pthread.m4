dnl AX_PTHREAD_LITE: find the flags for POSIX threads (gcc/clang on glibc,
dnl mingw-w64 winpthreads).
AC_DEFUN([AX_PTHREAD_LITE], [
	AC_MSG_CHECKING([for pthread flags])
	save_CFLAGS="$CFLAGS"; save_LIBS="$LIBS"
	CFLAGS="$CFLAGS -pthread"; LIBS="$LIBS -pthread"
	AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <pthread.h>]],
		[[pthread_t t; pthread_create(&t, 0, 0, 0);]])],
		[PTHREAD_CFLAGS=-pthread; PTHREAD_LIBS=-pthread],
		[AC_MSG_ERROR([POSIX threads not found])])
	CFLAGS="$save_CFLAGS"; LIBS="$save_LIBS"
	AC_MSG_RESULT([$PTHREAD_CFLAGS])
	AC_SUBST([PTHREAD_CFLAGS])
	AC_SUBST([PTHREAD_LIBS])
])
