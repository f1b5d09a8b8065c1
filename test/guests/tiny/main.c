/* tsxen tiny test guest, 64-bit part: prints through port 0xe9 and the Xen hypercall page's console_io,
 * checks CPUID and xen_version, then acts on the cmdline from hvm_start_info:
 *   reason=poweroff|reboot|crash|watchdog|suspend  shut down with that reason (default poweroff)
 *   spin    loop forever (for destroy/pause tests)
 *   fault   triple-fault
 *   watch=0xADDR  spin until the u32 at guest-physical ADDR reads 0x7a5e4e00 (an overlay page the test maps)
 *   irq     enable the x2APIC, wait (hlt) for vector 0xf3 from the hypervisor, then shut down
 *   idle    after the checks, halt with interrupts off forever (an idle domain, for memory benchmarks)
 *   qemu    no Xen at all (QEMU microvm): port 0xe9 only, then exit by writing 0 to isa-debug-exit at
 *           port 0xf4 (QEMU exits with status 1), or with "idle" halt forever
 * Prints "RESULT: PASS" when every check passed, "RESULT: FAIL <why>" otherwise. Must behave the same
 * on every backend. */
typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long u64;

struct hvm_start_info {
    u32 magic, version, flags, nr_modules;
    u64 modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    u32 memmap_entries, reserved;
};

extern u8 hypercall_page[4096];
extern void triple_fault(void) __attribute__((noreturn));
extern int console32_result;
extern volatile int irq_count;
extern void irq_f3_entry(void);

static int failed;
static int use_hypercall_console;

static void outb(unsigned short port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }

static long hypercall3(unsigned nr, u64 a1, u64 a2, u64 a3) {
    long ret;
    void *stub = hypercall_page + nr * 32;
    __asm__ volatile("call *%[stub]"
                     : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3)
                     : [stub] "r"(stub)
                     : "memory", "rcx", "r8", "r9", "r10", "r11");
    return ret;
}

static unsigned long strlen_(const char *s) { unsigned long n = 0; while (s[n]) n++; return n; }

static void puts_e9(const char *s) { while (*s) outb(0xe9, (u8)*s++); }

static void puts_(const char *s) {
    if (use_hypercall_console && hypercall3(18, 0 /* CONSOLEIO_write */, strlen_(s), (u64)s) == 0) return;
    puts_e9(s);
}

static void put_dec(u64 v) {
    char buf[24]; int i = 23; buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    puts_(buf + i);
}

static void check(int ok, const char *what) {
    if (!ok) {
        failed = 1;
        puts_("tiny: check failed: "); puts_(what); puts_("\n");
    }
}

static int starts_with(const char *s, const char *p) { while (*p) if (*s++ != *p++) return 0; return 1; }

/* Finds "key=" in a space-separated cmdline; returns the value start or 0. */
static const char *cmdline_value(const char *cmd, const char *key) {
    while (cmd && *cmd) {
        while (*cmd == ' ') cmd++;
        if (starts_with(cmd, key) && cmd[strlen_(key)] == '=') return cmd + strlen_(key) + 1;
        if (starts_with(cmd, key) && (cmd[strlen_(key)] == ' ' || cmd[strlen_(key)] == 0)) return cmd + strlen_(key);
        while (*cmd && *cmd != ' ') cmd++;
    }
    return 0;
}

static int word_is(const char *v, const char *w) {
    while (*w) if (*v++ != *w++) return 0;
    return *v == 0 || *v == ' ';
}

static void wrmsr(u32 msr, u64 v) { __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32))); }

static u64 rdmsr(u32 msr) {
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}

/* 64-bit IDT: only the upcall vector 0xf3 has a gate. */
static struct { unsigned short off0, sel; u8 ist, attr; unsigned short off1; u32 off2, zero; } idt[256] __attribute__((aligned(16)));

static u64 parse_hex(const char *v) {
    u64 x = 0;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) v += 2;
    for (;; v++) {
        int d = *v >= '0' && *v <= '9' ? *v - '0' : *v >= 'a' && *v <= 'f' ? *v - 'a' + 10 : *v >= 'A' && *v <= 'F' ? *v - 'A' + 10 : -1;
        if (d < 0) return x;
        x = x * 16 + (u64)d;
    }
}

static void watch(u64 addr) {
    volatile u32 *p = (volatile u32 *)addr;
    puts_("tiny: watching for the overlay\n");
    while (*p != 0x7a5e4e00) __asm__ volatile("pause");
    puts_("tiny: saw the overlay\n");
}

