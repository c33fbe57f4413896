import { formatUnits } from "ethers";
import { stampText, type Output } from "./output";
import type { TxEvent } from "./chain/tx-types";
import type { SettleOutcome } from "./chain/sender";
import type { ReorgFinding } from "./chain/reconcile";
import type { AlertLevel } from "./alert/types";
import type { FollowReport } from "./tbtc/redeem/follow";
import type { BuyEvent } from "./tbtc/buy/buyer";
import type { LiquidationDecision } from "./uma/liquidation-strategy";
import type { DisputeDecision, RewardRole } from "./uma/dispute-strategy";
import type { GuardDecision } from "./uma/guard-strategy";
import { formatFixedTrimmed } from "./fixed-point";
import { FP_DECIMALS } from "./uma/fixed-point";

/**
 * Every event keepctl reports while it acts, as discriminated unions: what the journaled sender
 * did (transaction events, shared by redeem, watch and the bots), what a watch loop saw and did,
 * what a bot pass decided. `redemption`, `decision`, ... are rendered by ONE function per output
 * mode below (eventLine for humans, eventJson for NDJSON); both carry the time.
 */

/** Which action a transaction belongs to: its journal key, and for tBTC the deposit and verb. */
interface ActionRef {
  key: string;
  deposit?: string;
  action?: string;
}

/** What a mined liquidation created (read from its receipt). */
export interface MinedEffects {
  liquidationId: bigint;
  tokensLiquidated: bigint;
  lockedCollateral: bigint;
  liquidatedCollateral: bigint;
}

export type TransactionEvent =
  | (Exclude<TxEvent, { type: "mined" | "pending" }> & ActionRef)
  | (Extract<TxEvent, { type: "mined" }> & ActionRef & Partial<MinedEffects>)
  /** Sent, not mined by the deadline: still tracked, the next run or pass settles it. */
  | ({ type: "pending"; label: string; nonce?: number; hashes: string[]; message?: string } & ActionRef)
  /** An action an earlier run left in flight, settled from the chain (never signed again). */
  | ({ type: "recovered"; status: SettleOutcome["status"] } & ActionRef)
  /** A journaled "mined" a reorg took back or moved: re-mined elsewhere, sent again, or no longer possible. */
  | ({ type: "reorged" } & Omit<ReorgFinding, "meta"> & ActionRef)
  | { type: "journal-settled"; keys: string[] };

/** Something the operator should read; the context fields say what it is about. */
export interface WarningEvent {
  type: "warning";
  message: string;
  deposit?: string;
  action?: string;
  sponsor?: string;
  liquidationId?: bigint;
  reason?: string;
}

export type WatchEvent =
  | TransactionEvent
  | WarningEvent
  | BuyEvent
  | { type: "notice"; text: string }
  | { type: "deposit"; deposit: string; state: string; collateralPct: number | null }
  | { type: "courtesy-call"; deposit: string; hash?: string }
  | { type: "courtesy-call-pending"; deposit: string; hashes: string[] }
  | { type: "courtesy-call-failed"; deposit: string; error: string }
  | { type: "redeem-planned"; deposit: string; path: string; costTbtc: bigint; collateralPct: number }
  | { type: "redeem-skipped"; deposit: string; reason: string }
  /** watch approved (or found approved) the exact TBTC a zone deposit's redemption will pull. */
  | { type: "preapproval"; spender: string; amountTbtc: bigint; deposits: string[]; status: string; hash: string | null; error: string | null }
  /** Pre-approvals still standing that no deposit below the warn level needs (left, counted). */
  | { type: "preapprovals-left"; count: number; tbtc: bigint; spenders: string[] }
  | { type: "redemption"; deposit: string; path: string; status: string; hash: string | null; reason: string | null }
  | ({ type: "redemption-progress" } & FollowReport)
  | { type: "alert"; key: string; level: AlertLevel; title: string; text: string; delivered: string[]; failed: { channel: string; error: string }[] }
  | { type: "alert-resolved"; key: string }
  | { type: "loop-error"; loop: number; error: string; code: string }
  | { type: "heartbeat"; loop: number; ok: boolean; ms: number; block: number | null; deposits: number | null; atRisk: number | null; ping?: string }
  | { type: "stopped"; reason: "failing"; loops: number; failedInRow: number }
  | { type: "stopped"; reason: "signal"; loops: number };

type Skip = { type: "skipped"; reason: string; simulated?: false; note?: string; gasLimit?: bigint };

