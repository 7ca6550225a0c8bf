/*
 * switch_x86_64_sysv.S - context switch for x86-64, System V ABI.
 *
 * A context is one saved stack pointer.  Below it, on the suspended stack,
 * lie (from low to high addresses): MXCSR and the x87 control word, r15,
 * r14, r13, r12, rbx, rbp and the address to resume at.  lib/arch/context.c
 * builds the same frame for a context that has never run.
 *
 * MXCSR and the control word are saved on every switch but loaded only
 * when the resumed context's modes differ from the current ones (MXCSR's
 * exception flags aside): the loads are slow, and contexts nearly always
 * run with the same modes.
 *
 * The switch ends in pop + indirect jmp rather than ret: the return stack
 * predictor would guess the caller of the *other* side's switch and
 * mispredict every time.
 *
 * SPDX-License-Identifier: MIT
 */

#include "asm.h"

/*
 * Indirect branch tracking (CET-IBT), when the compiler is asked for it
 * (-fcf-protection): every entry point begins with endbr64, and the jump
 * back into a suspended context is notrack, since it lands just after the
 * call that suspended it, where no endbr64 is (nor could be: the return
 * address of an ordinary call).  The property note at the end tells the
 * linker this file is IBT-ready; without it the whole library would lose
 * the IBT marking.
 *
 * Shadow stacks (CET-SHSTK) are not claimed, even under
 * -fcf-protection=full: a switch would have to swap shadow stacks too, and
 * this one does not, so the first return on another coroutine's stack
 * would fault.  The linker drops SHSTK from the library accordingly.
 */
#if defined(__CET__) && (__CET__ & 1)
#  define COCO_IBT 1
#  define COCO_ENDBR endbr64
#  define COCO_JMP_RESUME notrack jmpq *%rcx
#else
#  define COCO_IBT 0
#  define COCO_ENDBR
#  define COCO_JMP_RESUME jmpq *%rcx
#endif

	.text

/* void coco__ctx_switch(coco_ctx_t *from, coco_ctx_t *to) */
	.globl	COCO_SYM(coco__ctx_switch)
	COCO_HIDDEN(coco__ctx_switch)
	COCO_TYPE_FUNCTION(coco__ctx_switch)
	.p2align 4
COCO_SYM(coco__ctx_switch):
	.cfi_startproc
	COCO_ENDBR
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movl	(%rsp), %eax
	movzwl	4(%rsp), %edx
	movq	%rsp, (%rdi)
	/* The other side's stack has the same frame, so the CFI above also
	 * describes it: a debugger stopped here unwinds into that context. */
	movq	(%rsi), %rsp
	/* Only MXCSR's control bits decide: its low six are sticky exception
	 * flags, which the first inexact operation sets and which the ABI
	 * does not preserve across calls. */
	movl	(%rsp), %ecx
	xorl	%eax, %ecx
	testl	$0xffc0, %ecx
	jnz	COCO_LOCAL(restore)
	cmpw	4(%rsp), %dx
	je	COCO_LOCAL(same_modes)
	/* A debugger that sets the stack pointer to a parked context's saved
	 * one and the pc to coco__ctx_resume can print that context's
	 * backtrace: the CFI here describes the frame it would pop. */
	.globl	COCO_SYM(coco__ctx_resume)
	COCO_HIDDEN(coco__ctx_resume)
COCO_SYM(coco__ctx_resume):
COCO_LOCAL(restore):
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
COCO_LOCAL(same_modes):
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rcx
	COCO_JMP_RESUME
	.cfi_endproc
	COCO_SIZE(coco__ctx_switch)

/* void coco__ctx_jump(coco_ctx_t *to): resume without saving. */
	.globl	COCO_SYM(coco__ctx_jump)
	COCO_HIDDEN(coco__ctx_jump)
	COCO_TYPE_FUNCTION(coco__ctx_jump)
	.p2align 4
COCO_SYM(coco__ctx_jump):
	.cfi_startproc
	COCO_ENDBR
	movq	(%rdi), %rsp
	jmp	COCO_LOCAL(restore)
	.cfi_endproc
	COCO_SIZE(coco__ctx_jump)

/*
 * First code of every new context: r12 holds the argument and r13 the
 * function (placed there by coco__ctx_init), and the stack pointer is the
 * 16-byte aligned top of the stack, so both calls enter their callee with
 * rsp + 8 aligned, as the ABI wants.  The function is the coroutine's own;
 * when it returns, coco__co_return finishes the coroutine and never comes
 * back.  The undefined return address tells unwinders that the
 * coroutine's call chain starts here.
 */
	.globl	COCO_SYM(coco__ctx_start)
	COCO_HIDDEN(coco__ctx_start)
	COCO_TYPE_FUNCTION(coco__ctx_start)
	.p2align 4
COCO_SYM(coco__ctx_start):
	.cfi_startproc
	.cfi_undefined %rip
	COCO_ENDBR
	movq	%r12, %rdi
	callq	*%r13
	callq	COCO_SYM(coco__co_return)
	ud2
	.cfi_endproc
	COCO_SIZE(coco__ctx_start)

#if COCO_IBT && COCO_ELF
/* NT_GNU_PROPERTY_TYPE_0 with GNU_PROPERTY_X86_FEATURE_1_AND = IBT,
 * laid out for ELF64: 8-byte aligned, the descriptor padded to 8. */
	.section .note.gnu.property,"a"
	.p2align 3
	.long	4			/* name size: "GNU" and its NUL */
	.long	16			/* descriptor size */
	.long	5			/* NT_GNU_PROPERTY_TYPE_0 */
	.asciz	"GNU"
	.long	0xc0000002		/* GNU_PROPERTY_X86_FEATURE_1_AND */
	.long	4			/* property data size */
	.long	1			/* GNU_PROPERTY_X86_FEATURE_1_IBT */
	.p2align 3
#endif

#if COCO_ELF
	.section .note.GNU-stack,"",%progbits
#endif
