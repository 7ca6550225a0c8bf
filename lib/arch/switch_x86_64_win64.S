/*
 * switch_x86_64_win64.S - context switch for x86-64 Windows (Win64 ABI).
 *
 * Same contract as switch_x86_64_sysv.S: a context is one saved stack
 * pointer, and the callee-saved state lies on the suspended stack.  The
 * Win64 ABI keeps more of it: rdi, rsi and xmm6-xmm15 are callee-saved as
 * well.  From the saved stack pointer up (byte offsets):
 *
 *     0  MXCSR (4 bytes) and the x87 control word (2)
 *     8  TIB StackBase          (gs:0x08)
 *    16  TIB StackLimit         (gs:0x10)
 *    24  TEB DeallocationStack  (gs:0x1478)
 *    32  xmm6 ... xmm15, 16 bytes each, 16-byte aligned
 *   192  padding, so that the xmm block is aligned
 *   200  r15, r14, r13, r12, rsi, rdi, rbx, rbp
 *   264  the address to resume at
 *
 * The three thread-block fields describe the stack the thread runs on.
 * Windows reads them to validate unwinding, to grow a stack through its
 * guard page and to raise STATUS_STACK_OVERFLOW, so each coroutine carries
 * its own.  lib/arch/context.c builds this frame for a new context.
 *
 * The switch ends in pop + indirect jmp rather than ret, as on SysV: the
 * return predictor would guess wrong, and with hardware shadow stacks a
 * ret to the other side's address would fault.
 *
 * SPDX-License-Identifier: MIT
 */

#define FRAME 200   /* bytes below the pushed registers */

	.text

/* void coco__ctx_switch(coco_ctx_t *from (rcx), coco_ctx_t *to (rdx)) */
	.globl	coco__ctx_switch
	.def	coco__ctx_switch; .scl 2; .type 32; .endef
	.p2align 4
coco__ctx_switch:
	pushq	%rbp
	pushq	%rbx
	pushq	%rdi
	pushq	%rsi
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$FRAME, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movl	(%rsp), %r8d
	movzwl	4(%rsp), %r9d
	movq	%gs:0x08, %rax
	movq	%rax, 8(%rsp)
	movq	%gs:0x10, %rax
	movq	%rax, 16(%rsp)
	movq	%gs:0x1478, %rax
	movq	%rax, 24(%rsp)
	movaps	%xmm6, 32(%rsp)
	movaps	%xmm7, 48(%rsp)
	movaps	%xmm8, 64(%rsp)
	movaps	%xmm9, 80(%rsp)
	movaps	%xmm10, 96(%rsp)
	movaps	%xmm11, 112(%rsp)
	movaps	%xmm12, 128(%rsp)
	movaps	%xmm13, 144(%rsp)
	movaps	%xmm14, 160(%rsp)
	movaps	%xmm15, 176(%rsp)
	movq	%rsp, (%rcx)
	movq	(%rdx), %rsp
	/* MXCSR and the control word are loaded only when they differ from
	 * the current ones: the loads are slow, and contexts nearly always
	 * run with the same modes.  MXCSR's low six bits, sticky exception
	 * flags that the first inexact operation sets, do not count. */
	movl	(%rsp), %r10d
	xorl	%r8d, %r10d
	testl	$0xffc0, %r10d
	jnz	.Lrestore
	cmpw	4(%rsp), %r9w
	je	.Lsame_modes
.Lrestore:
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
.Lsame_modes:
	movq	8(%rsp), %rax
	movq	%rax, %gs:0x08
	movq	16(%rsp), %rax
	movq	%rax, %gs:0x10
	movq	24(%rsp), %rax
	movq	%rax, %gs:0x1478
	movaps	32(%rsp), %xmm6
	movaps	48(%rsp), %xmm7
	movaps	64(%rsp), %xmm8
	movaps	80(%rsp), %xmm9
	movaps	96(%rsp), %xmm10
	movaps	112(%rsp), %xmm11
	movaps	128(%rsp), %xmm12
	movaps	144(%rsp), %xmm13
	movaps	160(%rsp), %xmm14
	movaps	176(%rsp), %xmm15
	addq	$FRAME, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rsi
	popq	%rdi
	popq	%rbx
	popq	%rbp
	popq	%rcx
	jmpq	*%rcx

/* void coco__ctx_jump(coco_ctx_t *to (rcx)): resume without saving.  The
 * overflow handler also resumes the scheduler through here. */
	.globl	coco__ctx_jump
	.def	coco__ctx_jump; .scl 2; .type 32; .endef
	.p2align 4
coco__ctx_jump:
	movq	(%rcx), %rsp
	jmp	.Lrestore

/*
 * First code of every new context: r12 holds the argument and r13 the
 * function (placed there by coco__ctx_init), the coroutine's own; when it
 * returns, coco__co_return finishes the coroutine and never comes back,
 * called with the same shadow space.  It is reached like a return,
 * with the stack pointer 16-byte aligned and a zero word at it.  The
 * unwind data describes the 32 bytes of shadow space it reserves for the
 * call, so a stack walk (exception dispatch, a debugger) steps over them,
 * finds the zero return address and ends here.
 */
	.globl	coco__ctx_start
	.def	coco__ctx_start; .scl 2; .type 32; .endef
	.p2align 4
	.seh_proc coco__ctx_start
coco__ctx_start:
	subq	$32, %rsp
	.seh_stackalloc 32
	.seh_endprologue
	movq	%r12, %rcx
	callq	*%r13
	callq	coco__co_return
	ud2
	.seh_endproc

/* PE objects have no .note.GNU-stack: the loader never makes a stack
 * executable on its own. */
