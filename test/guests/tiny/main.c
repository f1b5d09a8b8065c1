/* tsxen tiny test guest, 64-bit part: prints through port 0xe9 and the Xen hypercall page's console_io,
 * checks CPUID and xen_version, then acts on the cmdline from hvm_start_info:
 *   reason=poweroff|reboot|crash|watchdog|suspend  shut down with that reason (default poweroff)
 *   spin    loop forever (for destroy/pause tests)
 *   fault   triple-fault
 *   watch=0xADDR  spin until the u32 at guest-physical ADDR reads 0x7a5e4e00 (an overlay page the test maps)
 *   irq     enable the x2APIC, wait (hlt) for vector 0xf3 from the hypervisor, then shut down
 *   xsprobe=N   talk to xenstored over the xenstore ring: read/write its own nodes and try domain N's
 *               (prints "XSPROBE k=v"), then try to reach N's memory through grant ops ("GNTPROBE k=v")
 *   fuzz=COUNT seed=HEX peer=N [wild]   COUNT hypercalls with random numbers and arguments (port-I/O hypercalls,
 *               biased towards real numbers, small values, pointers into a scratch buffer and domid N; values
 *               stay below 1 GiB (mapped) unless "wild" is given);
 *               prints "FUZZ done ..." and then carries on (the usual checks again, then shutdown)
 *   bench=N     N xen_version round trips ("BENCH hc begin/end"), then N EVTCHNOP_send on a self-bound
 *               IPI port each waited for as an upcall on vector 0xf3 ("BENCH ev begin/end"); "benchhlt" waits
 *               with hlt on emu too (default there: spin with interrupts open)
 *   beat    after everything else, print "tiny: beat N" forever (a neighbour that shows it is alive)
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
void upcall_ack(void);

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

static void setup_irq_f3(void) {
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
}

static void wait_for_vector(void) {
    setup_irq_f3();
    puts_("tiny: waiting for vector 0xf3\n");
    while (irq_count == 0) __asm__ volatile("sti; hlt; cli");
    puts_("tiny: got vector 0xf3\n");
}

/* ---- hypercalls with any number: the same instruction the hypercall page's stubs use (emu: vmcall/vmmcall,
 * kvm: out %eax,$0x5a), with eax = nr ---- */
#define HCALL_ASM(insn) \
    __asm__ volatile(insn : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8) : "a"(nr) : "memory", "rcx", "r9", "r11")
static long hypercall_any(u32 nr, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5) {
    long ret;
    register u64 r10 __asm__("r10") = a4;
    register u64 r8 __asm__("r8") = a5;
    const u8 *stub = hypercall_page; /* stub 0: b8 00 00 00 00 <insn> c3 */
    if (stub[5] == 0xe7) HCALL_ASM("out %%eax, $0x5a");
    else if (stub[5] == 0x0f && stub[7] == 0xd9) HCALL_ASM("vmmcall");
    else HCALL_ASM("vmcall");
    return ret;
}

