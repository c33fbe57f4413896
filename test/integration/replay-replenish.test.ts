import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ethers } from "ethers";
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync } from "@scure/bip39";
import { p2wpkh } from "@scure/btc-signer";
import { runReplay, type ReplayReport } from "../../src/devnet/replay";
import { replayWalletMnemonic } from "../../src/devnet/replay-replenish";
import { findGaps, parsePortfolio, parsePriceCsv, selectWindow } from "../../src/devnet/replay-data";
import { tbtcAbi } from "../../src/devnet/artifacts";

/**
 * `keepctl replay --replenish-to` on 36 real hours (2020-12-23 00:00 .. 12-24 12:00, ETH/BTC
 * 0.0263 -> 0.0251) with two 1 BTC deposits: one bonded at November's high (below 130 % from the
 * first hour), one bonded on 12-17 (it falls below 130 % hours later, below 125 % that evening).
 * The operator holds 1.2 TBTC: one redemption's worth. Without replenish the second deposit
 * cannot be redeemed and the world liquidates it; with replenish the first redemption's BTC
 * comes back to the hot wallet, a 1 BTC lot is minted through the real mint flow, and the second
 * deposit is redeemed too. Everything below is read from the chains after each walk.
 */
const CSV = path.resolve(__dirname, "../../data/ethbtc-2020-11_2021-06.csv");
const FROM = Date.parse("2020-12-23T00:00:00Z") / 1000;
const TO = Date.parse("2020-12-24T12:00:00Z") / 1000;
const PORTFOLIO = '[{"label":"nov-high-1btc","lotBtc":1,"openAt":"2020-11-24T00:00:00Z"},{"label":"dec17-1btc","lotBtc":1,"openAt":"2020-12-17T00:00:00Z"}]';
const BTC = 100_000_000n;
const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const DEPOSIT_ABI = ["function signerFeeTbtc() view returns (uint256)", "function lotSizeSatoshis() view returns (uint64)"];

interface WalkSeen {
  redeemedBy: Record<string, string | null>;
  liquidated: Record<string, boolean>;
  /** Deposits the operator created in the walk that were funded (the mint's), and what each should mint. */
  minted: Array<{ deposit: string; lotSats: bigint; expectedTbtc: bigint; fundedBlock: number }>;
  /** Block of the second deposit's redemption request. */
  secondRequestBlock?: number;
  tbtcMintedToOperator: bigint;
  /** Redemption outputs (sats) paying the walk's hot wallet receive address 0. */
  paidToHotWallet: bigint;
}
const seen: Record<string, WalkSeen> = {};
let report: ReplayReport;
let operator = "";

/** The hot wallet's first receive address, derived here from the walk's seed with @scure (BIP84, regtest). */
function hotReceive0(walk: string): string {
  const account = HDKey.fromMasterSeed(mnemonicToSeedSync(replayWalletMnemonic(walk)), { private: 0x04358394, public: 0x043587cf }).derive("m/84'/1'/0'");
  return p2wpkh(account.deriveChild(0).deriveChild(0).publicKey!, REGTEST).address!;
}

const series = parsePriceCsv(fs.readFileSync(CSV, "utf8"), "ethbtc.csv");
const window = selectWindow(series, FROM, TO);
const portfolio = parsePortfolio(PORTFOLIO, "pf", window[0].t);

beforeAll(async () => {
  ({ report } = await runReplay({
    points: window, series, gaps: findGaps(window), step: 1, windowPoints: window.length, portfolio, tbtc: 1.2, eth: 10,
    policy: { warnBelowPct: 130, redeemBelowPct: 130, notifyCourtesy: false, feeSats: 10_000n, minEthWei: 10n ** 17n, maxBlockAgeSec: 365 * 86400 },
    baseline: false, seed: false, replenishTo: 1.2,
    onWalkEnd: async ({ walk, devnet, fromBlock, operator: op, deposits }) => {
      operator = op.toLowerCase();
      const p = devnet.provider;
      const system = new ethers.Contract(devnet.deployment.addresses.TBTCSystem, tbtcAbi("TBTCSystem"), p);
      const token = new ethers.Contract(devnet.deployment.addresses.TBTCToken, tbtcAbi("TBTCToken"), p);
      const s: WalkSeen = { redeemedBy: {}, liquidated: {}, minted: [], tbtcMintedToOperator: 0n, paidToHotWallet: 0n };
      const net = devnet.bitcoin!.net;
      const hot = p2wpkh(HDKey.fromMasterSeed(mnemonicToSeedSync(replayWalletMnemonic(walk)), { private: 0x04358394, public: 0x043587cf }).derive("m/84'/1'/0'").deriveChild(0).deriveChild(0).publicKey!, REGTEST).script;
      const hotHex = Buffer.from(hot).toString("hex");
      for (const d of deposits) {
        const redeemed = (await system.queryFilter(system.filters.Redeemed(d.deposit), fromBlock)) as ethers.EventLog[];
        const requested = (await system.queryFilter(system.filters.RedemptionRequested(d.deposit), fromBlock)) as ethers.EventLog[];
        s.redeemedBy[d.label] = redeemed.length && requested.length ? (requested[0].args[1] as string).toLowerCase() : null;
        if (d.label === "dec17-1btc" && requested.length) s.secondRequestBlock = requested[0].blockNumber;
        s.liquidated[d.label] = (await system.queryFilter(system.filters.StartedLiquidation(d.deposit), fromBlock)).length > 0;
        for (const e of redeemed) {
          const txid = Buffer.from((e.args[1] as string).slice(2), "hex").reverse().toString("hex");
          const tx = net.node.findTx(txid)!.tx;
          s.paidToHotWallet += tx.outputs.filter((o) => Buffer.from(o.script).toString("hex") === hotHex).reduce((a, o) => a + o.value, 0n);
        }
      }
      const portfolioSet = new Set(deposits.map((d) => d.deposit.toLowerCase()));
      for (const e of (await system.queryFilter(system.filters.Created(), fromBlock)) as ethers.EventLog[]) {
        const dep = (e.args[0] as string).toLowerCase();
        if (portfolioSet.has(dep) || (await e.getTransaction()).from.toLowerCase() !== operator) continue;
        const funded = await system.queryFilter(system.filters.Funded(dep), fromBlock);
        if (!funded.length) continue;
        const c = new ethers.Contract(dep, DEPOSIT_ABI, p);
        const lotSats = (await c.lotSizeSatoshis()) as bigint;
        s.minted.push({ deposit: dep, lotSats, expectedTbtc: lotSats * 10n ** 10n - ((await c.signerFeeTbtc()) as bigint), fundedBlock: funded[0].blockNumber });
      }
      for (const e of (await token.queryFilter(token.filters.Transfer(ethers.ZeroAddress, op), fromBlock)) as ethers.EventLog[]) s.tbtcMintedToOperator += e.args[2] as bigint;
      seen[walk] = s;
    },
  }));
}, 240_000);

