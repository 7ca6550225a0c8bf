/*
 * switch_gen_x86_64_sysv.S - the switch of generators (lib/loop/gen.c) for
 * x86-64, System V ABI.
 *
 *   uintptr_t coco__ctx_switch_ret(coco_ctx_t *from, coco_ctx_t *to,
 *                                  int *flag, int value, uintptr_t ret);
 *   int coco__ctx_switch_rc(...)    the same code, declared to return an int
 *
 * It saves and restores the frame coco__ctx_switch does (see
 * switch_x86_64_sysv.S: MXCSR and the x87 control word, r15, r14, r13,
 * r12, rbx, rbp, the resume address), so the two switch to each other's
 * contexts, and it does two things more:
 *   - *flag = value once from is saved.  From then on another thread may
 *     resume from, so nothing of from's stack or of *to is touched after
 *     it (to is read before), and x86 keeps the stores in order;
 *   - the context resumed returns ret from its own call of this function.
 * A generator's resume and yield tail-call it with nothing left to do
 * after it, so each side comes back straight to its caller through the
 * indirect jump at the end, which the branch predictor learns, rather than
 * through a return that the return-stack predictor would get wrong every
 * time (the calls on the two stacks do not nest).
 *
 * The modes are compared without MXCSR's six exception flags, which are
 * sticky: once the resumer has made one inexact operation its flags
 * differ from the generator's for good, and every switch would take the
 * slow loads.  The flags stay those of the thread.
 *
 * SPDX-License-Identifier: MIT
 */

#include "asm.h"

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

	.globl	COCO_SYM(coco__ctx_switch_ret)
	COCO_HIDDEN(coco__ctx_switch_ret)
	COCO_TYPE_FUNCTION(coco__ctx_switch_ret)
	.globl	COCO_SYM(coco__ctx_switch_rc)
	COCO_HIDDEN(coco__ctx_switch_rc)
	COCO_TYPE_FUNCTION(coco__ctx_switch_rc)
	.p2align 4
COCO_SYM(coco__ctx_switch_rc):
COCO_SYM(coco__ctx_switch_ret):
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
	movl	(%rsp), %r9d
	movzwl	4(%rsp), %r10d
	movq	(%rsi), %r11
	movq	%rsp, (%rdi)
	movl	%ecx, (%rdx)
	/* The other side's stack has the same frame: the CFI above goes on
	 * describing it. */
	movq	%r11, %rsp
	movq	%r8, %rax
	movl	(%rsp), %ecx
	xorl	%r9d, %ecx
	testl	$0xffc0, %ecx
	jnz	COCO_LOCAL(gen_restore)
	cmpw	4(%rsp), %r10w
	je	COCO_LOCAL(gen_same_modes)
COCO_LOCAL(gen_restore):
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
COCO_LOCAL(gen_same_modes):
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
	COCO_SIZE(coco__ctx_switch_ret)

#if COCO_IBT && COCO_ELF
/* NT_GNU_PROPERTY_TYPE_0 with GNU_PROPERTY_X86_FEATURE_1_AND = IBT, as in
 * switch_x86_64_sysv.S: without it the library would lose its IBT mark. */
	.section .note.gnu.property,"a"
	.p2align 3
	.long	4
	.long	16
	.long	5
	.asciz	"GNU"
	.long	0xc0000002
	.long	4
	.long	1
	.p2align 3
#endif

#if COCO_ELF
	.section .note.GNU-stack,"",%progbits
#endif