static void wait_for_vector(void) {
    u64 h = (u64)irq_f3_entry;
    idt[0xf3].off0 = (unsigned short)h;
    idt[0xf3].sel = 0x08;
    idt[0xf3].attr = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
    idt[0xf3].off1 = (unsigned short)(h >> 16);
    idt[0xf3].off2 = (u32)(h >> 32);
    struct { unsigned short limit; u64 base; } __attribute__((packed)) idtr = { sizeof(idt) - 1, (u64)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
    wrmsr(0x1b, rdmsr(0x1b) | (1 << 11) | (1 << 10)); /* APIC_BASE: enable, x2APIC mode */
    wrmsr(0x80f, 0x1ff);                              /* SVR: software enable, spurious vector 0xff */
    wrmsr(0x808, 0);                                  /* TPR: accept every priority */
    puts_("tiny: waiting for vector 0xf3\n");
    while (irq_count == 0) __asm__ volatile("sti; hlt; cli");
    puts_("tiny: got vector 0xf3\n");
}

static void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d) {
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

void kmain(struct hvm_start_info *si) {
    puts_e9("tiny: hello from the PVH guest via port 0xe9\n");
    if (si->magic != 0x336ec578) { puts_e9("RESULT: FAIL bad hvm_start_info magic\n"); for (;;) __asm__ volatile("hlt"); }
    const char *cmd = si->cmdline_paddr ? (const char *)si->cmdline_paddr : "";
    if (cmdline_value(cmd, "qemu")) {
        puts_e9("tiny: cmdline \""); puts_e9(cmd); puts_e9("\"\n");
        puts_e9("RESULT: PASS\n");
        if (cmdline_value(cmd, "idle")) for (;;) __asm__ volatile("cli; hlt");
        puts_e9("tiny: exit through isa-debug-exit\n");
        outb(0xf4, 0);
        for (;;) __asm__ volatile("cli; hlt");
    }
    check(console32_result == 0, "console_io from 32-bit protected mode returned 0");

    u32 a, b, c, d;
    cpuid(0x40000000, &a, &b, &c, &d);
    check(b == 0x566e6558 && c == 0x65584d4d && d == 0x4d4d566e, "CPUID 0x40000000 is XenVMMXenVMM");
    cpuid(0x40000002, &a, &b, &c, &d);
    check(a >= 1 && b == 0x40000000, "CPUID 0x40000002 names MSR 0x40000000");

    wrmsr(b, (u64)hypercall_page);
    check(hypercall_page[0] == 0xb8 && hypercall_page[18 * 32 + 1] == 18, "hypercall page filled");
    use_hypercall_console = 1;
    puts_("tiny: hello via console_io\n");
    puts_("tiny: cmdline \""); puts_(cmd); puts_("\"\n");

    long ver = hypercall3(17, 0 /* XENVER_version */, 0, 0);
    puts_("tiny: xen version "); put_dec((u64)ver >> 16); puts_("."); put_dec((u64)ver & 0xffff); puts_("\n");
    check(ver == ((4 << 16) | 17), "xen_version is 4.17");
    char extra[16];
    extra[0] = 1;
    check(hypercall3(17, 1 /* XENVER_extraversion */, (u64)extra, 0) == 0 && extra[0] == '.', "XENVER_extraversion");
    check(hypercall3(49, 0, 0, 0) == -38, "an unknown hypercall returns -ENOSYS");

    const char *mode = cmdline_value(cmd, "reason");
    if (cmdline_value(cmd, "spin")) {
        puts_(failed ? "RESULT: FAIL\n" : "RESULT: PASS\n");
        puts_("tiny: spinning\n");
        for (;;) __asm__ volatile("pause");
    }
    if (cmdline_value(cmd, "idle")) {
        puts_(failed ? "RESULT: FAIL\n" : "RESULT: PASS\n");
        puts_("tiny: idle\n");
        for (;;) __asm__ volatile("cli; hlt");
    }
    if (cmdline_value(cmd, "irq")) wait_for_vector();
    const char *w = cmdline_value(cmd, "watch");
    if (w) watch(parse_hex(w));
    if (cmdline_value(cmd, "fault")) {
        puts_(failed ? "RESULT: FAIL\n" : "RESULT: PASS\n");
        puts_("tiny: triple fault\n");
        triple_fault();
    }
    u32 reason = 0;
    if (mode) {
        if (word_is(mode, "poweroff")) reason = 0;
        else if (word_is(mode, "reboot")) reason = 1;
        else if (word_is(mode, "suspend")) reason = 2;
        else if (word_is(mode, "crash")) reason = 3;
        else if (word_is(mode, "watchdog")) reason = 4;
        else check(0, "known reason= value");
    }
    puts_(failed ? "RESULT: FAIL\n" : "RESULT: PASS\n");
    puts_("tiny: shutdown reason "); put_dec(reason); puts_("\n");
    u32 shutdown_arg = reason;
    hypercall3(29, 2 /* SCHEDOP_shutdown */, (u64)&shutdown_arg, 0);
    puts_e9("RESULT: FAIL shutdown returned\n");
    for (;;) __asm__ volatile("cli; hlt");
}
