import { Command, Option } from "commander";
import { ethers } from "ethers";
import { AuditLog, auditTransaction } from "../lib/audit";
import { connectWithConfig } from "../lib/chain/provider";
import { openSigningAccount } from "../lib/chain/session";
import { checkKeyFilePerms } from "../lib/chain/wallet";
import { ConfigError, ExitCode, UsageError } from "../lib/errors";
import { eventWriter, type KeepctlEvent } from "../lib/events";
import { formatFixedTrimmed } from "../lib/fixed-point";
import { echo } from "../lib/redact";
import { channelAlert } from "../lib/alert";
import { FP_DECIMALS } from "../lib/uma/fixed-point";
import { empInterface } from "../lib/uma/emp-calls";
import { checkGovernance, createdEmpOf, creatorInterface, encodeCreateEmp, feeText, governanceError } from "../lib/uma/launch";
import { creatorParamsOf, LAUNCH_PRESETS, launchProblems, presetName, presetSymbol, type CreatorParams } from "../lib/uma/launch-params";
import { addSigningOptions, addressArg, confirmOnTerminal, globalsOf, loadCommandConfig, onTerminal, outputOf, requireYesOffTerminal, runState, shutdown } from "./common";

/** --expiry: an ISO time with its zone (2021-04-30T22:00:00Z) or unix seconds. */
export function parseExpiry(raw: string): bigint {
  const refused = (why = "") => new UsageError(`--expiry must be an ISO time with a zone (2021-04-30T22:00:00Z) or unix seconds, got "${echo(raw)}"${why}`);
  if (/^\d{9,11}$/.test(raw)) return BigInt(raw);
  const m = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(raw);
  if (m) {
    // Date.parse rolls 2030-02-30 over into March: an expiry one typo away must not be taken.
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const day = new Date(Date.UTC(y, mo - 1, d));
    if (mo < 1 || mo > 12 || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) throw refused(`: there is no ${m[1]}-${m[2]}-${m[3]}`);
    const ms = Date.parse(raw);
    if (Number.isFinite(ms)) return BigInt(Math.floor(ms / 1000));
  }
  throw refused();
}

const fx = (v: bigint) => formatFixedTrimmed(v, FP_DECIMALS);

