/*
 * bench:emu's CPU-bound integer workload: a loop of exactly 7 instructions per iteration (add, imul, xor, rol,
 * lea, sub, jnz) with no memory traffic, so guest MIPS = 7 * iterations / seconds on any CPU.
 * Static, no libc: `intloop N` runs N iterations, prints "INTLOOP iterations=N result=HEX ns=ELAPSED" (the loop's
 * time on the guest's CLOCK_MONOTONIC) and exits.
 * Built by bench/emu.ts with gcc -O2 -static -nostdlib.
 */
typedef unsigned long u64;

static long sys_write(int fd, const void *buf, u64 n) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(1), "D"(fd), "S"(buf), "d"(n) : "rcx", "r11", "memory");
    return r;
}

static void __attribute__((noreturn)) sys_exit(int code) {
    __asm__ volatile("syscall" : : "a"(60), "D"(code) : "rcx", "r11", "memory");
    for (;;) {}
}

/* CLOCK_MONOTONIC in ns through the clock_gettime syscall (no vDSO without libc): the guest's own clock, so the
 * loop's time does not include the console's latency to the host. */
static u64 now_ns(void) {
    long ts[2];
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(228), "D"(1), "S"(ts) : "rcx", "r11", "memory");
    return r == 0 ? (u64)ts[0] * 1000000000UL + (u64)ts[1] : 0;
}

static char *put(char *p, const char *s) { while (*s) *p++ = *s++; return p; }

static char *put_u64(char *p, u64 v, int base) {
    char tmp[24];
    int n = 0;
    do { tmp[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

void __attribute__((used)) start_c(u64 *sp) {
    u64 argc = sp[0];
    char **argv = (char **)(sp + 1);
    u64 n = 0;
    if (argc > 1) for (const char *s = argv[1]; *s >= '0' && *s <= '9'; s++) n = n * 10 + (u64)(*s - '0');
    if (n == 0) n = 1;
    u64 a = 0x123456789abcdefUL, b = 0xfedcba987654321UL, c = n;
    u64 t0 = now_ns();
    __asm__ volatile(
        "1:\n\t"
        "add %1, %0\n\t"
        "imul $0x2545f491, %0, %0\n\t"
        "xor %0, %1\n\t"
        "rol $7, %1\n\t"
        "lea 1(%0,%1,2), %0\n\t"
        "sub $1, %2\n\t"
        "jnz 1b\n\t"
        : "+r"(a), "+r"(b), "+r"(c) : : "cc");
    u64 t1 = now_ns();
    char buf[128], *p = buf;
    p = put(p, "INTLOOP iterations=");
    p = put_u64(p, n, 10);
    p = put(p, " result=");
    p = put_u64(p, a ^ b, 16);
    p = put(p, " ns=");
    p = put_u64(p, t1 - t0, 10);
    p = put(p, "\n");
    sys_write(1, buf, (u64)(p - buf));
    sys_exit(0);
}

__asm__(".globl _start\n_start:\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall start_c\n\thlt\n");
