// libc through koffi: the only place tsxen calls native code (open, ioctl, mmap, memfd, signals, thread clocks).
// Safe to load on any thread; every worker that issues ioctls loads its own function handles.

import koffi from "koffi";
import { KvmError } from "./errors.ts";

const libc = koffi.load("libc.so.6");

const c = {
  open: libc.func("int open(const char *path, int flags)"),
  close: libc.func("int close(int fd)"),
  ioctlPtr: libc.func("int ioctl(int fd, unsigned long request, void *arg)"),
  ioctlInt: libc.func("int ioctl(int fd, unsigned long request, unsigned long arg)"),
  mmap: libc.func("uint64_t mmap(uint64_t addr, size_t length, int prot, int flags, int fd, int64_t offset)"),
  munmap: libc.func("int munmap(uint64_t addr, size_t length)"),
  memfdCreate: libc.func("int memfd_create(const char *name, unsigned int flags)"),
  ftruncate: libc.func("int ftruncate(int fd, int64_t length)"),
  pthreadSelf: libc.func("uint64_t pthread_self(void)"),
  pthreadKill: libc.func("int pthread_kill(uint64_t thread, int sig)"),
  pthreadGetcpuclockid: libc.func("int pthread_getcpuclockid(uint64_t thread, _Out_ int *clockid)"),
  clockGettime: libc.func("int clock_gettime(int clockid, _Out_ int64_t *ts)"),
  fallocate: libc.func("int fallocate(int fd, int mode, int64_t offset, int64_t len)"),
  malloc: libc.func("uint64_t malloc(size_t size)"),
  free: libc.func("void free(uint64_t ptr)"),
};

export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_FAILED = 0xffffffffffffffffn;
export const MFD_CLOEXEC = 1;
/** The signal that kicks a vCPU thread out of KVM_RUN (SIGUSR1 belongs to Node's inspector). */
export const KICK_SIGNAL = 12; // SIGUSR2

const errnoNames = new Map<number, string>(
  Object.entries(koffi.os?.errno ?? {}).map(([name, n]) => [n as number, name]),
);
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}
export function lastErrno(): number {
  return koffi.errno();
}
function fail(operation: string): never {
  const e = koffi.errno();
  throw new KvmError(operation, e, errnoName(e));
}

export function openFile(path: string, flags: number): number {
  const fd = c.open(path, flags | O_CLOEXEC) as number;
  if (fd < 0) fail(`open "${path}"`);
  return fd;
}

export function closeFd(fd: number): void {
  c.close(fd);
}

/** ioctl with an integer argument; returns the non-negative result or throws KvmError. */
export function ioctlValue(fd: number, request: number, arg: number | bigint, what: string): number {
  const r = c.ioctlInt(fd, request, arg) as number;
  if (r < 0) fail(what);
  return r;
}

/** ioctl with a pointer to `buf` (in, out or both); returns the non-negative result or throws KvmError. */
export function ioctlBuffer(fd: number, request: number, buf: Uint8Array, what: string): number {
  const r = c.ioctlPtr(fd, request, buf) as number;
  if (r < 0) fail(what);
  return r;
}

/** ioctl that may fail in an expected way: returns -errno instead of throwing. */
export function ioctlRaw(fd: number, request: number, arg: number | bigint | Uint8Array): number {
  const r = (typeof arg === "object" ? c.ioctlPtr(fd, request, arg) : c.ioctlInt(fd, request, arg)) as number;
  return r < 0 ? -koffi.errno() : r;
}

export function mmapShared(fd: number, lengthBytes: number, what: string): bigint {
  const addr = BigInt(c.mmap(0n, lengthBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n) as number | bigint);
  if (addr === MAP_FAILED || addr === -1n) fail(`mmap ${what}`);
  return addr;
}

const MAP_FIXED = 0x10;
/** Maps fd at offset over [addr, addr+length) in place (MAP_FIXED): the old pages there are replaced atomically. */
export function mmapFixedShared(addr: bigint, lengthBytes: number, fd: number, offset: number, what: string): void {
  const r = BigInt(c.mmap(addr, lengthBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, BigInt(offset)) as number | bigint);
  if (r !== addr) fail(`mmap(MAP_FIXED) ${what}`);
}

export function munmap(addr: bigint, lengthBytes: number): void {
  c.munmap(addr, lengthBytes);
}

/** An anonymous memory file of `sizeBytes` (guest RAM), closed on exec. */
export function memfdCreate(name: string, sizeBytes: number): number {
  const fd = c.memfdCreate(name, MFD_CLOEXEC) as number;
  if (fd < 0) fail(`memfd_create "${name}"`);
  if ((c.ftruncate(fd, BigInt(sizeBytes)) as number) < 0) {
    const e = koffi.errno();
    c.close(fd);
    throw new KvmError(`ftruncate memfd to ${sizeBytes} bytes`, e, errnoName(e));
  }
  return fd;
}

const FALLOC_FL_KEEP_SIZE = 1;
const FALLOC_FL_PUNCH_HOLE = 2;
/** Returns a file range's memory to the host (reads back as zeros). */
export function punchHole(fd: number, offset: number, lengthBytes: number): void {
  if ((c.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, BigInt(offset), BigInt(lengthBytes)) as number) < 0) fail("fallocate(PUNCH_HOLE)");
}

/** A view of native memory (no copy). The ArrayBuffer stays valid until the memory is unmapped. */
export function nativeView(addr: bigint, lengthBytes: number): Uint8Array {
  return new Uint8Array(koffi.view(addr, lengthBytes));
}

export function mallocBytes(sizeBytes: number): bigint {
  const p = BigInt(c.malloc(sizeBytes) as number | bigint);
  if (p === 0n) throw new KvmError("malloc", 12, "ENOMEM");
  return p;
}
export function freeBytes(p: bigint): void {
  c.free(p);
}

export function currentThreadId(): bigint {
  return BigInt(c.pthreadSelf() as number | bigint);
}

export function signalThread(thread: bigint, signal: number): number {
  return c.pthreadKill(thread, signal) as number;
}

/** CPU time consumed by a thread of this process (guest time in KVM_RUN included), in ns; -1 if unknown. */
export function threadCpuTimeNs(thread: bigint): number {
  const id = [0];
  if ((c.pthreadGetcpuclockid(thread, id) as number) !== 0) return -1;
  const ts = new BigInt64Array(2);
  if ((c.clockGettime(id[0]!, ts) as number) !== 0) return -1;
  return Number(ts[0]!) * 1e9 + Number(ts[1]!);
}
