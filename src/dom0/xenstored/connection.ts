// One client of xenstored: a guest's ring or a dom0 socket. Holds its watches and open transactions; replies and
// watch events leave through the transport's sink. Called on the main thread only.
import type { XsMessage } from "../../abi/xen/xs_wire.ts";
import { domainPath } from "./path.ts";
import type { PermSubject } from "./perms.ts";
import type { Transaction } from "./store.ts";
import type { Watch } from "./watch.ts";

export type MessageSink = (message: XsMessage) => void;

export class Connection implements PermSubject {
  readonly watches: Watch[] = [];
  readonly transactions = new Map<number, Transaction>();
  nextTransactionId = 1;
  target: number | undefined;
  closed = false;

  constructor(
    readonly domid: number,
    private readonly sink: MessageSink,
    /** For logs: "socket#3", "domain 5 ring". */
    readonly label: string,
  ) {}

  /** dom0 (and every socket client, which runs in dom0) is privileged. */
  get privileged(): boolean {
    return this.domid === 0;
  }

  /** Base of relative paths: /local/domain/<domid>. */
  get base(): string {
    return domainPath(this.domid);
  }

  send(message: XsMessage): void {
    if (!this.closed) this.sink(message);
  }

  /** RESET_WATCHES, re-INTRODUCE, close: forget watches and abandon transactions. */
  reset(): void {
    this.watches.length = 0;
    this.transactions.clear();
  }
}
