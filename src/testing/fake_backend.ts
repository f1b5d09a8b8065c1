// TEST DOUBLE: an ExecutionBackend that runs no CPU. Tests drive the "guest" through its events,
// or give it a fake-guest script (see fake_guest.ts) that it plays on timers.

import type {
  AccelKind, AccelProbe, DomainExecution, ExecutionBackend, ExecutionEvents, LaunchSpec, ShutdownReason,
} from "../hv/ports.ts";
import { parseFakeGuestScript, type FakeGuestStep } from "./fake_guest.ts";

export interface FakeBackendOptions {
  readonly kind?: AccelKind;
  readonly usable?: boolean;
  readonly fullGuests?: boolean;
  readonly reason?: string;
  /** launch() rejects with this message. */
  readonly failLaunch?: string;
  /** Play the fake-guest script found in the boot image (regions[0]). Default true. */
  readonly runScripts?: boolean;
}

export class FakeExecution implements DomainExecution {
  paused = false;
  destroyed = false;
  readonly input: number[] = [];
  cpuNs = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pc = 0;
  private echo = false;

  constructor(
    readonly spec: LaunchSpec,
    readonly events: ExecutionEvents,
    private readonly steps: readonly FakeGuestStep[],
  ) {}

  start(): void {
    this.schedule(0);
  }

  async pause(): Promise<void> {
    this.paused = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  async unpause(): Promise<void> {
    this.paused = false;
    this.schedule(0);
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  consoleInput(bytes: Uint8Array): void {
    this.input.push(...bytes);
    if (this.echo && !this.destroyed) this.events.console(bytes);
  }

  cpuTimeNs(): number {
    return this.cpuNs;
  }

  /** Test hooks: act as the guest would. */
  print(text: string): void {
    this.events.console(new TextEncoder().encode(text));
  }
  guestShutdown(reason: ShutdownReason): void {
    this.events.shutdown(reason);
  }
  guestCrash(why: string): void {
    this.events.crashed(why, "rip=0000000000001000 rsp=0000000000000000");
  }

  private schedule(delayMs: number): void {
    if (this.paused || this.destroyed || this.pc >= this.steps.length || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.step();
    }, delayMs);
    // A spinning fake guest must not keep a test process alive.
    this.timer.unref?.();
  }

  private step(): void {
    while (!this.paused && !this.destroyed && this.pc < this.steps.length) {
      const s = this.steps[this.pc++]!;
      this.cpuNs += 1_000_000;
      switch (s.op) {
        case "print": this.print(s.text); break;
        case "log": this.events.log(s.text); break;
        case "echo": this.echo = true; break;
        case "sleep": this.schedule(s.ms); return;
        case "spin": this.pc--; this.schedule(20); return;
        case "shutdown": this.guestShutdown(s.reason); return;
        case "crash": this.guestCrash(s.why); return;
      }
    }
  }
}

export class FakeBackend implements ExecutionBackend {
  readonly kind: AccelKind;
  readonly executions: FakeExecution[] = [];
  constructor(private readonly opts: FakeBackendOptions = {}) {
    this.kind = opts.kind ?? "emu";
  }

  probe(): AccelProbe {
    return {
      kind: this.kind,
      usable: this.opts.usable ?? true,
      fullGuests: this.opts.fullGuests ?? true,
      reason: this.opts.reason ?? "fake backend (test double)",
    };
  }

  async launch(spec: LaunchSpec, events: ExecutionEvents): Promise<DomainExecution> {
    if (this.opts.failLaunch) throw new Error(this.opts.failLaunch);
    const region = spec.image.regions[0];
    const steps = this.opts.runScripts === false || !region ? [] : parseFakeGuestScript(new TextDecoder().decode(region.bytes));
    const exec = new FakeExecution(spec, events, steps);
    this.executions.push(exec);
    exec.start();
    return exec;
  }

  get last(): FakeExecution {
    const e = this.executions.at(-1);
    if (!e) throw new Error("FakeBackend: nothing launched");
    return e;
  }
}
