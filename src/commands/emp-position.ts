import { Command, Option } from "commander";
import { ExitCode } from "../lib/errors";
import { formatFixedTrimmed, parseFixedStrict } from "../lib/fixed-point";
import type { Output } from "../lib/output";
import type { SourceChoice } from "../lib/rai/feed";
import { FP_DECIMALS } from "../lib/uma/fixed-point";
import { LiquidationState } from "../lib/uma/dispute-strategy";
import { belowThreshold, type PositionFigures } from "../lib/uma/position-figures";
import { loadPositionView, openSponsorSession, type PositionView } from "../lib/uma/sponsor-session";
import { addSigningOptions, addressArg, decimalArg, globalsOf, loadCommandConfig, onTerminal, outputOf, runState } from "./common";

const STATE_NAMES = ["Open", "ExpiredPriceRequested", "ExpiredPriceReceived"];
const LIQUIDATION_STATES: Record<number, string> = {
  [LiquidationState.NotDisputed]: "NotDisputed", [LiquidationState.Disputed]: "Disputed",
  [LiquidationState.DisputeSucceeded]: "DisputeSucceeded", [LiquidationState.DisputeFailed]: "DisputeFailed",
};

export function register(program: Command): void {
  addSigningOptions(program.command("emp-position"))
    .description("a UMA EMP sponsor's position: collateral ratio at the feed's price, the GCR, liquidation price, what it can mint or withdraw")
    .option("--emp <address>", "ExpiringMultiParty address (env KEEPCTL_EMP_ADDRESS; else contracts.ExpiringMultiParty)")
    .option("--sponsor <address>", "whose position (default: the signing account's)", addressArg("--sponsor"))
    .option("--threshold <ratio>", "exit 10 when the ratio at the price is below this, e.g. 1.5 (env KEEPCTL_EMP_THRESHOLD)", decimalArg("--threshold"))
    .option("--price <decimal>", "fixed price instead of the RAI feed (decimal, up to 18 places)")
    .option("--cr-threshold <decimal>", "the liquidators' price shading for their trigger, in [0, 1) (default 0.02)")
    .option("--rate-setter <address>", "RAI RateSetter for the feed (else contracts.RateSetter)")
    .option("--subgraph-url <url>", "Reflexer subgraph for the feed (env KEEPCTL_SUBGRAPH_URL; visible in ps: prefer --subgraph-url-file)")
    .option("--subgraph-url-file <file>", "file holding the subgraph URL (env KEEPCTL_SUBGRAPH_URL_FILE)")
    .addOption(new Option("--source <source>", "where the feed reads rates (default auto)").choices(["auto", "subgraph", "events"]))
    .addHelpText("after", "\nExit codes: 0 shown (also no position), 2 bad flag, 3 missing setting or key, no EMP at --emp,\n4 RPC unreachable, 7 no price in the feed's window, 10 the ratio is below --threshold. See docs/exit-codes.md.")
    .action(async (_opts: unknown, cmd: Command) => {
      const { threshold, sponsor, ...g } = globalsOf(cmd);
      const out = outputOf(cmd);
      const cfg = loadCommandConfig({ ...g, empThreshold: threshold }, out);
      const session = await openSponsorSession(cfg, {
        key: sponsor ? "none" : "address", sponsor: sponsor as string | undefined, dryRun: true, interactive: onTerminal(),
        price: "required", source: g.source as SourceChoice | undefined, onWarning: (m) => out.warn(m),
      });
      try {
        const view = await loadPositionView(session);
        for (const w of view.preflight.warnings) out.warn(w);
        const limit = cfg.emp.threshold === undefined ? undefined : parseFixedStrict(cfg.emp.threshold, FP_DECIMALS);
        const below = limit !== undefined && belowThreshold(view.figures, limit);
        if (below) runState.exitCode = ExitCode.UNHEALTHY;
        if (out.json) return out.document(positionJson(view, limit, below));
        render(out, view, limit, below);
      } finally {
        session.close();
      }
    });
}

const fx = (v: bigint | null | undefined) => (v === null || v === undefined ? null : formatFixedTrimmed(v, FP_DECIMALS));
const iso = (t: bigint) => new Date(Number(t) * 1000).toISOString().replace(/\.\d+Z$/, "Z");