export function register(program: Command): void {
  addSigningOptions(program.command("emp-launch"))
    .description("deploy a UMA EMP through the ExpiringMultiPartyCreator (checks the whitelists and the Creator's registry role first)")
    .addOption(new Option("--preset <name>", "the EMP's parameters").choices(Object.keys(LAUNCH_PRESETS)).makeOptionMandatory())
    .requiredOption("--expiry <time>", "expiry: ISO time with a zone (2021-04-30T22:00:00Z) or unix seconds", parseExpiry)
    .option("--collateral <address>", "collateral token (else contracts.EmpCollateralToken)", addressArg("--collateral"))
    .option("--name <text>", "the synthetic token's name (default from the preset and the expiry: \"RAI Redemption Rate APR 2021\")")
    .option("--symbol <text>", "the synthetic token's symbol (default: RR-RAI-APR21 style)")
    .option("--creator <address>", "ExpiringMultiPartyCreator (env KEEPCTL_EMP_CREATOR; else contracts.ExpiringMultiPartyCreator)")
    .option("--finder <address>", "UMA Finder the Creator uses (env KEEPCTL_UMA_FINDER; else contracts.UmaFinder)")
    .option("-y, --yes", "do not ask for confirmation (required when not on a terminal)")
    .option("--dry-run", "check and simulate; send nothing")
    .addHelpText("after", "\nExit codes: 0 launched (also by an earlier run), 2 bad flag or parameters the Creator refuses, or no --yes\noff a terminal, 3 missing setting or key, or a governance step missing on this chain (named), 4 RPC\nunreachable, 5 revert, 6 not enough ETH, 8 another sender uses the key, 9 sent but not mined yet.")
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globalsOf(cmd);
      const out = outputOf(cmd);
      requireYesOffTerminal("emp-launch", g);
      const dryRun = !!g.dryRun;
      const preset = LAUNCH_PRESETS[g.preset as string];
      const expiry = g.expiry as bigint;
      const cfg = loadCommandConfig(g, out, { writesDataDir: true });
      const creator = cfg.emp.creator ?? cfg.tbtc.contracts.ExpiringMultiPartyCreator;
      const finder = cfg.emp.finder ?? cfg.tbtc.contracts.UmaFinder;
      const collateral = (g.collateral as string | undefined) ?? cfg.tbtc.contracts.EmpCollateralToken;
      if (!creator) throw new ConfigError("no ExpiringMultiPartyCreator: pass --creator ADDR", { hint: "or set KEEPCTL_EMP_CREATOR, or contracts.ExpiringMultiPartyCreator in the deployment file" });
      if (!finder) throw new ConfigError("no UMA Finder: pass --finder ADDR", { hint: "or set KEEPCTL_UMA_FINDER, or contracts.UmaFinder in the deployment file" });
      if (!collateral) throw new ConfigError("no collateral token: pass --collateral ADDR", { hint: "or contracts.EmpCollateralToken in the deployment file" });
      const provider = await connectWithConfig(cfg, { onWarning: (m) => out.warn(m) });
      let lock: { release(): void } | undefined;
      try {
        // Governance first: a chain that has not taken a step is told which, before any key is opened.
        const facts = await checkGovernance(provider, { creator, finder, identifier: preset.priceIdentifier, collateral });
        if (facts.missing.length) throw governanceError(facts);
        const now = BigInt((await provider.getBlock("latest"))!.timestamp);
        const params: CreatorParams = creatorParamsOf(preset, {
          expirationTimestamp: expiry, collateralAddress: collateral, collateralDecimals: facts.collateralDecimals,
          syntheticName: (g.name as string | undefined) ?? presetName(expiry), syntheticSymbol: (g.symbol as string | undefined) ?? presetSymbol(expiry),
          identifierHex: ethers.encodeBytes32String(preset.priceIdentifier),
        });
        const problems = launchProblems(params, now);
        if (problems.length) throw new UsageError(`the Creator would refuse these parameters: ${problems.join("; ")}`);

        checkKeyFilePerms(cfg.signing, (m) => out.warn(m));
        const audit = AuditLog.open(cfg.dataDir);
        const human = eventWriter(out, { stream: "stderr", ndjson: false });
        const alert = channelAlert(cfg.alerts, (channel, error) => out.warn(`alert via ${channel} failed: ${error}`));
        const account = await openSigningAccount(cfg.signing, cfg.dataDir, {
          interactive: onTerminal(), dryRun, signal: shutdown.signal, alert,
          onEvent: (ev) => { auditTransaction(audit, { ...ev, action: "launch" } as Parameters<typeof auditTransaction>[1], { command: "emp-launch" }); human(ev as KeepctlEvent); },
        }, provider);
        lock = account.lock;
        const me = account.wallet.address;
        const key = `${creator}:${me}:launch:${params.syntheticSymbol}:${expiry}`;
        await account.sender.startSession(`${creator}:${me}:launch:`);
        const req = { ...encodeCreateEmp(creator, params), label: `create EMP ${params.syntheticSymbol}`, abi: creatorInterface };
        const earlier = account.sender.journal.get(key);
        let predicted: string | undefined;
        if (!(earlier?.state === "mined" && earlier.status === 1)) {
          predicted = ethers.getAddress(creatorInterface.decodeFunctionResult("createExpiringMultiParty", await provider.call({ ...req, from: me }))[0] as string);
        }
        const summary = {
          creator, finder, collateral, priceIdentifier: preset.priceIdentifier, syntheticName: params.syntheticName, syntheticSymbol: params.syntheticSymbol,
          expirationTimestamp: Number(expiry), collateralRequirement: fx(params.collateralRequirement), disputeBondPercentage: fx(params.disputeBondPercentage),
          sponsorDisputeRewardPercentage: fx(params.sponsorDisputeRewardPercentage), disputerDisputeRewardPercentage: fx(params.disputerDisputeRewardPercentage),
          minSponsorTokens: formatFixedTrimmed(params.minSponsorTokens, facts.collateralDecimals), withdrawalLiveness: Number(params.withdrawalLiveness),
          liquidationLiveness: Number(params.liquidationLiveness), finalFee: facts.finalFee === undefined ? null : formatFixedTrimmed(facts.finalFee, facts.collateralDecimals),
          encodedParams: ethers.dataSlice(req.data, 4),
        };
        if (!out.json) {
          out.info(`create ${params.syntheticSymbol} ("${params.syntheticName}") on ${preset.priceIdentifier}, collateral ${collateral}, expiry ${new Date(Number(expiry) * 1000).toISOString()}`);
          out.info(`  CR ${summary.collateralRequirement}, dispute bond ${summary.disputeBondPercentage}, rewards sponsor ${summary.sponsorDisputeRewardPercentage} / disputer ${summary.disputerDisputeRewardPercentage}, min ${summary.minSponsorTokens} tokens, livenesses ${summary.withdrawalLiveness} s / ${summary.liquidationLiveness} s; final fee ${feeText(facts.finalFee, facts.collateralDecimals)}`);
          if (predicted) out.info(`  the EMP will be at ${predicted}`);
        }
        if (!dryRun && !g.yes && predicted && !(await confirmOnTerminal(`create the EMP ${params.syntheticSymbol} from ${me}?`))) {
          if (out.json) out.document({ ...summary, status: "cancelled" });
          else out.info("cancelled: nothing was sent");
          return;
        }
        const sent = await account.sender.send(key, req, { repeatable: false, meta: { symbol: params.syntheticSymbol } });
        if (sent.status === "dry-run") {
          if (out.json) out.document({ ...summary, status: "dry-run", emp: predicted ?? null, gasLimit: sent.prepared.gasLimit });
          else out.info(`dry run: simulated ok (gas limit ${sent.prepared.gasLimit}); nothing was sent`);
          return;
        }
        if (sent.status === "pending") {
          runState.exitCode = ExitCode.TX_PENDING;
          if (out.json) out.document({ ...summary, status: "pending", hashes: sent.hashes });
          else out.warn(`sent, not mined yet (${sent.hashes.join(", ")}); run the same command again later`);
          return;
        }
        const hash = sent.hash ?? earlier?.minedHash;
        const receipt = sent.status === "mined" ? sent.receipt : hash ? await provider.getTransactionReceipt(hash) : null;
        const emp = receipt ? createdEmpOf(receipt, creator) : undefined;
        const synthetic = emp ? ethers.getAddress(await new ethers.Contract(emp, empInterface, provider).tokenCurrency()) : undefined;
        const result = { ...summary, status: sent.status === "mined" ? "created" : "done-earlier", emp: emp ?? null, syntheticToken: synthetic ?? null, hash: hash ?? null, blockNumber: receipt?.blockNumber ?? null };
        if (out.json) return out.document(result);
        out.line(`${sent.status === "mined" ? "created" : "created by an earlier run"}: EMP ${emp ?? "?"} (synthetic ${synthetic ?? "?"}) in block ${receipt?.blockNumber ?? "?"} ${hash ?? ""}`);
        out.line(`next: mint a first position to set the GCR (keepctl emp-sponsor create --emp ${emp ?? "EMP"} COLLATERAL TOKENS), and run emp-liquidate / emp-dispute on it`);
      } finally {
        lock?.release();
        provider.destroy();
      }
    });
}
