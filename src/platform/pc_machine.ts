// The PC platform of an HVM domain on the emu backend: every device of devices/* wired to the port
// and MMIO buses, the ISA IRQs fanned out to both 8259s and the IOAPIC, and the per-vCPU LAPICs.
//
// Design: the only wiring point (STYLE §2: explicit `bus.attach(port, n, device)`, no side effects).
// Everything runs on the one thread that runs the domain's vCPUs (interleaved); the CPU loop drives
// time through `timers` (nextDeadlineNs()/runExpired(now)) with the same clock the devices read.
//
//   ports: 0x20/0x21 PIC master, 0x40-0x43 PIT, 0x60/0x64 i8042, 0x61 port B, 0x70/0x71 RTC,
//          0x92 port A, 0xa0/0xa1 PIC slave, 0x3f8-0x3ff COM1 (IRQ4), 0x4d0/0x4d1 ELCR,
//          0x600-0x60b ACPI PM1a_EVT/PM1a_CNT/PM_TMR (SCI = IRQ9), 0xcf9 reset control, 0xe9 debug console
//   MMIO:  0xfec00000 IOAPIC (24 pins, ISA IRQ n → GSI n, except IRQ0 → GSI2), 0xfee00000 LAPIC (per vCPU)
import type { CpuIo, IrqLine, ShutdownReason } from "../hv/ports.ts";
import { TimerScheduler, type Clock } from "./timers.ts";
import { PortBus } from "./port_bus.ts";
import { MmioBus } from "./mmio_bus.ts";
import { ApicBus, type ApicEvents } from "../devices/lapic/apic_bus.ts";
import { Lapic } from "../devices/lapic/lapic.ts";
import { LAPIC_BASE_GPA, LAPIC_MMIO_SIZE } from "../devices/lapic/registers.ts";
import { Ioapic } from "../devices/ioapic/ioapic.ts";
import { IOAPIC_BASE_GPA, IOAPIC_MMIO_SIZE } from "../devices/ioapic/registers.ts";
import { Pic8259 } from "../devices/pic8259/pic8259.ts";
import { Pit8254 } from "../devices/pit8254/pit8254.ts";
import { PIT_BASE_PORT, PIT_PORT_COUNT, PORT_B } from "../devices/pit8254/registers.ts";
import { Rtc } from "../devices/rtc/rtc.ts";
import { RTC_IRQ, RTC_PORT, RTC_PORT_COUNT } from "../devices/rtc/registers.ts";
import { Serial8250 } from "../devices/serial8250/serial8250.ts";
import { COM1 } from "../devices/serial8250/registers.ts";
import { I8042 } from "../devices/i8042/i8042.ts";
import { PortA, ResetControl, restoreResetPorts, saveResetPorts } from "../devices/i8042/reset_ports.ts";
import { AUX_IRQ, KEYBOARD_IRQ, PORT_A, RESET_CONTROL_PORT } from "../devices/i8042/registers.ts";
import { Pm1 } from "../devices/pm/pm1.ts";
import { PM_BASE_PORT, PM_PORT_COUNT, SCI_IRQ } from "../devices/pm/registers.ts";
import { ACPI_REGION_GPA, ACPI_REGION_SIZE, DEFAULT_ACPI_CONFIG, writeAcpiTables, type AcpiLayout } from "../devices/acpi/tables.ts";
import type { PcMachineState } from "./state.ts";

export const DEBUG_CONSOLE_PORT = 0xe9;

