/* tsxen tiny test guest: PVH entry (xen docs/misc/pvh.pandoc). Starts in 32-bit protected mode with
 * paging off and EBX = hvm_start_info, identity-maps the first 1 GiB with 2 MiB pages, enters long
 * mode and calls kmain(start_info). */

#define XEN_ELFNOTE_PHYS32_ENTRY 18

    .section .note.Xen, "a"
    .p2align 2
    .long 4                         /* namesz: "Xen\0" */
    .long 4                         /* descsz */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .p2align 2
    .long _start32
    .p2align 2

    .section .text.entry, "ax"
    .code32
    .globl _start32
_start32:
    cli
    mov %ebx, %edi                  /* hvm_start_info: kept in edi, becomes kmain's first argument */
    mov $stack_top, %esp

    /* Only under a Xen-compatible hypervisor (CPUID 0x40000000 = XenVMMXenVMM); elsewhere (QEMU, the
     * "qemu" mode) the MSR write would #GP. console32_result then stays 1. */
    mov $0x40000000, %eax
    xor %ecx, %ecx
    cpuid
    cmp $0x566e6558, %ebx
    jne 3f

    /* A hypercall from 32-bit protected mode with paging off (pointers are physical; args in ebx ecx edx):
     * install the hypercall page, then console_io(CONSOLEIO_write, len, msg). kmain checks the result. */
    mov $0x40000000, %ecx
    mov $hypercall_page, %eax
    xor %edx, %edx
    wrmsr
    xor %ebx, %ebx
    mov $(msg32_end - msg32), %ecx
    mov $msg32, %edx
    call hypercall_page + 18 * 32
    mov %eax, console32_result

3:  movl $(pdpt + 3), pml4          /* PML4[0] -> PDPT (present, writable) */
    movl $(pd + 3), pdpt            /* PDPT[0] -> PD */
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                  /* present, writable, 2 MiB page */
    mov %eax, pd(,%ecx,8)
    movl $0, pd+4(,%ecx,8)
    inc %ecx
    cmp $512, %ecx
    jne 1b

    mov %cr4, %eax
    or $0x20, %eax                  /* PAE */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx           /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax            /* PG | PE */
    mov %eax, %cr0
    lgdt gdt_ptr
    ljmp $0x08, $start64

    .code64
start64:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov $stack_top, %rsp
    mov %edi, %edi
    call kmain
2:  cli
    hlt
    jmp 2b

    /* Interrupt handler for vector 0xf3 ("irq" and "bench" modes): note the vector, let C acknowledge an
     * event-channel upcall (upcall_ack), EOI through the x2APIC, return. */
    .globl irq_f3_entry
irq_f3_entry:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11                       /* 5 words by the CPU + 9: the stack is 16-byte aligned for the call */
    incl irq_count
    call upcall_ack
    mov $0x80b, %ecx                /* x2APIC EOI */
    xor %eax, %eax
    xor %edx, %edx
    wrmsr
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    iretq

    .globl triple_fault
triple_fault:
    lidt null_idt_ptr
    ud2                             /* #UD → no IDT → #DF → triple fault */
    jmp triple_fault

    .section .rodata
    .p2align 3
gdt:
    .quad 0
    .quad 0x00af9b000000ffff        /* 0x08: 64-bit code */
    .quad 0x00cf93000000ffff        /* 0x10: data */
gdt_end:
gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt
null_idt_ptr:
    .word 0
    .quad 0
msg32:
    .ascii "tiny: hello from 32-bit protected mode via console_io\n"
msg32_end:

    .section .data
    .p2align 2
    .globl console32_result
console32_result:
    .long 1
    .globl irq_count
irq_count:
    .long 0

    .section .bss
    .p2align 12
pml4: .skip 4096
pdpt: .skip 4096
pd:   .skip 4096
    .globl hypercall_page
hypercall_page: .skip 4096
stack: .skip 16384
stack_top:
    .section .note.GNU-stack, "", @progbits
