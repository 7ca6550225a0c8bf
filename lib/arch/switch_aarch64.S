/*
 * switch_aarch64.S - context switch for AArch64 (AAPCS64).
 *
 * A context is one saved stack pointer.  The 160-byte frame below it holds
 * the callee-saved registers: x19-x28, the frame pointer x29, the link
 * register x30 (where the context resumes) and the low halves d8-d15 of
 * v8-v15.  lib/core/context.c builds the same frame for a new context.
 *
 * SPDX-License-Identifier: MIT
 */

	.text

/* void coco__ctx_switch(coco_ctx_t *from, coco_ctx_t *to) */
	.globl	coco__ctx_switch
	.hidden	coco__ctx_switch
	.type	coco__ctx_switch, %function
	.p2align 4
coco__ctx_switch:
	.cfi_startproc
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
	.globl	coco__ctx_resume
	.hidden	coco__ctx_resume
coco__ctx_resume:
.Lrestore:
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
	.size	coco__ctx_switch, .-coco__ctx_switch

/* void coco__ctx_jump(coco_ctx_t *to): resume without saving. */
	.globl	coco__ctx_jump
	.hidden	coco__ctx_jump
	.type	coco__ctx_jump, %function
	.p2align 4
coco__ctx_jump:
	.cfi_startproc
	ldr	x2, [x0]
	mov	sp, x2
	b	.Lrestore
	.cfi_endproc
	.size	coco__ctx_jump, .-coco__ctx_jump

/* First code of every new context: x19 holds the argument, x20 the
 * function.  x30 is undefined so unwinders stop here. */
	.globl	coco__ctx_start
	.hidden	coco__ctx_start
	.type	coco__ctx_start, %function
	.p2align 4
coco__ctx_start:
	.cfi_startproc
	.cfi_undefined x30
	mov	x0, x19
	blr	x20
	brk	#0
	.cfi_endproc
	.size	coco__ctx_start, .-coco__ctx_start

	.section .note.GNU-stack,"",%progbits
