/*
 * switch_riscv64.S - context switch for RISC-V 64 (LP64D calling convention).
 *
 * A context is one saved stack pointer.  The 208-byte frame below it holds
 * the callee-saved registers: s0-s11 (s0 is the frame pointer), the return
 * address ra (where the context resumes), one pad word that keeps sp 16-byte
 * aligned, and fs0-fs11.  lib/arch/context.c builds the same frame for a new
 * context.  gp and tp are the same for every context of a thread and stay
 * untouched; fcsr, like FPCR on AArch64, is not preserved across calls by
 * the ABI and is not saved either.
 *
 * SPDX-License-Identifier: MIT
 */

#define COCO_FRAME 208

	.text

/* void coco__ctx_switch(coco_ctx_t *from, coco_ctx_t *to) */
	.globl	coco__ctx_switch
	.hidden	coco__ctx_switch
	.type	coco__ctx_switch, @function
	.p2align 2
coco__ctx_switch:
	.cfi_startproc
	addi	sp, sp, -COCO_FRAME
	.cfi_adjust_cfa_offset COCO_FRAME
	sd	s0, 0(sp)
	sd	s1, 8(sp)
	sd	s2, 16(sp)
	sd	s3, 24(sp)
	sd	s4, 32(sp)
	sd	s5, 40(sp)
	sd	s6, 48(sp)
	sd	s7, 56(sp)
	sd	s8, 64(sp)
	sd	s9, 72(sp)
	sd	s10, 80(sp)
	sd	s11, 88(sp)
	sd	ra, 96(sp)
	.cfi_rel_offset s0, 0
	.cfi_rel_offset s1, 8
	.cfi_rel_offset s2, 16
	.cfi_rel_offset s3, 24
	.cfi_rel_offset s4, 32
	.cfi_rel_offset s5, 40
	.cfi_rel_offset s6, 48
	.cfi_rel_offset s7, 56
	.cfi_rel_offset s8, 64
	.cfi_rel_offset s9, 72
	.cfi_rel_offset s10, 80
	.cfi_rel_offset s11, 88
	.cfi_rel_offset ra, 96
	fsd	fs0, 112(sp)
	fsd	fs1, 120(sp)
	fsd	fs2, 128(sp)
	fsd	fs3, 136(sp)
	fsd	fs4, 144(sp)
	fsd	fs5, 152(sp)
	fsd	fs6, 160(sp)
	fsd	fs7, 168(sp)
	fsd	fs8, 176(sp)
	fsd	fs9, 184(sp)
	fsd	fs10, 192(sp)
	fsd	fs11, 200(sp)
	sd	sp, 0(a0)
	/* The other side's frame has the same layout: the CFI holds there too. */
	ld	sp, 0(a1)
	/* sp = a parked context's saved one, pc = coco__ctx_resume: a
	 * debugger unwinds that context from here. */
	.globl	coco__ctx_resume
	.hidden	coco__ctx_resume
coco__ctx_resume:
.Lrestore:
	fld	fs0, 112(sp)
	fld	fs1, 120(sp)
	fld	fs2, 128(sp)
	fld	fs3, 136(sp)
	fld	fs4, 144(sp)
	fld	fs5, 152(sp)
	fld	fs6, 160(sp)
	fld	fs7, 168(sp)
	fld	fs8, 176(sp)
	fld	fs9, 184(sp)
	fld	fs10, 192(sp)
	fld	fs11, 200(sp)
	ld	s0, 0(sp)
	ld	s1, 8(sp)
	ld	s2, 16(sp)
	ld	s3, 24(sp)
	ld	s4, 32(sp)
	ld	s5, 40(sp)
	ld	s6, 48(sp)
	ld	s7, 56(sp)
	ld	s8, 64(sp)
	ld	s9, 72(sp)
	ld	s10, 80(sp)
	ld	s11, 88(sp)
	ld	ra, 96(sp)
	addi	sp, sp, COCO_FRAME
	.cfi_adjust_cfa_offset -COCO_FRAME
	ret
	.cfi_endproc
	.size	coco__ctx_switch, .-coco__ctx_switch

/* void coco__ctx_jump(coco_ctx_t *to): resume without saving. */
	.globl	coco__ctx_jump
	.hidden	coco__ctx_jump
	.type	coco__ctx_jump, @function
	.p2align 2
coco__ctx_jump:
	.cfi_startproc
	ld	sp, 0(a0)
	j	.Lrestore
	.cfi_endproc
	.size	coco__ctx_jump, .-coco__ctx_jump

/* First code of every new context: s1 holds the argument, s2 the function,
 * s0 (the frame pointer) is zero and sp is the 16-byte aligned top of the
 * stack.  The function is the coroutine's own; when it returns,
 * coco__co_return finishes the coroutine and never comes back.  ra is
 * undefined so unwinders stop here. */
	.globl	coco__ctx_start
	.hidden	coco__ctx_start
	.type	coco__ctx_start, @function
	.p2align 2
coco__ctx_start:
	.cfi_startproc
	.cfi_undefined ra
	mv	a0, s1
	jalr	s2
	call	coco__co_return
	unimp
	.cfi_endproc
	.size	coco__ctx_start, .-coco__ctx_start

	.section .note.GNU-stack,"",%progbits