export interface PcMachineOptions {
  readonly vcpus: number;
  /** Domain time; the CPU's TSC must be derived from the same clock (TSC = nowNs * tscKhz / 1e6). */
  readonly clock: Clock;
  readonly tscKhz: number;
  /** Wall-clock time at domain time 0 (Unix seconds) for the RTC. */
  readonly startUnixSeconds: number;
  /** Guest console output (COM1 and port 0xe9), in chunks: flushed at each newline, at 256 bytes, or by flushConsole(). */
  readonly console: (bytes: Uint8Array) => void;
  /** The guest asked for poweroff (ACPI S5) or reboot (i8042 0xfe, port 0x92, 0xcf9). */
  readonly shutdown: (reason: ShutdownReason) => void;
  /** INIT/SIPI/NMI and wake-ups for the vCPUs (see ApicEvents). */
  readonly apicEvents: ApicEvents;
  /** Answer port 0xe9 (Bochs/Xen debug console). Default true. */
  readonly debugConsolePort?: boolean;
  /** Guest RAM size: recorded in the CMOS memory-size bytes as a PC BIOS expects (Linux uses the e820). */
  readonly memoryBytes?: number;
}

/**
 * CMOS bytes a PC BIOS (SeaBIOS, qboot) reads for the memory size, laid out as QEMU does: base memory in
 * KiB (0x15/0x16), extended memory above 1 MiB in KiB (0x17/0x18 and 0x30/0x31, capped at 0xffff),
 * memory above 16 MiB in 64 KiB units (0x34/0x35), above 4 GiB in 64 KiB units (0x5b-0x5d), vCPUs - 1 (0x5f).
 */
export function writeCmosMemorySize(rtc: Rtc, memoryBytes: number, vcpus: number): void {
  const kib = 1024;
  const below4g = Math.min(memoryBytes, 0xe000_0000);
  const extendedKib = Math.min(Math.max(0, below4g - 0x100000) / kib, 0xffff);
  const above16m = Math.min(Math.max(0, below4g - 0x100_0000) / 0x10000, 0xffff);
  const above4g = Math.max(0, memoryBytes - below4g) / 0x10000;
  const set16 = (index: number, value: number) => {
    rtc.setCmos(index, value & 0xff);
    rtc.setCmos(index + 1, (value >> 8) & 0xff);
  };
  set16(0x15, 640);
  set16(0x17, Math.floor(extendedKib));
  set16(0x30, Math.floor(extendedKib));
  set16(0x34, Math.floor(above16m));
  rtc.setCmos(0x5b, above4g & 0xff);
  rtc.setCmos(0x5c, (above4g >> 8) & 0xff);
  rtc.setCmos(0x5d, (above4g >> 16) & 0xff);
  rtc.setCmos(0x5f, vcpus - 1);
}

/** The hot part of console output: a fixed buffer, no allocation per byte. */
class ConsoleBuffer {
  private readonly buffer = new Uint8Array(256);
  private length = 0;
  constructor(private readonly out: (bytes: Uint8Array) => void) {}
  write(byte: number): void {
    this.buffer[this.length++] = byte;
    if (byte === 0x0a || this.length === this.buffer.length) this.flush();
  }
  flush(): void {
    if (this.length === 0) return;
    this.out(this.buffer.slice(0, this.length));
    this.length = 0;
  }
}

export class PcMachine {
  readonly timers: TimerScheduler;
  readonly pio = new PortBus();
  readonly mmio = new MmioBus();
  readonly apicBus: ApicBus;
  readonly lapics: readonly Lapic[];
  readonly ioapic: Ioapic;
  readonly pic: Pic8259;
  readonly pit: Pit8254;
  readonly rtc: Rtc;
  readonly com1: Serial8250;
  readonly i8042: I8042;
  readonly portA: PortA;
  readonly resetControl: ResetControl;
  readonly pm: Pm1;
  private readonly console: ConsoleBuffer;
  private readonly isaLines: IrqLine[] = [];

