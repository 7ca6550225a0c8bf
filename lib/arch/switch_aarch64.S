/*
 * switch_aarch64.S - context switch for AArch64 (AAPCS64).
 *
 * A context is one saved stack pointer.  The 160-byte frame below it holds
 * the callee-saved registers: x19-x28, the frame pointer x29, the link
 * register x30 (where the context resumes) and the low halves d8-d15 of
 * v8-v15.  lib/arch/context.c builds the same frame for a new context.
 *
 * The same code serves Apple's arm64 ABI: it saves the same callee-saved
 * registers, never touches x18 (reserved for the platform there), and
 * keeps x29 a frame pointer, zero in a new context's first frame so that
 * frame-record walks stop at coco__ctx_start.
 *
 * SPDX-License-Identifier: MIT
 */

#include "asm.h"

/*
 * Branch protection, when the compiler is asked for it
 * (-mbranch-protection): each entry point begins with a "bti c" landing
 * pad, and the property note at the end marks this file BTI-ready, since
 * the linker marks the library only if every object is.
 *
 * Return-address signing (PAC) is not claimed: a context's resume address
 * is stored in its frame unsigned, and a frame built by
 * coco__ctx_init for a context that never ran could not be signed against
 * the stack pointer it will be authenticated with.  The C code around the
 * switch does sign its own return addresses; that needs nothing from here
 * because each of its frames is left and re-entered on the same stack.
 * On Apple platforms the landing pads are plain hints and no note is
 * written: nothing there reads one.
 */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#  define COCO_BTI 1
#  define COCO_BTI_C bti c
#else
#  define COCO_BTI 0
#  define COCO_BTI_C
#endif

	.text

/* void coco__ctx_switch(coco_ctx_t *from, coco_ctx_t *to) */
	.globl	COCO_SYM(coco__ctx_switch)
	COCO_HIDDEN(coco__ctx_switch)
	COCO_TYPE_FUNCTION(coco__ctx_switch)
	.p2align 4
COCO_SYM(coco__ctx_switch):
	.cfi_startproc
	COCO_BTI_C
	sub	sp, sp, #160
	.cfi_adjust_cfa_offset 160
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	.cfi_rel_offset x19, 0
	.cfi_rel_offset x20, 8
	.cfi_rel_offset x21, 16
	.cfi_rel_offset x22, 24
	.cfi_rel_offset x23, 32
	.cfi_rel_offset x24, 40
	.cfi_rel_offset x25, 48
	.cfi_rel_offset x26, 56
	.cfi_rel_offset x27, 64
	.cfi_rel_offset x28, 72
	.cfi_rel_offset x29, 80
	.cfi_rel_offset x30, 88
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mov	x2, sp
	str	x2, [x0]
	/* The other side's frame has the same layout: the CFI holds there too. */
	ldr	x2, [x1]
	mov	sp, x2
	/* sp = a parked context's saved one, pc = coco__ctx_resume: a
	 * debugger unwinds that context from here. */
	.globl	COCO_SYM(coco__ctx_resume)
	COCO_HIDDEN(coco__ctx_resume)
COCO_SYM(coco__ctx_resume):
COCO_LOCAL(restore):
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	add	sp, sp, #160
	.cfi_adjust_cfa_offset -160
	ret
	.cfi_endproc
	COCO_SIZE(coco__ctx_switch)

/* void coco__ctx_jump(coco_ctx_t *to): resume without saving. */
	.globl	COCO_SYM(coco__ctx_jump)
	COCO_HIDDEN(coco__ctx_jump)
	COCO_TYPE_FUNCTION(coco__ctx_jump)
	.p2align 4
COCO_SYM(coco__ctx_jump):
	.cfi_startproc
	COCO_BTI_C
	ldr	x2, [x0]
	mov	sp, x2
	b	COCO_LOCAL(restore)
	.cfi_endproc
	COCO_SIZE(coco__ctx_jump)

/* First code of every new context: x19 holds the argument, x20 the
 * function, and sp is the 16-byte aligned top of the stack.  The function
 * is the coroutine's own; when it returns, coco__co_return finishes the
 * coroutine and never comes back.  x30 is undefined so unwinders stop
 * here. */
	.globl	COCO_SYM(coco__ctx_start)
	COCO_HIDDEN(coco__ctx_start)
	COCO_TYPE_FUNCTION(coco__ctx_start)
	.p2align 4
COCO_SYM(coco__ctx_start):
	.cfi_startproc
	.cfi_undefined x30
	COCO_BTI_C
	mov	x0, x19
	blr	x20
	bl	COCO_SYM(coco__co_return)
	brk	#0
	.cfi_endproc
	COCO_SIZE(coco__ctx_start)

#if COCO_BTI && COCO_ELF
/* NT_GNU_PROPERTY_TYPE_0 with GNU_PROPERTY_AARCH64_FEATURE_1_AND = BTI,
 * laid out for ELF64: 8-byte aligned, the descriptor padded to 8. */
	.section .note.gnu.property,"a"
	.p2align 3
	.long	4			/* name size: "GNU" and its NUL */
	.long	16			/* descriptor size */
	.long	5			/* NT_GNU_PROPERTY_TYPE_0 */
	.asciz	"GNU"
	.long	0xc0000000		/* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
	.long	4			/* property data size */
	.long	1			/* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
	.p2align 3
#endif

#if COCO_ELF
	.section .note.GNU-stack,"",%progbits
#endif