/** A bot's events, without the `bot` field the command adds. */
export type BotEvent =
  | TransactionEvent
  | WarningEvent
  /** The shared state's lease (--state-url): standby, holding, renewal failing. */
  | { type: "notice"; text: string }
  | ({ type: "decision"; price: bigint | null } & Omit<LiquidationDecision, "price">)
  | ({ type: "decision" } & DisputeDecision)
  | ({ type: "decision"; sponsor: string; price: bigint | null } & GuardDecision)
  | (Skip & { action: "approve"; token: string; amount: bigint })
  | (Skip & { action: "liquidate"; sponsor: string; tokens: bigint; worstCaseFeeWei?: bigint })
  | (Skip & { action: "dispute"; sponsor: string; liquidationId: bigint; bond?: bigint })
  | (Skip & { action: "deposit" | "repay" | "cancel-withdrawal"; sponsor: string; amount?: bigint })
  | (Skip & { action: "withdraw"; sponsor: string; liquidationId: bigint; role?: RewardRole; paidToLiquidator?: bigint; paidToDisputer?: bigint; paidToSponsor?: bigint })
  | { type: "withdrawn"; sponsor: string; liquidationId: bigint; role: RewardRole; hash: string; paidToLiquidator: bigint; paidToDisputer: bigint; paidToSponsor: bigint }
  | { type: "heartbeat"; pass: number; block: number; time: bigint; price?: bigint | null; positions?: number; expired?: boolean; liquidated?: number; liquidations?: number; disputed?: number; withdrawn?: number; ratio?: bigint | null; toppedUp?: boolean }
  | { type: "error"; pass: number; attempt: number; willRetry: boolean; message: string; code: string };

export type KeepctlEvent = WatchEvent | BotEvent;

/** One human line: text, and whether it is a warning; undefined: routine, not worth a line. */
export interface EventLine {
  text: string;
  warn?: boolean;
}

const short = (a: string) => (a.startsWith("0x") && a.length === 42 ? `${a.slice(0, 8)}…${a.slice(-4)}` : a);
/** Fixed-point 1e18 amounts (EMP collateral, tokens, prices), trailing zeros trimmed. */
const fixed = (v: bigint | null | undefined) => (v === null || v === undefined ? "none" : formatFixedTrimmed(v, FP_DECIMALS));

const bpText = (bp: bigint) => `${bp < 0n ? "-" : ""}${(bp < 0n ? -bp : bp) / 100n}.${((bp < 0n ? -bp : bp) % 100n).toString().padStart(2, "0")}%`;

