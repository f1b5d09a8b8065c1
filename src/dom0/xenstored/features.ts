// What this xenstored offers: server feature bits (xs_wire.h XENSTORE_SERVER_FEATURE_*) and the special watch nodes.
import { XENSTORE_SERVER_FEATURE_ERROR, XENSTORE_SERVER_FEATURE_WATCHDEPTH } from "../../abi/xen/xs_wire.ts";

/** As C xenstored's XENSTORE_FEATURES: the ring error field and WATCH with a depth (no ring reconnection). */
export const XENSTORED_FEATURES = XENSTORE_SERVER_FEATURE_ERROR | XENSTORE_SERVER_FEATURE_WATCHDEPTH;

/** Special watch paths: fired by INTRODUCE and by RELEASE / domain shutdown. */
export const SPECIAL_INTRODUCE = "@introduceDomain";
export const SPECIAL_RELEASE = "@releaseDomain";
