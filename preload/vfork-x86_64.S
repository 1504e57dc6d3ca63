/* vfork: a child that runs on its parent's thread, stack and memory until it execs or exits.
 * A C function cannot stand in front of vfork (its frame, which the child reuses, would be
 * gone when the parent returns through it), so this one keeps the caller's return address in
 * a register across the system call, as the C library's does, and calls C only before the
 * call and, in the parent, after it:
 *   ss__vfork_enter()         marks the thread's state, so that every interposer passes the
 *                             child's calls straight through (interpose.h)
 *   ss__vfork_resumed(rc)     in the parent, takes the mark off again, and turns a failed
 *                             call into -1 and errno
 * The child returns 0 with the mark on. Where shadow stacks are in use (the child's return
 * would pop the parent's entry), the C library's own vfork is called instead, unmarked. */
    .text
    .globl vfork
    .type vfork, @function
    .globl __vfork
    .type __vfork, @function
vfork:
__vfork:
    .cfi_startproc
    /* rdsspq leaves rax alone (a no-op) unless a shadow stack is active. */
    xorl %eax, %eax
    rdsspq %rax
    testq %rax, %rax
    jz 1f
    movq ss__real_vfork(%rip), %rax
    testq %rax, %rax
    jz 1f
    jmp *%rax
1:
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    call ss__vfork_enter
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %rdi
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rdi
    movl $58, %eax /* SYS_vfork */
    syscall
    pushq %rdi
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rip, 0
    testq %rax, %rax
    jz 2f
    movq %rax, %rdi
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    call ss__vfork_resumed
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
2:
    ret
    .cfi_endproc
    .size vfork, .-vfork
    .size __vfork, .-vfork
    .section .note.GNU-stack,"",@progbits
