// xenstored on hv/evtchn's real event channels: the guest kicks its store port, xenstored answers on the ring and
// notifies the guest's port; RELEASE closes dom0's end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { XsType, bytesText, encodeMessage, nulTerminated } from "../../abi/xen/xs_wire.ts";
import { XenstoreDomainInterface as L } from "../../abi/xen/xs_ring.ts";
import { Dom0EventChannels } from "../../hv/evtchn/dom0_evtchn.ts";
import { EventChannels } from "../../hv/evtchn/event_channels.ts";
import { CallbackPorts } from "../../hv/evtchn/port_ops.ts";
import { MessageReader } from "./message_reader.ts";
import { dom0RingHost } from "./ring_host.ts";
import { startXenstoredService } from "./service.ts";

test("a guest request on the ring is answered through real event channels", async () => {
  const ec = new EventChannels();
  const dom0 = new Dom0EventChannels(ec);
  const guestPorts = new CallbackPorts();
  ec.addDomain(3, { nrVcpus: 1, ops: guestPorts });
  const storePort = dom0.allocUnboundInGuest(3);
  let guestNotified = 0;
  guestPorts.on(storePort, () => guestNotified++);

  const ram = { bytes: new Uint8Array(8 * 4096), sizeBytes: 8 * 4096 };
  const gfn = 5;
  const page = ram.bytes.subarray(gfn * 4096, gfn * 4096 + 4096);
  const service = await startXenstoredService({ ringHost: dom0RingHost(dom0, (d) => (d === 3 ? ram : undefined)) });
  service.client.introduceDomain(3, gfn, storePort);

  const request = encodeMessage({ type: XsType.GET_DOMAIN_PATH, reqId: 8, txId: 0, payload: nulTerminated("3") });
  page.set(request, L.req);
  new DataView(page.buffer, page.byteOffset).setUint32(L.reqProd, request.length, true);
  const before = guestNotified;
  ec.send(3, storePort); // the guest's EVTCHNOP_send
  assert.ok(guestNotified > before, "xenstored notified the guest");
  const view = new DataView(page.buffer, page.byteOffset);
  const rsp = page.slice(L.rsp, L.rsp + view.getUint32(L.rspProd, true));
  const [reply] = new MessageReader().push(rsp);
  assert.equal(reply!.reqId, 8);
  assert.equal(bytesText(reply!.payload), "/local/domain/3\0");

  service.client.releaseDomain(3);
  await service.stop();
});