static void put_hex(u64 v) {
    char buf[20]; int i = 19; buf[i] = 0;
    do { buf[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
    buf[--i] = 'x'; buf[--i] = '0';
    puts_(buf + i);
}

static void put_signed(long v) {
    if (v < 0) { puts_("-"); put_dec((u64)-v); } else put_dec((u64)v);
}

static u64 parse_dec(const char *v) {
    u64 x = 0;
    while (*v >= '0' && *v <= '9') x = x * 10 + (u64)(*v++ - '0');
    return x;
}

static u64 rdtsc(void) {
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

static void memset_(void *p, int c, u64 n) { u8 *d = p; while (n--) *d++ = (u8)c; }

#define DOMID_SELF 0x7ff0
#define HYPERCALL_memory_op 12
#define HYPERCALL_grant_table_op 20
#define HYPERCALL_vcpu_op 24
#define HYPERCALL_sched_op 29
#define HYPERCALL_event_channel_op 32
#define HYPERCALL_hvm_op 34

struct xen_hvm_param { unsigned short domid, pad; u32 index; u64 value; };

static long hvm_get_param(u32 index, u64 *value) {
    struct xen_hvm_param p = { DOMID_SELF, 0, index, 0 };
    long r = hypercall3(HYPERCALL_hvm_op, 1 /* HVMOP_get_param */, (u64)&p, 0);
    *value = p.value;
    return r;
}

static long hvm_set_param(u32 index, u64 value) {
    struct xen_hvm_param p = { DOMID_SELF, 0, index, value };
    return hypercall3(HYPERCALL_hvm_op, 0 /* HVMOP_set_param */, (u64)&p, 0);
}

static long evtchn_send(u32 port) {
    u32 p = port;
    return hypercall3(HYPERCALL_event_channel_op, 4 /* EVTCHNOP_send */, (u64)&p, 0);
}

/* ---- xenstore over the ring (xen/include/public/io/xs_wire.h) ---- */
struct xs_ring {
    char req[1024], rsp[1024];
    volatile u32 req_cons, req_prod, rsp_cons, rsp_prod;
};
struct xsd_sockmsg { u32 type, req_id, tx_id, len; };
static struct xs_ring *xs;
static u32 xs_port;
static u32 xs_req_id;
static char xs_reply[4097];

static void xs_put(const void *data, u32 len) {
    const char *d = data;
    for (u32 i = 0; i < len; i++) {
        while (xs->req_prod - xs->req_cons >= 1024) __asm__ volatile("pause");
        xs->req[xs->req_prod & 1023] = d[i];
        __asm__ volatile("" ::: "memory");
        xs->req_prod++;
    }
}

static void xs_get(void *data, u32 len) {
    char *d = data;
    for (u32 i = 0; i < len; i++) {
        while (xs->rsp_prod == xs->rsp_cons) __asm__ volatile("pause");
        __asm__ volatile("" ::: "memory");
        d[i] = xs->rsp[xs->rsp_cons & 1023];
        xs->rsp_cons++;
    }
}

/* One request; returns the reply type (16 = XS_ERROR) with the payload NUL-terminated in xs_reply. Skips watch events. */
static u32 xs_request(u32 type, const char *a, u32 alen, const char *b, u32 blen) {
    struct xsd_sockmsg h = { type, ++xs_req_id, 0, alen + blen };
    xs_put(&h, sizeof h);
    xs_put(a, alen);
    if (blen) xs_put(b, blen);
    evtchn_send(xs_port);
    for (;;) {
        struct xsd_sockmsg r;
        xs_get(&r, sizeof r);
        u32 n = r.len > 4096 ? 4096 : r.len;
        xs_get(xs_reply, n);
        for (u32 i = n; i < r.len; i++) { char c; xs_get(&c, 1); }
        xs_reply[n] = 0;
        evtchn_send(xs_port);
        if (r.type != 15 /* XS_WATCH_EVENT */ && r.req_id == h.req_id) return r.type;
    }
}

static void xs_print(const char *key, u32 type) {
    puts_("XSPROBE "); puts_(key); puts_("=");
    if (type == 16) { puts_("error "); puts_(xs_reply); }
    else puts_(xs_reply);
    puts_("\n");
}

static void xs_read_probe(const char *key, const char *path) {
    xs_print(key, xs_request(2 /* XS_READ */, path, (u32)strlen_(path) + 1, 0, 0));
}

static void xs_write_probe(const char *key, const char *path, const char *value) {
    xs_print(key, xs_request(11 /* XS_WRITE */, path, (u32)strlen_(path) + 1, value, (u32)strlen_(value)));
}

static void append(char *dst, const char *s) { while (*dst) dst++; while (*s) *dst++ = *s++; *dst = 0; }

static void append_dec(char *dst, u64 v) {
    char buf[24]; int i = 23; buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    append(dst, buf + i);
}

struct gnttab_map_grant_ref { u64 host_addr; u32 flags, ref; unsigned short dom; short status; u32 handle; u64 dev_bus_addr; };
struct gnttab_copy_ptr { u64 u; unsigned short domid, offset; u32 pad; };
struct gnttab_copy { struct gnttab_copy_ptr source, dest; unsigned short len, flags; short status, pad; };
static u8 probe_page[4096] __attribute__((aligned(4096)));

static void xsprobe(u64 other) {
    u64 pfn = 0, port = 0;
    check(hvm_get_param(1 /* HVM_PARAM_STORE_PFN */, &pfn) == 0 && pfn != 0, "HVM_PARAM_STORE_PFN");
    check(hvm_get_param(2 /* HVM_PARAM_STORE_EVTCHN */, &port) == 0 && port != 0, "HVM_PARAM_STORE_EVTCHN");
    if (failed) return;
    xs = (struct xs_ring *)(pfn << 12);
    xs_port = (u32)port;
    char path[64];
    xs_read_probe("own_name", "name");
    xs_read_probe("own_domid", "domid");
    xs_write_probe("own_write", "data/tiny", "written-by-tiny");
    xs_read_probe("own_readback", "data/tiny");
    path[0] = 0; append(path, "/local/domain/"); append_dec(path, other); append(path, "/name");
    xs_read_probe("other_read", path);
    path[0] = 0; append(path, "/local/domain/"); append_dec(path, other); append(path, "/data/from-tiny");
    xs_write_probe("other_write", path, "x");
    xs_write_probe("dom0_write", "/local/domain/0/from-tiny", "x");
    xs_read_probe("dom0_read", "/local/domain/0/name");

    /* The other domain's memory: map its grant refs 0..7 (it granted us none), copy from its frames by gmfn. */
    short worst = 0;
    for (u32 ref = 0; ref < 8; ref++) {
        struct gnttab_map_grant_ref m;
        memset_(&m, 0, sizeof m);
        m.host_addr = 0x40000000ul + ref * 4096; /* 1 GiB: past RAM */
        m.flags = 2 | 4; /* GNTMAP_host_map | GNTMAP_readonly */
        m.ref = ref;
        m.dom = (unsigned short)other;
        long r = hypercall3(HYPERCALL_grant_table_op, 0 /* GNTTABOP_map_grant_ref */, (u64)&m, 1);
        if (r != 0 || m.status == 0) worst = 1; /* a map that succeeded or a hypercall error */
        if (ref == 0) { puts_("GNTPROBE map_status="); put_signed(m.status); puts_("\n"); }
    }
    puts_("GNTPROBE map_any_succeeded="); puts_(worst ? "yes" : "no"); puts_("\n");
    struct gnttab_copy c;
    memset_(&c, 0, sizeof c);
    c.source.u = 0x100; /* the other domain's frame at 1 MiB, by gmfn */
    c.source.domid = (unsigned short)other;
    c.dest.u = (u64)probe_page >> 12;
    c.dest.domid = DOMID_SELF;
    c.len = 64;
    long r = hypercall3(HYPERCALL_grant_table_op, 5 /* GNTTABOP_copy */, (u64)&c, 1);
    puts_("GNTPROBE copy_gmfn_rc="); put_signed(r); puts_(" status="); put_signed(c.status); puts_("\n");
    memset_(&c, 0, sizeof c);
    c.source.u = 0; /* grant ref 0 of the other domain */
    c.source.domid = (unsigned short)other;
    c.dest.u = (u64)probe_page >> 12;
    c.dest.domid = DOMID_SELF;
    c.len = 64;
    c.flags = 1; /* GNTCOPY_source_gref */
    r = hypercall3(HYPERCALL_grant_table_op, 5, (u64)&c, 1);
    puts_("GNTPROBE copy_gref_rc="); put_signed(r); puts_(" status="); put_signed(c.status); puts_("\n");
}

/* ---- fuzz ---- */
static u64 rng_state;
static u64 rnd(void) {
    u64 x = rng_state;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dul;
}

static u8 scratch[16384] __attribute__((aligned(4096)));
static u64 fuzz_peer;
static int fuzz_wild; /* 0: every value is below 1 GiB (mapped) or 16-bit; 1: also any 64-bit value */
static u64 wide(void) { return fuzz_wild ? rnd() : rnd() & 0x3fffffff; }

static u64 fuzz_word(void) {
    u64 k = rnd() & 15;
    if (k < 6) return wide();
    if (k < 10) return rnd() & 15;
    if (k < 12) return (u64)scratch + (rnd() & 8191 & ~7ul);
    if (k == 12) return fuzz_peer;
    if (k == 13) return DOMID_SELF;
    if (k == 14) return 0;
    return rnd() & 0xffff;
}

static u64 fuzz_arg(void) {
    u64 k = rnd() & 7;
    if (k < 3) return rnd() & 31;                 /* a sub-op number */
    if (k < 6) {                                  /* a struct in the scratch buffer, freshly randomized */
        u64 *p = (u64 *)(scratch + (rnd() & 8191 & ~7ul));
        for (int i = 0; i < 64; i++) p[i] = fuzz_word();
        return (u64)p;
    }
    if (k == 6) return wide();
    return rnd() & 0xffff;
}

static void fuzz(u64 count, u64 seed) {
    rng_state = seed | 1;
    u64 ok = 0, enosys = 0, eperm = 0, efault = 0, einval = 0, other = 0, sum = 0;
    puts_("FUZZ begin count="); put_dec(count); puts_(" seed="); put_hex(seed); puts_("\n");
    for (u64 i = 0; i < count; i++) {
        u64 pick = rnd();
        u32 nr;
        if ((pick & 7) == 0) nr = (u32)rnd();                    /* any number at all */
        else if ((pick & 7) < 3) nr = (u32)(rnd() % 64);
        else {
            static const u8 real[] = { 12, 17, 18, 20, 24, 29, 32, 34, 6, 7, 15, 33, 35, 38, 41 };
            nr = real[rnd() % sizeof real];
        }
        u64 a[5];
        for (int j = 0; j < 5; j++) a[j] = fuzz_arg();
        /* Keep the fuzzer itself running: no block/poll/shutdown/watchdog of itself, no vCPU 0 down,
         * short console writes. remote_shutdown (of the peer!) stays in: it must be refused. */
        if (nr == 29 && a[0] != 0 && a[0] != 4 && a[0] != 5) a[0] = 0;
        if (nr == 24 && a[0] == 2) a[0] = 3;
        if (nr == 18 && a[0] == 0) a[1] &= 15;
        long r = hypercall_any(nr, a[0], a[1], a[2], a[3], a[4]);
        sum = sum * 31 + (u64)r;
        if (r == 0) ok++;
        else if (r == -38) enosys++;
        else if (r == -1) eperm++;
        else if (r == -14) efault++;
        else if (r == -22) einval++;
        else other++;
    }
    puts_("\nFUZZ done calls="); put_dec(count);
    puts_(" ok="); put_dec(ok); puts_(" enosys="); put_dec(enosys); puts_(" eperm="); put_dec(eperm);
    puts_(" efault="); put_dec(efault); puts_(" einval="); put_dec(einval); puts_(" other="); put_dec(other);
    puts_(" hash="); put_hex(sum); puts_("\n");
}

/* ---- bench ---- */
static u8 shinfo_page[4096] __attribute__((aligned(4096)));
static volatile u32 bench_port;
static int bench_hlt; /* "benchhlt": wait with hlt on every backend */

/* Called from the 0xf3 entry (bench mode): acknowledge the upcall the way Linux's 2-level handler does. */
void upcall_ack(void) {
    if (bench_port == 0) return;
    volatile u8 *vcpu0 = shinfo_page;                     /* vcpu_info[0]: upcall_pending at 0 */
    volatile u64 *pending = (volatile u64 *)(shinfo_page + 2048);
    vcpu0[0] = 0;
    __atomic_exchange_n((u64 *)(shinfo_page + 8), 0, __ATOMIC_SEQ_CST); /* evtchn_pending_sel */
    __atomic_and_fetch((u64 *)&pending[bench_port / 64], ~(1ul << (bench_port % 64)), __ATOMIC_SEQ_CST);
}

static void bench(u64 n) {
    puts_("BENCH hc begin n="); put_dec(n); puts_("\n");
    u64 t0 = rdtsc();
    for (u64 i = 0; i < n; i++) hypercall3(17, 0, 0, 0);
    u64 t1 = rdtsc();
    puts_("BENCH hc end tsc="); put_dec(t1 - t0); puts_("\n");

    /* shared_info into our page, upcall vector 0xf3, an IPI channel bound to vCPU 0. */
    struct { unsigned short domid, size; u32 space; u64 idx, gpfn; } atp = { DOMID_SELF, 0, 0 /* shared_info */, 0, (u64)shinfo_page >> 12 };
    check(hypercall3(HYPERCALL_memory_op, 7 /* XENMEM_add_to_physmap */, (u64)&atp, 0) == 0, "shared_info placed");
    check(hvm_set_param(0 /* HVM_PARAM_CALLBACK_IRQ */, (2ul << 56) | 0xf3) == 0, "callback vector set");
    struct { u32 vcpu, port; } ipi = { 0, 0 };
    check(hypercall3(HYPERCALL_event_channel_op, 7 /* EVTCHNOP_bind_ipi */, (u64)&ipi, 0) == 0, "IPI bound");
    bench_port = ipi.port;
    shinfo_page[1] = 0; /* vcpu_info[0].evtchn_upcall_mask */
    setup_irq_f3();
    u32 seen = irq_count;
    puts_("BENCH ev begin n="); put_dec(n); puts_("\n");
    t0 = rdtsc();
    for (u64 i = 0; i < n; i++) {
        long r = evtchn_send(bench_port);
        for (u64 w0 = rdtsc(); irq_count == seen;) {
            /* kvm (port-I/O stubs): hlt, the exit lets the upcall in. emu: spin with interrupts open (a halted
             * emu vCPU wakes through the engine's idle wait, which would dominate the figure). */
            if (hypercall_page[5] == 0xe7 || bench_hlt) __asm__ volatile("sti; hlt; cli");
            else __asm__ volatile("sti; nop; cli");
            if (rdtsc() - w0 > 20000000000ul) {
                puts_("BENCH ev stuck: send="); put_signed(r); puts_(" port="); put_dec(bench_port);
                puts_(" upcall_pending="); put_dec(shinfo_page[0]); puts_(" mask="); put_dec(shinfo_page[1]);
                puts_(" sel="); put_hex(*(volatile u64 *)(shinfo_page + 8));
                puts_(" pending="); put_hex(*(volatile u64 *)(shinfo_page + 2048));
                puts_(" masked="); put_hex(*(volatile u64 *)(shinfo_page + 2560)); puts_("\n");
                check(0, "event upcall within the wait");
                return;
            }
        }
        seen = irq_count;
    }
    t1 = rdtsc();
    puts_("BENCH ev end tsc="); put_dec(t1 - t0); puts_("\n");
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
    const char *xp = cmdline_value(cmd, "xsprobe");
    if (xp) xsprobe(parse_dec(xp));
    const char *fz = cmdline_value(cmd, "fuzz");
    if (fz) {
        const char *sd = cmdline_value(cmd, "seed");
        const char *pr = cmdline_value(cmd, "peer");
        fuzz_peer = pr ? parse_dec(pr) : 0;
        fuzz_wild = cmdline_value(cmd, "wild") != 0;
        fuzz(parse_dec(fz), sd ? parse_hex(sd) : 1);
        /* Still a working guest afterwards: the same checks as at boot. */
        check(hypercall3(17, 0, 0, 0) == ((4 << 16) | 17), "xen_version after the fuzz");
        check(hypercall3(49, 0, 0, 0) == -38, "-ENOSYS after the fuzz");
    }
    const char *bn = cmdline_value(cmd, "bench");
    bench_hlt = cmdline_value(cmd, "benchhlt") != 0;
    if (bn) bench(parse_dec(bn));
    if (cmdline_value(cmd, "beat")) {
        puts_(failed ? "RESULT: FAIL\n" : "RESULT: PASS\n");
        for (u64 n = 0;; n++) {
            puts_("tiny: beat "); put_dec(n); puts_("\n");
            for (u64 t0 = rdtsc(); rdtsc() - t0 < 1000000000ul;) __asm__ volatile("pause");
        }
    }
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
