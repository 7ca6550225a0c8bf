/*
 * asm.h - the object-format differences of the assembly context switches.
 *
 * The same switch code assembles to ELF (Linux, the BSDs) and to Mach-O
 * (macOS).  Only the symbol directives differ:
 *
 *   - Mach-O prefixes every C symbol with an underscore, so the C name
 *     coco__ctx_switch is the assembler name _coco__ctx_switch;
 *   - a symbol kept inside the library is .hidden on ELF and
 *     .private_extern on Mach-O;
 *   - Mach-O has no .type or .size, and no .note sections (the stack is
 *     never executable there, and branch-protection properties are not
 *     recorded in notes);
 *   - assembler-local labels start with .L on ELF and with L on Mach-O.
 *
 * Each macro expands to at most one statement: the statement separator is
 * ';' for the GNU assembler, but ';' starts a comment in Apple's arm64
 * syntax.  On ELF the macros expand to exactly the directives the files
 * used before they learnt Mach-O, so ELF objects do not change.
 *
 * Mach-O objects from these files do not set .subsections_via_symbols:
 * coco__ctx_resume is a global label inside coco__ctx_switch, and the
 * linker must not treat it as the start of a separate, movable block.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef COCO_ARCH_ASM_H
#define COCO_ARCH_ASM_H

#if defined(__APPLE__) && defined(__MACH__)
#  define COCO_ELF 0
#  define COCO_SYM(name) _##name
#  define COCO_LOCAL(name) L##name
#  define COCO_HIDDEN(name) .private_extern COCO_SYM(name)
#  define COCO_TYPE_FUNCTION(name)
#  define COCO_SIZE(name)
#else
#  define COCO_ELF 1
#  define COCO_SYM(name) name
#  define COCO_LOCAL(name) .L##name
#  define COCO_HIDDEN(name) .hidden COCO_SYM(name)
#  define COCO_TYPE_FUNCTION(name) .type COCO_SYM(name), %function
#  define COCO_SIZE(name) .size COCO_SYM(name), .-COCO_SYM(name)
#endif

#endif /* COCO_ARCH_ASM_H */
