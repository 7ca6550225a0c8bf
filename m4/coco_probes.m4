# coco_probes.m4 - the compiler probes of Coco's configure.ac.
#
# SPDX-License-Identifier: MIT

# COCO_CHECK_CFLAG(FLAG, VARIABLE): appends FLAG to VARIABLE if an empty
# program compiles with it, warnings being errors.
AC_DEFUN([COCO_CHECK_CFLAG], [
  AC_MSG_CHECKING([whether $CC accepts $1])
  coco_save_CFLAGS=$CFLAGS
  CFLAGS="$CFLAGS -Werror $1"
  AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
    [AC_MSG_RESULT([yes]); $2="$$2 $1"],
    [AC_MSG_RESULT([no])])
  CFLAGS=$coco_save_CFLAGS
])

# COCO_HARDEN_PROBE(FLAG, VARIABLE, [PREFIX]): appends FLAG to VARIABLE if
# a program that needs a stack canary compiles and links with it, warnings
# being errors.  PREFIX goes before FLAG in the probe only: the linker's
# --fatal-warnings, since GNU ld merely warns about an unknown -z keyword.
AC_DEFUN([COCO_HARDEN_PROBE], [
  AC_MSG_CHECKING([whether $CC accepts $1])
  coco_save_CFLAGS=$CFLAGS
  CFLAGS="$CFLAGS -Werror $3 $1"
  AC_LINK_IFELSE([AC_LANG_SOURCE([[#include <string.h>
int coco_probe(int c);
int coco_probe(int c) { char b[64]; memset(b, c, sizeof b); return b[c & 63]; }
int main(void) { return coco_probe(0); }]])],
    [AC_MSG_RESULT([yes]); $2="$$2 $1"],
    [AC_MSG_RESULT([no])])
  CFLAGS=$coco_save_CFLAGS
])
