/* A minimal kernel image for loader tests (src/boot/*.test.ts): two PT_LOAD segments (text + data/bss)
   and a PT_NOTE with XEN_ELFNOTE_PHYS32_ENTRY (4-byte value) and XEN_ELFNOTE_GUEST_OS. Never run. */
.section .note.Xen, "a"
.balign 4
.long 4, 4, 18          /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
.asciz "Xen"
.long pvh_start
.balign 4
.long 4, 6, 6           /* XEN_ELFNOTE_GUEST_OS */
.asciz "Xen"
.asciz "tsxen"
.balign 4
.text
.code32
.globl _start
_start:
pvh_start:
  mov $0x41, %al
  out %al, $0xe9
  hlt
.code64
.globl startup_64
startup_64:
  hlt
.data
.long 0x11223344, 0x55667788
.bss
.space 8192
