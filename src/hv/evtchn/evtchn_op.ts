// event_channel_op (hypercall 32): reads each EVTCHNOP_* argument struct from the guest, calls EventChannels,
// writes the OUT fields back. Follows do_event_channel_op() in xen/common/event_channel.c.
import { Errno } from "../../abi/xen/errno.ts";
import {
  EvtchnAllocUnbound, EvtchnBindInterdomain, EvtchnBindIpi, EvtchnBindVcpu, EvtchnBindVirq, EvtchnOp, EvtchnPort,
  EvtchnReset, EvtchnStatus,
} from "../../abi/xen/event_channel.ts";
import { copyFromGuest, inOut, readStruct, type GuestCall } from "../xen/guest_call.ts";
import { XenError } from "../xen/xen_error.ts";
import type { EventChannels } from "./event_channels.ts";

/** HYPERVISOR_event_channel_op(cmd, arg). Returns 0 or throws XenError. */
export function evtchnOp(channels: EventChannels, call: GuestCall, cmd: number, arg: bigint): number {
  const self = call.domid;
  switch (cmd) {
    case EvtchnOp.alloc_unbound:
      return inOut(call, EvtchnAllocUnbound, arg, (op) => {
        op.port = channels.allocUnbound(self, op.dom, op.remoteDom);
        return 0;
      });
    case EvtchnOp.bind_interdomain:
      return inOut(call, EvtchnBindInterdomain, arg, (op) => {
        op.localPort = channels.bindInterdomain(self, op.remoteDom, op.remotePort);
        return 0;
      });
    case EvtchnOp.bind_virq:
      return inOut(call, EvtchnBindVirq, arg, (op) => {
        op.port = channels.bindVirq(self, op.virq, op.vcpu);
        return 0;
      });
    case EvtchnOp.bind_ipi:
      return inOut(call, EvtchnBindIpi, arg, (op) => {
        op.port = channels.bindIpi(self, op.vcpu);
        return 0;
      });
    case EvtchnOp.bind_pirq:
      copyFromGuest(call, arg, 12);
      throw new XenError(Errno.EOPNOTSUPP, "Physical IRQs cannot be bound to event channels here");
    case EvtchnOp.close:
      channels.close(self, readStruct(call, EvtchnPort, arg).port);
      return 0;
    case EvtchnOp.send:
      channels.send(self, readStruct(call, EvtchnPort, arg).port);
      return 0;
    case EvtchnOp.status:
      return inOut(call, EvtchnStatus, arg, (op) => {
        const s = channels.status(self, op.dom, op.port);
        op.status = s.status;
        op.vcpu = s.vcpu;
        op.u0 = s.u0;
        op.u1 = s.u1;
        return 0;
      });
    case EvtchnOp.bind_vcpu: {
      const op = readStruct(call, EvtchnBindVcpu, arg);
      channels.bindVcpu(self, op.port, op.vcpu);
      return 0;
    }
    case EvtchnOp.unmask:
      channels.unmask(self, readStruct(call, EvtchnPort, arg).port);
      return 0;
    case EvtchnOp.reset:
    case EvtchnOp.reset_cont:
      channels.reset(self, readStruct(call, EvtchnReset, arg).dom);
      return 0;
    case EvtchnOp.init_control:
    case EvtchnOp.expand_array:
    case EvtchnOp.set_priority:
      throw new XenError(Errno.ENOSYS, "The FIFO event-channel ABI is not offered; use 2-level");
    default:
      throw new XenError(Errno.ENOSYS, `Unknown event_channel_op "${cmd}"`);
  }
}
