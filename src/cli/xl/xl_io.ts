// What an xl command may touch of its process: streams, environment, cwd. Tests pass their own.

export interface XlInput {
  on(ev: "data", fn: (chunk: Buffer) => void): unknown;
  on(ev: "end", fn: () => void): unknown;
  off(ev: "data", fn: (chunk: Buffer) => void): unknown;
  off(ev: "end", fn: () => void): unknown;
  resume(): unknown;
  pause(): unknown;
  readonly isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
}

export interface XlOutput {
  write(data: string | Uint8Array): unknown;
}

export interface XlIo {
  readonly stdout: XlOutput;
  readonly stderr: XlOutput;
  readonly stdin: XlInput;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}