function positionJson(v: PositionView, limit: bigint | undefined, below: boolean) {
  const s = v.snapshot;
  const f = v.figures;
  return {
    emp: s.emp, sponsor: s.sponsor, priceIdentifier: s.params.priceIdentifierName, contractState: STATE_NAMES[s.contractState] ?? String(s.contractState),
    time: Number(s.currentTime), expirationTimestamp: Number(s.params.expirationTimestamp), expired: f.expired,
    price: fx(v.price), priceSource: v.priceSource ?? null,
    position: f.exists ? {
      collateral: fx(f.collateral), netCollateral: fx(f.netCollateral), tokens: fx(f.tokens),
      ratio: fx(f.ratio), collateralPerToken: fx(f.collateralPerToken), gcr: fx(f.gcr), atOrAboveGcr: f.atOrAboveGcr, gcrAtPrice: fx(f.gcrAtPrice),
      collateralRequirement: fx(f.collateralRequirement), liquidationPrice: fx(f.liquidationPrice),
      liquidatorTriggerRatio: fx(f.liquidatorTriggerRatio), liquidatorTriggerPrice: fx(f.liquidatorTriggerPrice), liquidatable: f.liquidatable,
      pendingWithdrawal: f.pendingWithdrawal ? { amount: fx(f.pendingWithdrawal.amount), passTimestamp: Number(f.pendingWithdrawal.passTimestamp), passed: f.pendingWithdrawal.passed } : null,
      maxMintable: fx(f.maxMintable), maxMintableAtRequirement: fx(f.maxMintableAtRequirement),
      maxInstantWithdrawal: fx(f.maxInstantWithdrawal), maxWithdrawalAtRequirement: fx(f.maxWithdrawalAtRequirement),
    } : null,
    gcr: fx(f.gcr),
    liquidations: s.liquidations.filter((l) => l.state !== LiquidationState.Uninitialized).map((l) => ({
      id: Number(l.id), state: LIQUIDATION_STATES[l.state] ?? String(l.state), liquidator: l.liquidator, time: Number(l.liquidationTime),
      livenessEnds: Number(l.liquidationTime + s.params.liquidationLiveness), tokens: fx(l.tokensOutstanding), lockedCollateral: fx(l.lockedCollateral), liquidatedCollateral: fx(l.liquidatedCollateral),
      disputer: l.state === LiquidationState.NotDisputed ? null : l.disputer,
    })),
    threshold: fx(limit ?? null), belowThreshold: below,
  };
}

function render(out: Output, v: PositionView, limit: bigint | undefined, below: boolean): void {
  const s = v.snapshot;
  const f: PositionFigures = v.figures;
  const rows: [string, string][] = [
    ["EMP", `${s.emp} (${s.params.priceIdentifierName}, ${STATE_NAMES[s.contractState] ?? s.contractState})`],
    ["Sponsor", s.sponsor],
    ["Price", v.price === null ? "none" : `${fx(v.price)} (${v.priceSource})`],
    ["Expiry", `${iso(s.params.expirationTimestamp)}${f.expired ? " (expired: settle with emp-sponsor settle)" : ""}`],
  ];
  if (!f.exists) {
    out.table(rows, [{ header: "Field", value: (r) => r[0] }, { header: "Value", value: (r) => r[1] }]);
    out.info(`no position for ${s.sponsor} (GCR ${fx(f.gcr)})`);
    return;
  }
  const pending = f.pendingWithdrawal
    ? `${fx(f.pendingWithdrawal.amount)}, passes ${iso(f.pendingWithdrawal.passTimestamp)}${f.pendingWithdrawal.passed ? " (passed)" : ""}; counted as gone`
    : "none";
  rows.push(
    ["Collateral", `${fx(f.collateral)}${f.pendingWithdrawal ? ` (${fx(f.netCollateral)} net of the pending withdrawal)` : ""}`],
    ["Tokens", fx(f.tokens)!],
    ["Ratio at price", f.ratio === null ? "-" : `${fx(f.ratio)}${f.liquidatable ? " LIQUIDATABLE" : ""}`],
    ["Collateral requirement", fx(f.collateralRequirement)!],
    ["Liquidators' trigger", `ratio ${fx(f.liquidatorTriggerRatio)}; price ${fx(f.liquidatorTriggerPrice) ?? "-"}`],
    ["Liquidation price", fx(f.liquidationPrice) ?? "-"],
    ["Collateral per token", `${fx(f.collateralPerToken)} (${f.atOrAboveGcr ? "at or above" : "below"} the GCR ${fx(f.gcr)}${f.gcrAtPrice === null ? "" : `, ${fx(f.gcrAtPrice)} at the price`})`],
    ["Pending withdrawal", pending],
    ["Max mint now", `${f.maxMintable === null ? "no GCR limit" : fx(f.maxMintable)} (${fx(f.maxMintableAtRequirement) ?? "-"} keeping the requirement)`],
    ["Max instant withdrawal", `${fx(f.maxInstantWithdrawal)} (${fx(f.maxWithdrawalAtRequirement) ?? "-"} keeping the requirement)`],
  );
  out.table(rows, [{ header: "Field", value: (r) => r[0] }, { header: "Value", value: (r) => r[1], color: (r, t) => (r[0] === "Ratio at price" && f.liquidatable ? out.paint("bad", t) : t) }]);
  const live = s.liquidations.filter((l) => l.state !== LiquidationState.Uninitialized);
  if (live.length) {
    out.table(live, [
      { header: "Liquidation", value: (l) => String(l.id) },
      { header: "State", value: (l) => LIQUIDATION_STATES[l.state] ?? String(l.state) },
      { header: "Time", value: (l) => iso(l.liquidationTime) },
      { header: "Tokens", align: "right", value: (l) => fx(l.tokensOutstanding)! },
      { header: "Locked", align: "right", value: (l) => fx(l.lockedCollateral)! },
      { header: "Liquidated", align: "right", value: (l) => fx(l.liquidatedCollateral)! },
      { header: "Liquidator", value: (l) => l.liquidator },
    ]);
  }
  if (limit !== undefined) {
    if (below) out.warn(`the ratio ${fx(f.ratio)} is below the threshold ${fx(limit)}`);
    else out.info(`the ratio ${fx(f.ratio) ?? "-"} is at or above the threshold ${fx(limit)}`);
  }
}
