import * as btc from "@scure/btc-signer";
import { hex } from "@scure/base";
import { ethers } from "ethers";

/**
 * tBTC's own rules for a redemption proof (DepositRedemption.provideRedemptionProof and
 * DepositUtils.evaluateProofDifficulty, v1.1.0), checked locally before anything is signed: the
 * first input spends the deposit's outpoint, the first output pays the redeemer's script, the fee
 * is at most the latest requested fee, the first header's difficulty is the relay's current or
 * previous epoch difficulty, and the headers' summed difficulty reaches that × the factor. The
 * generic SPV checks (merkle, header links, each header's work) are the Bitcoin layer's; this is
 * what only tBTC knows. A proof that fails here costs no gas and no nonce.
 */
export const TX_PROOF_DIFFICULTY_FACTOR = 6n; // TBTCConstants.getTxProofDifficultyFactor(), mainnet constants

export interface ProofVectors {
  version: string;
  inputVector: string;
  outputVector: string;
  locktime: string;
  /** Difficulty (DIFF1 / target) of the first header, and the sum over all headers. */
  firstDifficulty: bigint;
  totalDifficulty: bigint;
  headerCount: number;
}

export interface RedemptionRules {
  outpoint: string;
  redeemerScript: string;
  utxoValueSats: bigint;
  latestFeeSats: bigint;
  relayCurrentDifficulty: bigint;
  relayPreviousDifficulty: bigint;
  factor?: bigint;
}

export type ProofVerdict = { ok: true; outputValueSats: bigint; requiredDifficulty: bigint } | { ok: false; reason: string; retry: boolean };

/** Reassembles the proof's vectors as a legacy serialization and parses it with @scure/btc-signer. */
function parseVectors(p: ProofVectors) {
  const raw = ethers.getBytes(ethers.concat([p.version, p.inputVector, p.outputVector, p.locktime]));
  return btc.RawTx.decode(raw);
}

export function checkRedemptionProof(p: ProofVectors, r: RedemptionRules): ProofVerdict {
  let tx: ReturnType<typeof parseVectors>;
  try {
    tx = parseVectors(p);
  } catch (e) {
    return { ok: false, reason: `the transaction does not parse: ${(e as Error).message}`, retry: false };
  }
  if (!tx.inputs.length || !tx.outputs.length) return { ok: false, reason: "the transaction has no input or no output", retry: false };
  const input = tx.inputs[0];
  const index = new Uint8Array(4);
  new DataView(index.buffer).setUint32(0, input.index, true);
  const spent = "0x" + hex.encode(Uint8Array.from(input.txid).reverse()) + hex.encode(index);
  if (spent.toLowerCase() !== r.outpoint.toLowerCase()) return { ok: false, reason: `the transaction spends ${spent}, not the deposit's UTXO ${r.outpoint}`, retry: false };
  const out = tx.outputs[0];
  const script = "0x" + hex.encode(Uint8Array.of(out.script.length)) + hex.encode(out.script);
  if (script.toLowerCase() !== r.redeemerScript.toLowerCase()) return { ok: false, reason: `the transaction pays ${script}, not the redeemer's script ${r.redeemerScript}`, retry: false };
  const fee = r.utxoValueSats - out.amount;
  if (fee > r.latestFeeSats) return { ok: false, reason: `the transaction's fee ${fee} sat is above the latest requested fee ${r.latestFeeSats} sat`, retry: false };
  const required = requiredDifficulty(p.firstDifficulty, r);
  if (required === undefined) {
    return {
      ok: false,
      reason: `the block's difficulty ${p.firstDifficulty} is neither the relay's current (${r.relayCurrentDifficulty}) nor its previous (${r.relayPreviousDifficulty}) epoch difficulty`,
      // A newer epoch the relay has not recorded yet passes later; an older one never will.
      retry: p.firstDifficulty !== 0n && p.firstDifficulty !== r.relayPreviousDifficulty,
    };
  }
  if (p.totalDifficulty < required) return { ok: false, reason: `the ${p.headerCount} headers sum to difficulty ${p.totalDifficulty}, below the ${required} required`, retry: true };
  return { ok: true, outputValueSats: out.amount, requiredDifficulty: required };
}

/** The relay's epoch difficulty the first header matches, × the factor; undefined when it matches neither. */
export function requiredDifficulty(firstDifficulty: bigint, r: Pick<RedemptionRules, "relayCurrentDifficulty" | "relayPreviousDifficulty" | "factor">): bigint | undefined {
  const factor = r.factor ?? TX_PROOF_DIFFICULTY_FACTOR;
  if (firstDifficulty === r.relayCurrentDifficulty) return r.relayCurrentDifficulty * factor;
  if (firstDifficulty === r.relayPreviousDifficulty) return r.relayPreviousDifficulty * factor;
  return undefined;
}

/**
 * How many of the headers from the transaction's block (difficulties in order) a proof needs: at
 * least `minCount` (the confirmations policy), and enough for the summed difficulty to reach
 * `required`; undefined when even all of them fall short (wait for more blocks).
 */
export function headersNeeded(difficulties: readonly bigint[], required: bigint, minCount: number): number | undefined {
  let sum = 0n;
  for (let i = 0; i < difficulties.length; i++) {
    sum += difficulties[i];
    if (i + 1 >= minCount && sum >= required) return i + 1;
  }
  return undefined;
}
