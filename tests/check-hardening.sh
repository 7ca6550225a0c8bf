#!/bin/sh
# check-hardening.sh - the built libcoco.so carries the protections
# configure asked for, as the ELF file itself records them:
#   - the stack is not executable (GNU_STACK is RW, not RWE), always;
#   - RELRO and BIND_NOW, when the linker took -z relro / -z now;
#   - the stack protector (__stack_chk_fail is referenced);
#   - fortified libc calls (__*_chk) when _FORTIFY_SOURCE is in effect;
#   - landing pads, on x86-64 with -fcf-protection (CET-IBT) and on
#     AArch64 with -mbranch-protection (BTI): every object of the library
#     is marked for them (x86-64: and not for shadow stacks), the assembly
#     entry points start with one (endbr64, bti), the x86-64 jump into a
#     suspended context is notrack, and the library as a whole is marked
#     wherever the toolchain's own startup files are (the linker keeps only
#     what every input claims).
#
# Environment (set by the Makefile): READELF, OBJDUMP, CC, host_cpu,
# COCO_HARDENING (yes/no), COCO_HARDEN_CFLAGS, COCO_HARDEN_LDFLAGS and
# COCO_CPP (the preprocessor command the library is compiled with).  Run
# from the build directory; the tools are the target's, so this works when
# cross-compiling.  Prints TAP.
#
# SPDX-License-Identifier: MIT

READELF=${READELF:-readelf}
OBJDUMP=${OBJDUMP:-objdump}
CC=${CC:-cc}
lib=lib/.libs/libcoco.so

if ! test -f "$lib"; then
  echo "1..0 # SKIP no $lib (shared library disabled or not ELF)"
  exit 0
fi
if ! "$READELF" -h "$lib" >/dev/null 2>&1; then
  echo "1..0 # SKIP $READELF cannot read $lib"
  exit 0
fi

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # check DESCRIPTION COMMAND...
  d=$1; shift
  if "$@"; then ok "$d"; else not_ok "$d"; fi
}
has_flag() { # has_flag FLAG LIST
  case " $2 " in *" $1 "*) return 0 ;; esac
  return 1
}

headers=$("$READELF" -lW "$lib")
dynamic=$("$READELF" -dW "$lib")
dynsyms=$("$READELF" --dyn-syms -W "$lib")
hardening=${COCO_HARDENING:-no}
off_reason="configured with --disable-hardening"

# ------------------------------------------------------ stack, RELRO, NOW
stack_flags=$(echo "$headers" | awk '$1 == "GNU_STACK" { print $(NF - 1) }')
check "GNU_STACK present and not executable (flags: ${stack_flags:-none})" \
  test "x$stack_flags" = xRW

relro() { echo "$headers" | grep -q '^ *GNU_RELRO '; }
bind_now() { echo "$dynamic" | grep -Eq '\((FLAGS|FLAGS_1)\) .*(BIND_NOW|NOW)'; }
if test "$hardening" != yes; then
  skip "GNU_RELRO segment" "$off_reason"
  skip "BIND_NOW (-z now)" "$off_reason"
else
  if has_flag -Wl,-z,relro "$COCO_HARDEN_LDFLAGS"; then
    check "GNU_RELRO segment" relro
  else
    skip "GNU_RELRO segment" "the linker does not take -z relro"
  fi
  if has_flag -Wl,-z,now "$COCO_HARDEN_LDFLAGS"; then
    check "BIND_NOW (-z now)" bind_now
  else
    skip "BIND_NOW (-z now)" "the linker does not take -z now"
  fi
fi

# ------------------------------------------- stack protector and fortify
undefined() { # undefined NAME-REGEX: a symbol the library imports
  echo "$dynsyms" | awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }' |
    grep -Eq "^($1)\$"
}
if test "$hardening" != yes; then
  skip "stack protector (__stack_chk_fail imported)" "$off_reason"
elif has_flag -fstack-protector-strong "$COCO_HARDEN_CFLAGS"; then
  check "stack protector (__stack_chk_fail imported)" undefined __stack_chk_fail
else
  skip "stack protector (__stack_chk_fail imported)" "$CC lacks -fstack-protector-strong"
fi

# The level the library's files see: config.h first, as they include it.
fortify=
if test -n "$COCO_CPP"; then
  fortify=$(printf '#include "config.h"\n#include <stdio.h>\ncoco_fortify_level=_FORTIFY_SOURCE\n' |
    $COCO_CPP - 2>/dev/null | sed -n 's/^coco_fortify_level= *\([0-9][0-9]*\).*/\1/p')
fi
if test -n "$fortify" && test "$fortify" -ge 1; then
  # coro.c formats its error report with snprintf and fprintf.
  check "fortified calls (__*_chk imported, _FORTIFY_SOURCE=$fortify)" \
    undefined '__[a-z0-9_]+_chk'
elif test "$hardening" != yes; then
  skip "fortified calls (__*_chk imported)" "$off_reason"
