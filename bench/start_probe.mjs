// Preloaded into `xl` by bench/start.ts (NODE_OPTIONS="--import bench/start_probe.mjs") to see where
// xl's part of a start goes. Plain JavaScript, so it costs nothing to load. Records wall-clock times
// (ms since the epoch, sub-ms): Node ready (this module runs), xl opens the daemon socket, socket
// connected, first bytes from the daemon, first write to stdout; prints them as one JSON line on
// stderr ("BENCHPROBE {...}") when xl exits. Changes nothing else.
import net from "node:net";
import { syncBuiltinESMExports } from "node:module";

const now = () => performance.timeOrigin + performance.now();
const t = { processStart: performance.timeOrigin, nodeReady: now() };

const createConnection = net.createConnection;
net.createConnection = function (...args) {
  t.connectStart ??= now();
  const s = createConnection.apply(this, args);
  s.once("connect", () => (t.connected ??= now()));
  s.once("data", () => (t.firstReply ??= now()));
  return s;
};
net.connect = net.createConnection;
syncBuiltinESMExports();

const write = process.stdout.write;
process.stdout.write = function (...args) {
  t.firstStdout ??= now();
  return write.apply(this, args);
};
process.on("exit", () => process.stderr.write(`BENCHPROBE ${JSON.stringify(t)}\n`));