  constructor(private readonly opts: PcMachineOptions) {
    if (!Number.isInteger(opts.vcpus) || opts.vcpus < 1 || opts.vcpus > 255) {
      throw new RangeError(`Cannot build a PC with ${opts.vcpus} vCPUs`);
    }
    const clock = opts.clock;
    this.timers = new TimerScheduler(clock);
    this.console = new ConsoleBuffer(opts.console);
    const reboot = () => opts.shutdown("reboot");

    // Interrupt controllers.
    this.apicBus = new ApicBus(opts.apicEvents);
    const lapics: Lapic[] = [];
    for (let i = 0; i < opts.vcpus; i++) {
      lapics.push(new Lapic({ apicId: i, bsp: i === 0, clock, timers: this.timers, bus: this.apicBus, tscKhz: opts.tscKhz }));
    }
    this.lapics = lapics;
    lapics[0]!.setupVirtualWire();
    this.ioapic = new Ioapic(this.apicBus);
    this.apicBus.onLevelEoi = (vector) => this.ioapic.eoi(vector);
    this.pic = new Pic8259((level) => lapics[0]!.setLint0(level));
    this.apicBus.extIntAcknowledge = () => this.pic.acknowledge();
    for (let irq = 0; irq < 16; irq++) this.isaLines.push(this.makeIsaLine(irq));

    // Devices.
    this.pit = new Pit8254(clock, this.timers, this.isaLines[0]!);
    this.rtc = new Rtc({ clock, timers: this.timers, irq: this.isaLines[RTC_IRQ]!, startUnixSeconds: opts.startUnixSeconds });
    this.com1 = new Serial8250(this.isaLines[COM1.irq]!, this.console, "com1");
    this.i8042 = new I8042({ keyboardIrq: this.isaLines[KEYBOARD_IRQ]!, auxIrq: this.isaLines[AUX_IRQ]!, reset: reboot });
    this.portA = new PortA(reboot);
    this.resetControl = new ResetControl(reboot);
    this.pm = new Pm1({ clock, sci: this.isaLines[SCI_IRQ]!, poweroff: () => opts.shutdown("poweroff") });
    if (opts.memoryBytes !== undefined) writeCmosMemorySize(this.rtc, opts.memoryBytes, opts.vcpus);

    // Port bus.
    const pio = this.pio;
    pio.attach(0x20, 2, this.pic.master);
    pio.attach(0xa0, 2, this.pic.slave);
    pio.attach(0x4d0, 2, this.pic.elcr);
    pio.attach(PIT_BASE_PORT, PIT_PORT_COUNT, this.pit);
    pio.attach(PORT_B, 1, this.pit.portB);
    pio.attach(0x60, 1, this.i8042, 0);
    pio.attach(0x64, 1, this.i8042, 4);
    pio.attach(RTC_PORT, RTC_PORT_COUNT, this.rtc);
    pio.attach(PORT_A, 1, this.portA);
    pio.attach(COM1.port, 8, this.com1);
    pio.attach(PM_BASE_PORT, PM_PORT_COUNT, this.pm);
    pio.attach(RESET_CONTROL_PORT, 1, this.resetControl);
    if (opts.debugConsolePort ?? true) {
      pio.attach(DEBUG_CONSOLE_PORT, 1, {
        name: "debug-console",
        read: () => DEBUG_CONSOLE_PORT,
        write: (_offset, _size, value) => this.console.write(value & 0xff),
      });
    }

    // MMIO bus (the LAPIC page is per vCPU, routed in cpuIo()).
    this.mmio.attach(IOAPIC_BASE_GPA, IOAPIC_MMIO_SIZE, this.ioapic);
  }

  /** ISA IRQ n: drives 8259 input n and IOAPIC pin n (IRQ0 → GSI2, as the MADT override says). */
  isaIrq(irq: number): IrqLine {
    return this.isaLines[irq]!;
  }

  private makeIsaLine(irq: number): IrqLine {
    const pic = this.pic.line(irq);
    const gsi = this.ioapic.pin(irq === 0 ? 2 : irq);
    return {
      raise: () => {
        pic.raise();
        gsi.raise();
      },
      lower: () => {
        pic.lower();
        gsi.lower();
      },
      pulse: () => {
        pic.pulse();
        gsi.pulse();
      },
    };
  }