/** The one human rendering of an event (no timestamp: see stampLine). */
export function eventLine(ev: KeepctlEvent): EventLine | undefined {
  switch (ev.type) {
    // ---- transactions (redeem, watch, bots)
    case "sent":
      return { text: `sent ${ev.label} (nonce ${ev.nonce}) ${ev.hash}${ev.confirmed ? "" : " (the node's answer was lost: treated as sent)"}` };
    case "replaced":
      return { text: `replaced ${ev.label} at nonce ${ev.nonce}: ${ev.hash}` };
    case "rebroadcast":
      return { text: `rebroadcast ${ev.label} (nonce ${ev.nonce}) ${ev.hash}: the node had none of its hashes; same signed bytes sent again` };
    case "fee-cap-reached":
      return { text: `${ev.label}: fee cap reached; waiting at the cap`, warn: true };
    case "replace-rejected":
      return { text: `${ev.label}: replacement at nonce ${ev.nonce} rejected: ${ev.reason}`, warn: true };
    case "mined":
      return { text: `mined ${ev.label} in block ${ev.blockNumber}${ev.status === 1 ? "" : " (reverted)"}` };
    case "pending":
      return { text: `${ev.label}: ${ev.message ?? "sent; not mined by the deadline, still tracked"}`, warn: true };
    case "failed":
      return { text: `${ev.label} failed: ${ev.error}`, warn: true };
    case "recovered":
      return { text: `journal: ${ev.key} was in flight; on chain it is ${ev.status}` };
    case "reorged":
      return {
        text: ev.outcome === "re-mined"
          ? `reorg: ${ev.key} (nonce ${ev.nonce}) ${ev.hash} is now in ${ev.detail}`
          : ev.outcome === "rebroadcast"
            ? `reorg: ${ev.key} (nonce ${ev.nonce}) ${ev.hash} left the chain (was in block ${ev.blockNumber ?? "?"}); the same signed transaction was sent again${ev.detail ? ` (${ev.detail})` : ""}`
            : `reorg: ${ev.key} (nonce ${ev.nonce}) ${ev.hash} left the chain (was in block ${ev.blockNumber ?? "?"}) and is no longer possible: ${ev.detail}`,
        warn: true,
      };
    case "journal-settled":
      return { text: `journal: settled ${ev.keys.join(", ")}` };
    case "warning":
      return { text: ev.message, warn: true };
    // ---- watch
    case "notice":
      return { text: ev.text };
    case "deposit":
      return undefined;
    case "courtesy-call":
      return { text: `courtesy call sent for ${ev.deposit}${ev.hash ? ` ${ev.hash}` : ""}` };
    case "courtesy-call-pending":
      return { text: `courtesy call for ${ev.deposit} sent, not mined yet (${ev.hashes.join(", ")})`, warn: true };
    case "courtesy-call-failed":
      return { text: `courtesy call for ${ev.deposit} failed: ${ev.error}`, warn: true };
    case "redeem-planned":
      return { text: `redeem ${ev.deposit} via ${ev.path} for ${formatUnits(ev.costTbtc, 18)} TBTC (collateralization ${ev.collateralPct.toFixed(2)}%)` };
    case "redeem-skipped":
      return { text: `cannot redeem ${ev.deposit}: ${ev.reason}` };
    case "preapproval":
      if (ev.status === "done-earlier") return undefined;
      return { text: `pre-approval of ${formatUnits(ev.amountTbtc, 18)} TBTC to ${ev.spender} for ${ev.deposits.join(", ")}: ${ev.status}${ev.hash ? ` ${ev.hash}` : ""}${ev.error ? ` (${ev.error})` : ""}`, warn: ev.status === "failed" || ev.status === "pending" };
    case "preapprovals-left":
      return ev.count ? { text: `${ev.count} pre-approval(s) no longer needed, left standing: ${formatUnits(ev.tbtc, 18)} TBTC to ${ev.spenders.join(", ")}` } : undefined;
    case "redemption":
      return { text: `redemption ${ev.deposit}: ${ev.status}${ev.hash ? ` ${ev.hash}` : ""}${ev.reason ? ` (${ev.reason})` : ""}` };
    case "buy-planned":
      return { text: `buy ${formatUnits(ev.amountTbtc, 18)} TBTC for ${formatUnits(ev.expectedEthWei, 18)} ETH (at most ${formatUnits(ev.maxEthWei, 18)}, ${bpText(ev.premiumBp)} over the system's ETH/BTC price, block ${ev.block})${ev.deposits.length ? ` for ${ev.deposits.join(", ")}` : ""}` };
    case "buy-refused":
      return { text: `TBTC not bought${ev.deposit ? ` for ${ev.deposit}` : ""} (${ev.code}): ${ev.reason}`, warn: true };
    case "buy-replanned":
      return { text: `TBTC swap${ev.deposits.length ? ` for ${ev.deposits.join(", ")}` : ""}: ${ev.reason}`, warn: true };
    case "bought":
      return { text: `bought ${formatUnits(ev.amountTbtc, 18)} TBTC for ${formatUnits(ev.ethPaidWei, 18)} ETH (${bpText(ev.premiumBp)} over the system's ETH/BTC price) ${ev.hash}` };
    case "redemption-progress": {
      if (ev.action === "nothing") return undefined;
      // Ethereum actions carry their transaction; Bitcoin stages their Bitcoin tx and depth.
      const onBitcoin = ["broadcast", "broadcast-failed", "in-mempool", "confirming", "waiting-for-work", "proof-refused"].includes(ev.action);
      const ref = onBitcoin ? (ev.btcTxid ? ` Bitcoin tx ${ev.btcTxid}${ev.confirmations ? ` (${ev.confirmations} confirmations)` : ""}` : "") : ev.hash ? ` ${ev.hash}` : "";
      return { text: `redemption ${ev.deposit}: ${ev.action}${ref}${ev.error ? ` (${ev.error})` : ""}` };
    }
    case "alert":
      return { text: `ALERT [${ev.level.toUpperCase()}] ${ev.title}: ${ev.text}` };
    case "alert-resolved":
      return { text: `resolved ${ev.key}` };
    case "loop-error":
      return { text: `loop ${ev.loop} failed: ${ev.error}`, warn: true };
    case "stopped":
      return { text: ev.reason === "failing" ? `stopped after ${ev.failedInRow} failed loops in a row` : `stopped by a signal after ${ev.loops} loop(s)` };
    // ---- bots
    case "decision":
      if (ev.action === "liquidate") return { text: `liquidate ${short(ev.sponsor)}: ${ev.reason}, ${fixed(ev.tokens)} tokens, max ${fixed(ev.maxCollateralPerToken)} collateral/token` };
      if (ev.action === "dispute") return { text: `dispute ${short(ev.sponsor)}#${ev.liquidationId}: ${ev.reason} at price ${fixed(ev.price)}, bond ${fixed(ev.bond)}` };
      if (ev.action === "top-up") {
        const steps = [ev.cancelWithdrawal ? "cancel the pending withdrawal" : "", ev.deposit > 0n ? `deposit ${fixed(ev.deposit)}` : "", ev.repay > 0n ? `repay ${fixed(ev.repay)} tokens` : ""].filter(Boolean);
        return { text: `top up ${short(ev.sponsor)}: ratio ${fixed(ev.ratio)} below the target ${fixed(ev.target)} at price ${fixed(ev.price)}: ${steps.join(", ") || "nothing the wallet can do"}` };
      }
      return undefined;
    case "skipped": {
      if (ev.reason !== "dry-run") return undefined;
      const what = ev.action === "approve" ? `${fixed(ev.amount)} ${ev.token}`
        : ev.action === "liquidate" ? short(ev.sponsor)
          : "liquidationId" in ev ? `${short(ev.sponsor)}#${ev.liquidationId}`
            : `${short(ev.sponsor)}${"amount" in ev && ev.amount !== undefined ? ` ${fixed(ev.amount)}` : ""}`;
      return { text: `dry-run: would ${ev.action} ${what}${ev.simulated === false ? ` (${ev.note})` : " (simulated ok)"}` };
    }
    case "withdrawn":
      return { text: `withdrew liquidation ${short(ev.sponsor)}#${ev.liquidationId}: liquidator ${fixed(ev.paidToLiquidator)}, disputer ${fixed(ev.paidToDisputer)}, sponsor ${fixed(ev.paidToSponsor)}` };
    case "error":
      return { text: `pass ${ev.pass} attempt ${ev.attempt} failed: ${ev.message}${ev.willRetry ? " (retrying)" : ""}`, warn: true };
    case "heartbeat":
      if ("loop" in ev) return { text: `heartbeat loop=${ev.loop} ok=${ev.ok} block=${ev.block ?? "-"} deposits=${ev.deposits ?? "-"} at-risk=${ev.atRisk ?? "-"} ${ev.ms}ms${ev.ping ? ` ping=${ev.ping}` : ""}` };
      return undefined; // a bot's pass summary is printed on stdout by the command
  }
}