else
  skip "fortified calls (__*_chk imported)" "_FORTIFY_SOURCE not in effect (unoptimised or sanitizer build, or a libc without it)"
fi

# ------------------------------------------ landing pads: CET-IBT or BTI
# Per CPU: the compiler flag, the property readelf prints, a property no
# object may claim, and the first instruction of each assembly entry.
case ${host_cpu:-} in
  x86_64|amd64)
    pad_flag=-fcf-protection=branch; pad_note='x86 feature: .*IBT'
    pad_name=IBT; pad_never=SHSTK; pad_insn=endbr64 ;;
  aarch64|arm64)
    pad_flag=-mbranch-protection=standard; pad_note='AArch64 feature: .*BTI'
    pad_name=BTI; pad_never=; pad_insn=bti ;;
  *) pad_flag= ;;
esac
objs_desc="every object of the library marked ${pad_name:-IBT/BTI}${pad_never:+, none $pad_never}"
entry_desc="assembly entry points start with ${pad_insn:-a landing pad}"
notrack_desc="the jump back into a suspended context is notrack (x86-64)"
so_desc="libcoco.so marked ${pad_name:-IBT/BTI}"

if test -z "$pad_flag"; then
  why="no landing pads on ${host_cpu:-this CPU}"
elif ! has_flag "$pad_flag" "$COCO_HARDEN_CFLAGS"; then
  why=$off_reason
  test "$hardening" = yes && why="$CC lacks $pad_flag"
else
  why=
fi
if test -n "$why"; then
  skip "$objs_desc" "$why"
  skip "$entry_desc" "$why"
  skip "$notrack_desc" "$why"
  skip "$so_desc" "$why"
else
  objs=$(find lib -path '*/.libs/*.o' | sort)
  bad=
  for o in $objs; do
    props=$("$READELF" -nW "$o" | grep -E 'x86 feature|AArch64 feature')
    if test -n "$pad_never" && echo "$props" | grep -q "$pad_never"; then
      bad="$bad $o($pad_never)"
    elif ! echo "$props" | grep -Eq "$pad_note"; then
      bad="$bad $o"
    fi
  done
  if test -z "$objs"; then
    not_ok "$objs_desc: no objects found under lib/*/.libs"
  elif test -n "$bad"; then
    not_ok "$objs_desc; wrong:$bad"
  else
    ok "$objs_desc ($(echo "$objs" | wc -l | tr -d ' ') objects)"
  fi

  # The first instruction of each entry point, from the static symbol table.
  dis=
  "$OBJDUMP" -d "$lib" >/dev/null 2>&1 && dis=$("$OBJDUMP" -d --no-show-raw-insn "$lib")
  if test -n "$dis" && ! echo "$dis" | grep -q '<coco__ctx_resume>:'; then
    skip "$entry_desc" "the ucontext switch (--disable-asm) has no assembly"
    skip "$notrack_desc" "the ucontext switch (--disable-asm) has no assembly"
  elif test -n "$dis"; then
    missing=
    for f in coco__ctx_switch coco__ctx_jump coco__ctx_start; do
      first=$(echo "$dis" | awk -v f="<$f>:" '$2 == f { getline; print $2; exit }')
      test "x$first" = "x$pad_insn" || missing="$missing $f(${first:-not found})"
    done
    if test -n "$missing"; then not_ok "$entry_desc; not:$missing"; else ok "$entry_desc"; fi
    if test "$pad_name" = IBT; then
      # It lands after a call, where no endbr64 is: it must not be tracked.
      resume=$(echo "$dis" |
        awk '$2 == "<coco__ctx_resume>:" { on = 1; next } on && NF == 0 { exit }
             on && /jmp/ { print; exit }')
      case $resume in
        *notrack*) ok "$notrack_desc" ;;
        *) not_ok "$notrack_desc; found: ${resume:-no jump}" ;;
      esac
    else
      skip "$notrack_desc" "not x86-64"
    fi
  else
    skip "$entry_desc" "$OBJDUMP cannot read $lib"
    skip "$notrack_desc" "$OBJDUMP cannot read $lib"
  fi

  # Do this toolchain's startup files (crti.o...) carry the note?  Link an
  # empty shared library the same way and see.
  probe_dir=$(mktemp -d "${TMPDIR:-/tmp}/coco-pad.XXXXXX")
  echo 'int coco_probe(int x) { return x + 1; }' >"$probe_dir/p.c"
  if "$CC" -shared -fPIC "$pad_flag" -o "$probe_dir/p.so" "$probe_dir/p.c" \
       >/dev/null 2>&1 && "$READELF" -nW "$probe_dir/p.so" | grep -Eq "$pad_note"; then
    if "$READELF" -nW "$lib" | grep -Eq "$pad_note"; then ok "$so_desc"; else not_ok "$so_desc"; fi
  else
    skip "$so_desc" "this toolchain's startup files are not $pad_name-marked, so no shared library it links is"
  fi
  rm -rf "$probe_dir"
fi

echo "1..$n"
exit $failed
