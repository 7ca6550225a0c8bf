#!/bin/sh
# check-macho.sh - the assembly context switches assemble for macOS
# (Mach-O, x86-64 and arm64) and come out as the Linux build expects them
# to.  Nothing here can run a Mach-O binary, so the objects are inspected:
#   - each file assembles for x86_64-apple-macos11 and arm64-apple-macos11,
#     plain and with landing pads (-fcf-protection=branch,
#     -mbranch-protection=standard), into a Mach-O object of that CPU that
#     does not allow the linker to split it at symbols;
#   - it defines exactly _coco__ctx_switch, _coco__ctx_resume,
#     _coco__ctx_jump and _coco__ctx_start, all private external (kept in
#     the library), and references nothing but _coco__co_return (where a
#     coroutine's function returns to);
#   - no ELF note section came along;
#   - the three functions have unwind info, and the entry function marks
#     the return address undefined, so unwinders stop there;
#   - the instructions are those of the ELF object clang makes from the same
#     file for Linux (branch targets aside), the one that make check runs;
#   - arm64: x18, reserved by Apple, is never touched;
#   - with landing pads: each entry point starts with one (endbr64, bti c),
#     and on x86-64 the jump into a suspended context is notrack.
#
# Environment: srcdir (set by make check), CLANG, LLVM_NM, LLVM_OBJDUMP,
# LLVM_DWARFDUMP (defaults: the unversioned names).  Skips when clang or
# the LLVM tools are missing or clang cannot target macOS.  Prints TAP.
#
# SPDX-License-Identifier: MIT

srcdir=${srcdir:-.}
CLANG=${CLANG:-clang}
LLVM_NM=${LLVM_NM:-llvm-nm}
LLVM_OBJDUMP=${LLVM_OBJDUMP:-llvm-objdump}
LLVM_DWARFDUMP=${LLVM_DWARFDUMP:-llvm-dwarfdump}

for tool in "$CLANG" "$LLVM_NM" "$LLVM_OBJDUMP" "$LLVM_DWARFDUMP"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "1..0 # SKIP $tool is not installed (Debian: clang, llvm)"
    exit 0
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coco-macho.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { # what, detail
  n=$((n + 1)); failed=1
  echo "not ok $n - $1"
  printf '%s\n' "$2" | sed 's/^/# /'
}
check() { # what, detail-if-failing, command...
  what=$1 detail=$2
  shift 2
  if "$@"; then ok "$what"; else fail "$what" "$detail"; fi
}

# The instruction text of an object: mnemonics and operands, without the
# alignment padding, and without the targets of direct branches and calls
# (resolved locally on ELF, by the linker on Mach-O, where a branch to a
# label that shares its address with a global symbol stays relocatable).
insns() {
  "$LLVM_OBJDUMP" -d --no-show-raw-insn --no-leading-addr "$1" |
    awk -F'\t' '/^ *\t/ {
        insn = $2; ops = $3
        if (insn ~ /^nop/) next
        if (insn ~ /^(jmp|b|callq?|bl)$/ && ops !~ /\*/) ops = ""
        gsub(/0x[0-9a-f]+ <[^>]*>/, "", ops)
        # The comment giving an immediate in hex starts with # on ELF, ##
        # on Mach-O.
        sub(/[ \t]*##? imm = 0x[0-9A-Fa-f]+$/, "", ops)
        print insn " " ops }'
}

symbols='_coco__ctx_jump _coco__ctx_resume _coco__ctx_start _coco__ctx_switch'