/** ISO time to the second, the leading field of every human event line. */
export function isoNow(now: Date = new Date()): string {
  return now.toISOString().replace(/\.\d+Z$/, "Z");
}

/** `${time} INFO text` or `${time} WARN text` (output.ts's stampText: one format for every loop line). */
export function stampLine(line: EventLine, now: Date = new Date()): string {
  return stampText(line.warn ? "WARN" : "INFO", line.text, now);
}

/** The one NDJSON rendering: `at` (ISO, ms) first, then extra fields (the bot's name), then the event. */
export function eventJson(ev: KeepctlEvent, extra: Record<string, string> = {}, now: Date = new Date()): Record<string, unknown> {
  return { at: now.toISOString(), ...extra, ...ev };
}

export interface EventWriterOptions {
  /** Human lines on stdout (a daemon's log: watch) or stderr (next to a command's result). */
  stream: "stdout" | "stderr";
  /** Fields every NDJSON event carries (the bot's name). */
  extra?: Record<string, string>;
  /** NDJSON on stdout; default --json. `redeem --json` prints one document, so no events. */
  ndjson?: boolean;
  now?: () => Date;
}

/** Where events go for a command: one NDJSON line each, or one stamped human line each. */
export function eventWriter(out: Output, o: EventWriterOptions): (ev: KeepctlEvent) => void {
  const now = o.now ?? (() => new Date());
  const ndjson = o.ndjson ?? out.json;
  return (ev) => {
    const t = now();
    if (ndjson) return out.event(eventJson(ev, o.extra, t));
    if (out.json) return; // a JSON document on stdout: nothing else may go there
    const line = eventLine(ev);
    if (line) out.log(stampLine(line, t), { stderr: o.stream === "stderr", warn: !!line.warn });
  };
}
