import * as btc from "@scure/btc-signer";
import { secp256k1 } from "@noble/curves/secp256k1";
import { ripemd160 } from "@noble/hashes/legacy";
import { sha256 } from "@noble/hashes/sha2";
import { hex } from "@scure/base";
import type { AddressChain, Bip84Account, HotSigner } from "./account";
import type { Payment, Selection, Utxo } from "./coin-select";
import type { CpfpPlan, RbfPlan } from "./fee-bump";

/**
 * Selections and fee-bump plans made into transactions with @scure/btc-signer: version 2,
 * locktime 0, every input signalling replaceability (nSequence 0xfffffffd, BIP125), each input
 * carrying its witnessUtxo and bip32Derivation and the change output its bip32Derivation, so the
 * same object is signed here (hot) or written as a PSBT for another signer (cold).
 * A segwit txid covers no witness: it is known before signing, and the journal can record it.
 */
export const RBF_SEQUENCE = 0xfffffffd;

/** Our change output and where its key is derived. */
export interface ChangeRef {
  chain: AddressChain;
  index: number;
}

export interface SignedTx {
  rawHex: string;
  txid: string;
  vsize: number;
  weight: number;
  feeSats: bigint;
}

function newTx(): btc.Transaction {
  return new btc.Transaction({ version: 2, lockTime: 0, allowUnknownOutputs: true, lowR: true });
}

function addOurInput(tx: btc.Transaction, account: Bip84Account, u: Utxo): void {
  const expected = account.scriptHex(u.chain, u.index);
  if (u.scriptHex.toLowerCase() !== expected) throw new Error(`coin ${u.txid}:${u.vout} is not paid to this wallet's address ${u.chain}/${u.index}`);
  tx.addInput({
    txid: u.txid,
    index: u.vout,
    sequence: RBF_SEQUENCE,
    witnessUtxo: { script: hex.decode(expected), amount: u.valueSats },
    bip32Derivation: [account.derivation(u.chain, u.index)],
  });
}

function addChange(tx: btc.Transaction, account: Bip84Account, value: bigint, ref: ChangeRef): void {
  tx.addOutput({ script: account.payment(ref.chain, ref.index).script, amount: value, bip32Derivation: [account.derivation(ref.chain, ref.index)] });
}

function addPayments(tx: btc.Transaction, payments: readonly Payment[]): void {
  for (const p of payments) tx.addOutput({ script: hex.decode(p.scriptHex.toLowerCase()), amount: p.valueSats });
}

/** The funding transaction of a selection; `change` names the fresh change address when the selection has change. */
export function buildFundingTx(account: Bip84Account, s: Selection, change?: ChangeRef): btc.Transaction {
  if (s.change && !change) throw new Error("the selection has change: give its change address");
  if (s.change && change && account.scriptHex(change.chain, change.index) !== s.change.scriptHex.toLowerCase()) throw new Error("the change address does not match the selection's change script");
  const tx = newTx();
  for (const u of s.inputs) addOurInput(tx, account, u);
  addPayments(tx, s.payments);
  if (s.change && change) addChange(tx, account, s.change.valueSats, change);
  return tx;
}

/** RBF: the same inputs in the same order, the same payments, the change (if any is left) at the same address. */
export function buildReplacementTx(account: Bip84Account, original: { inputs: readonly Utxo[]; payments: readonly Payment[]; change?: ChangeRef }, plan: Extract<RbfPlan, { feasible: true }>): btc.Transaction {
  const tx = newTx();
  for (const u of original.inputs) addOurInput(tx, account, u);
  addPayments(tx, original.payments);
  if (plan.change) {
    if (!original.change) throw new Error("the replacement keeps change but the original names no change address");
    addChange(tx, account, plan.change.valueSats, original.change);
  }
  return tx;
}

/** CPFP: spends our change output of the stuck parent to a fresh change address of ours. */
export function buildCpfpChildTx(account: Bip84Account, parentChange: Utxo, to: ChangeRef, plan: Extract<CpfpPlan, { feasible: true }>): btc.Transaction {
  const tx = newTx();
  addOurInput(tx, account, parentChange);
  addChange(tx, account, plan.childValueSats, to);
  return tx;
}

/** The unsigned transaction's id (equal to the signed one's: segwit). */
export function unsignedTxid(tx: btc.Transaction): string {
  return hex.encode(sha256(sha256(tx.unsignedTx)).reverse());
}

const hash160 = (b: Uint8Array) => ripemd160(sha256(b));

/**
 * Checks every input's signature against its BIP143 digest before anything leaves the process:
 * the witness key must be the one the spent script commits to, the signature valid and low-S,
 * SIGHASH_ALL. Returns the problem of the first bad input, undefined when all verify.
 */
export function signatureProblem(tx: btc.Transaction): string | undefined {
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    const w = input.finalScriptWitness;
    const utxo = input.witnessUtxo;
    if (!w || w.length !== 2 || !utxo) return `input ${i} has no P2WPKH witness`;
    const [sigWithType, pubkey] = w;
    const program = utxo.script;
    if (program.length !== 22 || program[0] !== 0 || program[1] !== 20) return `input ${i} does not spend a P2WPKH output`;
    if (hex.encode(hash160(pubkey)) !== hex.encode(program.subarray(2))) return `input ${i} is signed by a key its output does not name`;
    if (sigWithType[sigWithType.length - 1] !== btc.SigHash.ALL) return `input ${i} is not signed SIGHASH_ALL`;
    const scriptCode = btc.OutScript.encode({ type: "pkh", hash: program.subarray(2) });
    const digest = tx.preimageWitnessV0(i, scriptCode, btc.SigHash.ALL, utxo.amount);
    let ok = false;
    try {
      ok = secp256k1.verify(sigWithType.subarray(0, -1), digest, pubkey, { format: "der", lowS: true, prehash: false });
    } catch {
      ok = false;
    }
    if (!ok) return `input ${i}'s signature does not verify`;
  }
  return undefined;
}

/** Finalizes (the inputs a signer left unfinalized), verifies and serializes a fully signed transaction. */
export function finishSigned(tx: btc.Transaction): SignedTx {
  for (let i = 0; i < tx.inputsLength; i++) if (!tx.getInput(i).finalScriptWitness?.length) tx.finalizeIdx(i);
  const problem = signatureProblem(tx);
  if (problem) throw new Error(`refusing the signed transaction: ${problem}`);
  const raw = tx.extract();
  return { rawHex: hex.encode(raw), txid: tx.id, vsize: tx.vsize, weight: tx.weight, feeSats: tx.fee };
}

/** Hot signing: each input's key derived from the bip32Derivation we wrote (our fingerprint, our path). */
export function signHot(tx: btc.Transaction, account: Bip84Account, signer: HotSigner): SignedTx {
  for (let i = 0; i < tx.inputsLength; i++) {
    const der = tx.getInput(i).bip32Derivation?.[0];
    if (!der) throw new Error(`input ${i} carries no bip32Derivation`);
    const [, { fingerprint, path }] = der;
    const tail = path.slice(account.origin.path.length);
    if (fingerprint !== account.origin.fingerprint || tail.length !== 2 || (tail[0] !== 0 && tail[0] !== 1)) throw new Error(`input ${i} is not derived from this wallet`);
    tx.signIdx(signer.privateKey(tail[0] as AddressChain, tail[1]), i);
  }
  return finishSigned(tx);
}
