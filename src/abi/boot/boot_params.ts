// Linux x86 boot protocol: struct boot_params ("zero page") and struct setup_header, as in
// arch/x86/include/uapi/asm/bootparam.h and Documentation/x86/boot.rst (protocol 2.15).
// Offsets are absolute within the 4 KiB zero page; the same offsets hold in a bzImage's first sectors.
import { bytes, defineStruct, u16, u32, u64, u8 } from "../../base/struct.ts";

export const BOOT_PARAMS_SIZE = 4096;
/** struct setup_header starts here (in boot_params and in the bzImage file). */
export const SETUP_HEADER_OFFSET = 0x1f1;
/** The setup header ends at 0x202 + the byte at 0x201 (the jump offset), per boot.rst. */
export const SETUP_HEADER_JUMP_OFFSET = 0x201;
export const E820_TABLE_OFFSET = 0x2d0;

export const HDRS_MAGIC = 0x53726448; // "HdrS"
export const BOOT_FLAG_MAGIC = 0xaa55;

/** hdr.loadflags bits. */
export const LOADED_HIGH = 1 << 0;
export const KASLR_FLAG = 1 << 1;
export const QUIET_FLAG = 1 << 5;
export const KEEP_SEGMENTS = 1 << 6;
export const CAN_USE_HEAP = 1 << 7;

/** hdr.xloadflags bits. */
export const XLF_KERNEL_64 = 1 << 0;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1;
export const XLF_EFI_HANDOVER_32 = 1 << 2;
export const XLF_EFI_HANDOVER_64 = 1 << 3;
export const XLF_EFI_KEXEC = 1 << 4;
export const XLF_5LEVEL = 1 << 5;
export const XLF_5LEVEL_ENABLED = 1 << 6;

/** hdr.type_of_loader: 0xff = undefined loader (no assigned ID). */
export const LOADER_TYPE_UNDEFINED = 0xff;

/** struct boot_params fields the loader writes (IN for the kernel), plus setup_header (mostly read from the image). */
export const BootParams = defineStruct("boot_params", BOOT_PARAMS_SIZE, {
  acpiRsdpAddr: u64(0x070), //      2.14+
  extRamdiskImage: u32(0x0c0), //   high 32 bits of ramdisk_image
  extRamdiskSize: u32(0x0c4),
  extCmdLinePtr: u32(0x0c8),
  altMemK: u32(0x1e0),
  e820Entries: u8(0x1e8),
  eddbufEntries: u8(0x1e9),
  eddMbrSigBufEntries: u8(0x1ea),
  kbdStatus: u8(0x1eb),
  secureBoot: u8(0x1ec),
  sentinel: u8(0x1ef), //           must be 0 or the kernel wipes fields it thinks a broken loader left
  // struct setup_header at 0x1f1
  setupSects: u8(0x1f1),
  rootFlags: u16(0x1f2),
  syssize: u32(0x1f4),
  ramSize: u16(0x1f8),
  vidMode: u16(0x1fa),
  rootDev: u16(0x1fc),
  bootFlag: u16(0x1fe), //          0xAA55
  jump: u16(0x200),
  header: u32(0x202), //            "HdrS"
  version: u16(0x206), //           e.g. 0x020f = 2.15
  realmodeSwtch: u32(0x208),
  startSysSeg: u16(0x20c),
  kernelVersion: u16(0x20e),
  typeOfLoader: u8(0x210), //       write
  loadflags: u8(0x211), //          modify
  setupMoveSize: u16(0x212),
  code32Start: u32(0x214),
  ramdiskImage: u32(0x218), //      write
  ramdiskSize: u32(0x21c), //       write
  bootsectKludge: u32(0x220),
  heapEndPtr: u16(0x224),
  extLoaderVer: u8(0x226),
  extLoaderType: u8(0x227),
  cmdLinePtr: u32(0x228), //        write
  initrdAddrMax: u32(0x22c),
  kernelAlignment: u32(0x230),
  relocatableKernel: u8(0x234),
  minAlignment: u8(0x235),
  xloadflags: u16(0x236),
  cmdlineSize: u32(0x238),
  hardwareSubarch: u32(0x23c),
  hardwareSubarchData: u64(0x240),
  payloadOffset: u32(0x248), //     from the protected-mode code start ((setup_sects + 1) * 512)
  payloadLength: u32(0x24c),
  setupData: u64(0x250),
  prefAddress: u64(0x258),
  initSize: u32(0x260),
  handoverOffset: u32(0x264),
  kernelInfoOffset: u32(0x268),
  // struct boot_e820_entry e820_table[128] at 0x2d0 (20 bytes each)
  e820Table: bytes(E820_TABLE_OFFSET, 128 * 20),
});