describe("keepctl replay --replenish-to on 2020-12-23 .. 12-24 (real ETH/BTC, 1.2 TBTC, two 1 BTC deposits at risk)", () => {
  it("without replenish: the first at-risk deposit is redeemed, the second cannot be (TBTC short) and is liquidated", () => {
    const s = seen["no-replenish"];
    expect(s.redeemedBy["nov-high-1btc"]).toBe(operator);
    expect(s.liquidated["nov-high-1btc"]).toBe(false);
    expect(s.redeemedBy["dec17-1btc"]).toBeNull();
    expect(s.liquidated["dec17-1btc"]).toBe(true);
    expect(s.minted).toEqual([]);
    expect(s.tbtcMintedToOperator).toBe(0n);
  });

  it("with replenish: a 1 BTC lot is minted back from the first redemption's BTC, and the second deposit is redeemed too", () => {
    const s = seen.bot;
    expect(s.redeemedBy["nov-high-1btc"]).toBe(operator);
    expect(s.redeemedBy["dec17-1btc"]).toBe(operator);
    expect(s.liquidated).toEqual({ "nov-high-1btc": false, "dec17-1btc": false });
    // 1.2 TBTC − ~1 for a redemption leaves ~0.2: the shortfall to 1.2 fits one 1 BTC lot (0.995),
    // which the redemption's BTC plus the 0.01 float pays for; once per redemption (the second
    // one's BTC is minted back too, after it).
    expect(s.minted.length).toBeGreaterThanOrEqual(1);
    expect(s.minted.map((m) => m.lotSats)).toEqual(s.minted.map(() => BTC));
    expect(s.minted.length).toBeLessThanOrEqual(2);
    expect(s.minted[0].fundedBlock).toBeLessThan(s.secondRequestBlock!);
    expect(s.tbtcMintedToOperator).toBe(s.minted.reduce((a, m) => a + m.expectedTbtc, 0n));
  });

  it("the bot's redemptions pay its own hot wallet (an address derived here from the walk's seed)", () => {
    // lot − the redemption's BTC fee: each proven redemption paid close to 1 BTC to receive address 0.
    expect(seen.bot.paidToHotWallet).toBeGreaterThan(2n * BTC - 2n * 100_000n);
    expect(seen.bot.paidToHotWallet).toBeLessThan(2n * BTC);
    expect(seen["no-replenish"].paidToHotWallet).toBeGreaterThan(BTC - 100_000n);
    expect(seen["no-replenish"].paidToHotWallet).toBeLessThan(BTC);
    expect(hotReceive0("bot")).not.toBe(hotReceive0("no-replenish"));
  });

  it("the report's comparison matches the chains", () => {
    const c = report.replenish!;
    expect(report.runs.map((r) => r.walk)).toEqual(["bot", "no-replenish"]);
    expect(c.with.depositsSaved).toBe(2);
    expect(c.without.depositsSaved).toBe(1);
    expect(c.with.depositsLost).toBe(0);
    expect(c.without.depositsLost).toBe(1);
    expect(c.difference.depositsSaved).toBe(1);
    expect(c.difference.depositsLost).toBe(-1);
    expect(ethers.parseEther(c.with.tbtcMinted)).toBe(seen.bot.tbtcMintedToOperator);
    expect(c.without.tbtcMinted).toBe("0.0");
    expect(ethers.parseUnits(c.with.btcReceived, 8)).toBe(seen.bot.paidToHotWallet);
    // The lots plus their funding fees (a few hundred sat each at the double's rates), nothing else.
    const spent = ethers.parseUnits(c.with.btcSpent, 8);
    const lots = BigInt(seen.bot.minted.length) * BTC;
    expect(spent).toBeGreaterThan(lots);
    expect(spent).toBeLessThan(lots + 100_000n);
    expect(c.with.depositsFunded).toBe(seen.bot.minted.length);
    expect(c.with.mints.map((m) => m.lotBtc)).toEqual(seen.bot.minted.map(() => "1.0"));
    // The first lot was created and funded between the two redemption requests (series time).
    const second = report.runs[0].deposits.find((d) => d.label === "dec17-1btc")!.redemptionRequestedAt!;
    expect(c.with.mints[0].createdAt >= report.window.from && c.with.mints[0].fundedAt <= second).toBe(true);
    expect(c.without.btcSpent).toBe("0.0");
  });
});
