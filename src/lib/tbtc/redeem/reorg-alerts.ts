import type { Alert } from "../../alert/types";
import type { ReorgFinding } from "../../chain/reconcile";
import { splitKey } from "./redeemer";

/**
 * A "redemption requested" (or "signature submitted", "courtesy call") that a reorg took back was
 * an alert the operator relied on: it is followed by a correction under the SAME alert key, so a
 * channel that shows the latest message per key shows the truth, and a later "requested" (the
 * same signed transaction mined again) fires again. Pure: findings in, alerts out.
 */
const WHAT: Record<string, string> = {
  redeem: "redemption request",
  "courtesy-call": "courtesy call",
  approve: "TBTC approval",
};

function outcomeText(f: ReorgFinding): string {
  if (f.outcome === "re-mined") return `is in the chain again, in ${f.detail}`;
  if (f.outcome === "rebroadcast") return `left the chain; the same signed transaction was sent again${f.detail ? ` (${f.detail})` : ""}`;
  return `left the chain and is no longer possible: ${f.detail}`;
}

export function reorgAlerts(findings: readonly ReorgFinding[]): Alert[] {
  const out: Alert[] = [];
  for (const f of findings) {
    // Moved to another block but still there: nothing the operator was told is false.
    if (f.outcome === "re-mined") continue;
    const { deposit, action } = splitKey(f.key);
    const what = action.startsWith("signature:") ? "redemption signature" : WHAT[action] ?? action;
    // The key of the alert that said it was done, when there was one (outcomeAlerts: redeemed:<deposit>).
    const key = action === "redeem" ? `redeemed:${deposit}` : `reorged:${f.key}`;
    out.push({
      key,
      level: "warning",
      title: `correction: ${what} reorged away`,
      text: `the ${what} for ${deposit} mined in block ${f.blockNumber ?? "?"} (tx ${f.hash}) ${outcomeText(f)}`,
      fields: { deposit, nonce: f.nonce },
    });
  }
  return out;
}
