/* ss__capture_regs(uint64_t regs[17]): the caller's registers as they are right after this
 * function returns, in libunwind's x86_64 numbering, so the caller's frame can be unwound
 * from a copy of its stack. Plain stores only: no libc, safe anywhere. */
    .text
    .globl ss__capture_regs
    .hidden ss__capture_regs
    .type ss__capture_regs, @function
ss__capture_regs:
    .cfi_startproc
    movq %rax, 0(%rdi)
    movq %rdx, 8(%rdi)
    movq %rcx, 16(%rdi)
    movq %rbx, 24(%rdi)
    movq %rsi, 32(%rdi)
    movq %rdi, 40(%rdi)
    movq %rbp, 48(%rdi)
    leaq 8(%rsp), %rax
    movq %rax, 56(%rdi)
    movq %r8, 64(%rdi)
    movq %r9, 72(%rdi)
    movq %r10, 80(%rdi)
    movq %r11, 88(%rdi)
    movq %r12, 96(%rdi)
    movq %r13, 104(%rdi)
    movq %r14, 112(%rdi)
    movq %r15, 120(%rdi)
    movq (%rsp), %rax
    movq %rax, 128(%rdi)
    movq 0(%rdi), %rax
    ret
    .cfi_endproc
    .size ss__capture_regs, .-ss__capture_regs
    .section .note.GNU-stack,"",@progbits
