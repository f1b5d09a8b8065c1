// A vCPU thread (worker_threads entry): loads the engine named in VcpuInit, then runs the
// engine-agnostic loop: run the guest, obey pause/stop from the control block, report shutdown/crash.
// Lifecycle: starting → running ⇄ paused → halted (guest shut down / crashed) → stopped.
import { parentPort, workerData } from "node:worker_threads";
import type { CpuEngine, EngineModule } from "./engine.ts";
import type { FromVcpu, VcpuInit } from "./protocol.ts";
import { VcpuCommand, VcpuControlBlock, VcpuState } from "./shared_layout.ts";
import { VcpuPlatform } from "./vcpu_platform.ts";

const init = workerData as VcpuInit;
const control = new VcpuControlBlock(init.control);
const post = (m: FromVcpu): void => parentPort!.postMessage(m);

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

async function main(): Promise<void> {
  let engine: CpuEngine;
  let platform: VcpuPlatform;
  try {
    const mod = (await import(init.engineModule)) as EngineModule;
    const ram = mod.mapRam(init);
    platform = new VcpuPlatform(init, ram, post, control);
    engine = mod.createEngine(init, ram, platform, control);
    engine.reset(init.entry);
  } catch (e) {
    post({ kind: "initFailed", error: describe(e) });
    control.setState(VcpuState.stopped);
    return;
  }
  post({ kind: "ready" });
  try {
    runLoop(engine, platform);
  } catch (e) {
    // A bug below the guest (engine or hypervisor core): only this domain ends.
    platform.flushConsole();
    post({ kind: "crashed", why: `internal error: ${describe(e)}`, registerDump: engine.registerDump() });
    control.setState(VcpuState.halted);
    control.waitForStop();
  }
  engine.close();
  control.setState(VcpuState.stopped);
}

function runLoop(engine: CpuEngine, platform: VcpuPlatform): void {
  control.setState(VcpuState.running);
  for (;;) {
    const cmd = control.takeCommand();
    if (cmd === VcpuCommand.stop) return;
    if (cmd === VcpuCommand.pause) {
      control.setState(VcpuState.paused);
      control.waitWhileCommand(VcpuCommand.pause);
      control.setState(VcpuState.running);
      continue;
    }
    const exit = engine.run();
    platform.flushConsole();
    if (exit.kind === "attention") continue;
    if (exit.kind === "stopRequested") {
      post({ kind: "shutdown", reason: platform.shutdownReason ?? "poweroff" });
    } else {
      post({ kind: "crashed", why: exit.why, registerDump: engine.registerDump() });
    }
    // The guest has left for good: stay off the CPU until the owner destroys the domain.
    control.setState(VcpuState.halted);
    control.waitForStop();
    return;
  }
}

await main();
