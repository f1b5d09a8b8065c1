/* Golden bytes for src/abi/boot/*.test.ts: gcc -o /tmp/g test/golden/boot_structs.c && /tmp/g (Debian 12 gcc 12, linux-libc-dev 6.1 headers). */
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <stdint.h>
#include <asm/bootparam.h>
#include <elf.h>
/* struct copied field-by-field from xen/include/public/arch-x86/hvm/start_info.h */
struct hvm_start_info { uint32_t magic, version, flags, nr_modules; uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr; uint32_t memmap_entries, reserved; };
struct hvm_modlist_entry { uint64_t paddr, size, cmdline_paddr, reserved; };
struct hvm_memmap_table_entry { uint64_t addr, size; uint32_t type, reserved; };
static void dump(const char *n, const void *p, size_t len) { const unsigned char *b = p; printf("%s %zu ", n, len); for (size_t i = 0; i < len; i++) printf("%02x", b[i]); printf("\n"); }
int main(void) {
  struct hvm_start_info si = { 0x336ec578, 1, 2, 1, 0x6040, 0x7000, 0xe0000, 0x6100, 3, 0 }; dump("start_info", &si, sizeof si);
  struct hvm_modlist_entry me = { 0x0ffe0000, 0x123456, 0x7800, 0 }; dump("modlist", &me, sizeof me);
  struct hvm_memmap_table_entry mm = { 0x100000, 0xfef0000, 1, 0 }; dump("memmap", &mm, sizeof mm);
  struct boot_e820_entry e = { 0x100000, 0xfef0000, 1 }; dump("e820", &e, sizeof e);
  static struct boot_params bp; memset(&bp, 0, sizeof bp);
  bp.acpi_rsdp_addr = 0xe0000; bp.ext_ramdisk_image = 1; bp.ext_ramdisk_size = 2; bp.ext_cmd_line_ptr = 3;
  bp.e820_entries = 5; bp.sentinel = 0; bp.hdr.setup_sects = 39; bp.hdr.boot_flag = 0xaa55; bp.hdr.header = 0x53726448;
  bp.hdr.version = 0x20f; bp.hdr.type_of_loader = 0xff; bp.hdr.loadflags = 0x81; bp.hdr.ramdisk_image = 0x0ffe0000;
  bp.hdr.ramdisk_size = 0x123456; bp.hdr.cmd_line_ptr = 0x20000; bp.hdr.initrd_addr_max = 0x7fffffff;
  bp.hdr.kernel_alignment = 0x200000; bp.hdr.xloadflags = 0x7f; bp.hdr.cmdline_size = 2047; bp.hdr.payload_offset = 0x2cc;
  bp.hdr.payload_length = 0x7b94b4; bp.hdr.pref_address = 0x1000000; bp.hdr.init_size = 0x3f97000; bp.hdr.kernel_info_offset = 0x77;
  bp.e820_table[1].addr = 0x100000; bp.e820_table[1].size = 0xfef0000; bp.e820_table[1].type = 1;
  /* print only the non-zero bytes as offset:value */
  printf("boot_params %zu hdr@%zu e820@%zu entries@%zu rsdp@%zu ", sizeof bp, offsetof(struct boot_params, hdr), offsetof(struct boot_params, e820_table), offsetof(struct boot_params, e820_entries), offsetof(struct boot_params, acpi_rsdp_addr));
  for (size_t i = 0; i < sizeof bp; i++) if (((unsigned char*)&bp)[i]) printf("%zx:%02x,", i, ((unsigned char*)&bp)[i]); printf("\n");
  Elf64_Ehdr h64 = {0}; memcpy(h64.e_ident, "\x7f" "ELF\x02\x01\x01", 7); h64.e_type = 2; h64.e_machine = 62; h64.e_version = 1; h64.e_entry = 0x1000000; h64.e_phoff = 64; h64.e_shoff = 0x3e00030; h64.e_ehsize = 64; h64.e_phentsize = 56; h64.e_phnum = 5; h64.e_shentsize = 64; h64.e_shnum = 39; h64.e_shstrndx = 38; dump("ehdr64", &h64, sizeof h64);
  Elf32_Ehdr h32 = {0}; memcpy(h32.e_ident, "\x7f" "ELF\x01\x01\x01", 7); h32.e_type = 2; h32.e_machine = 62; h32.e_version = 1; h32.e_entry = 0x100000; h32.e_phoff = 52; h32.e_shoff = 0x1234; h32.e_ehsize = 52; h32.e_phentsize = 32; h32.e_phnum = 2; h32.e_shentsize = 40; h32.e_shnum = 7; h32.e_shstrndx = 6; dump("ehdr32", &h32, sizeof h32);
  Elf64_Phdr p64 = { 1, 5, 0x200000, 0xffffffff81000000ull, 0x1000000, 0x18e6498, 0x18e6498, 0x200000 }; dump("phdr64", &p64, sizeof p64);
  Elf32_Phdr p32 = { 1, 0x1000, 0x100000, 0x100000, 0x234, 0x1000, 7, 0x1000 }; dump("phdr32", &p32, sizeof p32);
  Elf64_Nhdr n = { 4, 8, 18 }; dump("nhdr", &n, sizeof n);
  return 0;
}