  /** The CpuIo of vCPU `vcpuId` (its own LAPIC page); hypercalls go to the caller's handler. */
  cpuIo(vcpuId: number, hypercall: CpuIo["hypercall"]): CpuIo {
    const lapic = this.lapics[vcpuId];
    if (lapic === undefined) throw new RangeError(`No vCPU ${vcpuId} on this machine`);
    const pio = this.pio;
    const mmio = this.mmio;
    // Local copies: imported bindings cost more than locals in these per-access closures.
    const lapicBase = LAPIC_BASE_GPA;
    const lapicSize = LAPIC_MMIO_SIZE;
    return {
      pioRead: (port, size) => pio.read(port, size),
      pioWrite: (port, size, value) => pio.write(port, size, value),
      mmioRead: (gpa, size) => {
        const offset = gpa - lapicBase;
        if (offset >= 0 && offset < lapicSize && lapic.hardwareEnabled) return lapic.read(offset, size);
        return mmio.read(gpa, size);
      },
      mmioWrite: (gpa, size, value) => {
        const offset = gpa - lapicBase;
        if (offset >= 0 && offset < lapicSize && lapic.hardwareEnabled) lapic.write(offset, size, value);
        else mmio.write(gpa, size, value);
      },
      hypercall,
    };
  }

  /**
   * Writes the ACPI tables into guest RAM at 0xe0000 (ram = the whole guest RAM, index = gpa).
   * Returns the layout; `rsdp` goes to boot_params.acpi_rsdp_addr or hvm_start_info.rsdp_paddr.
   */
  writeAcpiTables(ram: Uint8Array): AcpiLayout {
    const region = ram.subarray(ACPI_REGION_GPA, ACPI_REGION_GPA + ACPI_REGION_SIZE);
    return writeAcpiTables(region, ACPI_REGION_GPA, {
      ...DEFAULT_ACPI_CONFIG,
      vcpus: this.opts.vcpus,
      lapicGpa: LAPIC_BASE_GPA,
      ioapicGpa: IOAPIC_BASE_GPA,
    });
  }

  /** Fires due device timers; call when clock.nowNs() >= timers.nextDeadlineNs(). */
  runTimers(nowNs: number): void {
    this.timers.runExpired(nowNs);
  }

  /** Host console input → COM1. */
  consoleInput(bytes: ArrayLike<number>): void {
    this.com1.receive(bytes);
  }

  /** Pushes out console bytes not yet ended by a newline (call at loop boundaries / before blocking). */
  flushConsole(): void {
    this.console.flush();
  }

  save(): PcMachineState {
    return {
      version: 1,
      lapics: this.lapics.map((l) => l.save()),
      ioapic: this.ioapic.save(),
      pic: this.pic.save(),
      pit: this.pit.save(),
      rtc: this.rtc.save(),
      com1: this.com1.save(),
      i8042: this.i8042.save(),
      resetPorts: saveResetPorts(this.portA, this.resetControl),
      pm: this.pm.save(),
    };
  }

  restore(s: PcMachineState): void {
    if (s.version !== 1) throw new Error(`Cannot restore PC machine state version "${String(s.version)}"`);
    if (s.lapics.length !== this.lapics.length) {
      throw new Error(`Cannot restore ${s.lapics.length} LAPICs into a machine with ${this.lapics.length} vCPUs`);
    }
    s.lapics.forEach((l, i) => this.lapics[i]!.restore(l));
    this.ioapic.restore(s.ioapic);
    this.pic.restore(s.pic);
    this.pit.restore(s.pit);
    this.rtc.restore(s.rtc);
    this.com1.restore(s.com1);
    this.i8042.restore(s.i8042);
    restoreResetPorts(this.portA, this.resetControl, s.resetPorts);
    this.pm.restore(s.pm);
  }
}