# one(cpu-name, target, elf-target, source, cputype, extra-flags)
one() {
  name=$1 target=$2 elf=$3 src=$4 cputype=$5 flags=$6
  obj=$tmp/$name.o
  if ! err=$("$CLANG" -target "$target" $flags -c "$src" -o "$obj" 2>&1); then
    fail "$name: assembles for $target" "$err"
    return
  fi
  ok "$name: assembles for $target"

  hdr=$("$LLVM_OBJDUMP" --macho --private-header "$obj" 2>&1)
  check "$name: a Mach-O $cputype object" "$hdr" \
    sh -c 'printf "%s\n" "$1" | grep -Eq "^ *MH_MAGIC_64 +$2 .* OBJECT "' - "$hdr" "$cputype"
  check "$name: not split at symbols (no MH_SUBSECTIONS_VIA_SYMBOLS)" "$hdr" \
    sh -c '! printf "%s\n" "$1" | grep -q SUBSECTIONS_VIA_SYMBOLS' - "$hdr"

  syms=$("$LLVM_NM" -m -g --defined-only "$obj" 2>&1)
  got=$(printf '%s\n' "$syms" | awk '{ print $NF }' | sort | tr '\n' ' ')
  check "$name: defines exactly $symbols" "$syms" \
    test "$got" = "$symbols "
  public=$(printf '%s\n' "$syms" | grep -v 'private external' || true)
  check "$name: every symbol is private external" "$syms" test -z "$public"
  undef=$("$LLVM_NM" -u "$obj" 2>&1)
  check "$name: references no other symbol than _coco__co_return" "$undef" \
    test "$undef" = _coco__co_return

  sects=$("$LLVM_OBJDUMP" -h "$obj" 2>&1)
  check "$name: no ELF note sections" "$sects" \
    sh -c '! printf "%s\n" "$1" | grep -Eiq "note|GNU-stack"' - "$sects"

  cfi=$("$LLVM_DWARFDUMP" --eh-frame "$obj" 2>&1)
  unw=$("$LLVM_OBJDUMP" --unwind-info "$obj" 2>&1)
  fdes=$(printf '%s\n' "$cfi" | grep -c ' FDE ')
  cues=$(printf '%s\n' "$unw" | grep -c 'Entry at offset')
  check "$name: unwind info for the three functions ($fdes FDEs, $cues compact entries)" \
    "$cfi$unw" sh -c 'test "$1" -eq 3 || test "$2" -eq 3' - "$fdes" "$cues"
  check "$name: the entry function ends the unwind (return address undefined)" \
    "$cfi" sh -c 'printf "%s\n" "$1" | grep -q DW_CFA_undefined' - "$cfi"

  if ! err=$("$CLANG" -target "$elf" $flags -c "$src" -o "$tmp/$name.elf.o" 2>&1); then
    fail "$name: the same instructions as the $elf object" "$err"
  else
    insns "$obj" >"$tmp/$name.macho.s"
    insns "$tmp/$name.elf.o" >"$tmp/$name.elf.s"
    d=$(diff "$tmp/$name.elf.s" "$tmp/$name.macho.s")
    check "$name: the same instructions as the $elf object" "$d" \
      test -s "$tmp/$name.elf.s" -a -z "$d"
  fi

  dis=$("$LLVM_OBJDUMP" -d "$obj" 2>&1)
  case $cputype in
    ARM64)
      x18=$(printf '%s\n' "$dis" | grep -Ew '[xw]18' || true)
      check "$name: x18 is never used" "$x18" test -z "$x18" ;;
  esac
  case $flags in
    *-fcf-protection*)
      pads=$(printf '%s\n' "$dis" | grep -c 'endbr64')
      check "$name: endbr64 at the three entry points" "$dis" test "$pads" -eq 3
      # 3e is the notrack prefix; llvm-objdump does not print it by name.
      check "$name: the jump into a suspended context is notrack" "$dis" \
        sh -c 'printf "%s\n" "$1" | grep -Eq "3e ff e1[[:space:]]+jmpq"' - "$dis" ;;
    *-mbranch-protection*)
      pads=$(printf '%s\n' "$dis" | grep -Ec 'bti(	| )c|hint	#34')
      check "$name: bti c at the three entry points" "$dis" test "$pads" -eq 3 ;;
  esac
}

run() { # cpu-name, target, elf-target, source, cputype, landing-pad flags
  if ! "$CLANG" -target "$2" -x assembler -c /dev/null -o "$tmp/probe.o" \
      >/dev/null 2>&1; then
    n=$((n + 1))
    echo "ok $n # SKIP $CLANG cannot assemble for $2"
    return
  fi
  one "$1" "$2" "$3" "$4" "$5" ""
  one "$1-pads" "$2" "$3" "$4" "$5" "$6"
}

run x86_64 x86_64-apple-macos11 x86_64-linux-gnu \
  "$srcdir/lib/arch/switch_x86_64_sysv.S" X86_64 -fcf-protection=branch
run arm64 arm64-apple-macos11 aarch64-linux-gnu \
  "$srcdir/lib/arch/switch_aarch64.S" ARM64 -mbranch-protection=standard
echo "1..$n"
exit $failed
