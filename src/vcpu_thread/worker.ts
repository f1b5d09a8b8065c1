// A vCPU thread (worker_threads entry): loads the engine named in VcpuInit, then runs the
// engine-agnostic loop: run the guest, obey pause/stop from the control block, report shutdown/crash.
// Lifecycle: starting → running ⇄ paused → halted (guest shut down / crashed) → stopped.
// A thread either starts with its VcpuInit (workerData) or is spawned idle ahead of time (a warm thread,
// host.ts prewarmVcpuThreads) and receives the VcpuInit later in a ToVcpu "start" message.
import { parentPort, workerData } from "node:worker_threads";
import type { CpuEngine, EngineModule } from "./engine.ts";
import type { FromVcpu, ToVcpu, VcpuInit, WarmThreadData } from "./protocol.ts";
import { VcpuCommand, VcpuControlBlock, VcpuState } from "./shared_layout.ts";
import { VcpuPlatform } from "./vcpu_platform.ts";

const post = (m: FromVcpu): void => parentPort!.postMessage(m);

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

async function main(init: VcpuInit): Promise<void> {
  const control = new VcpuControlBlock(init.control);
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
    runLoop(engine, platform, control);
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

function runLoop(engine: CpuEngine, platform: VcpuPlatform, control: VcpuControlBlock): void {
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

const data = workerData as VcpuInit | WarmThreadData;
if ("warm" in data) {
  // Warm thread: load the engine now, while nobody waits, then wait for a domain.
  if (data.engineModule !== undefined) await import(data.engineModule).catch(() => {});
  const msg = await new Promise<ToVcpu>((resolve) => parentPort!.once("message", resolve));
  await main(msg.init);
} else {
  await main(data);
}
