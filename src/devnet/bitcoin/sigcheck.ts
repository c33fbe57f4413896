import { secp256k1 } from "@noble/curves/secp256k1";
import { Transaction } from "@scure/btc-signer";
import { concatBytes, equalBytes, hash160 } from "./bytes";
import { classifyScript } from "./script";
import type { Tx, TxOut } from "./tx";

/**
 * Input script verification for the double: P2WPKH fully (BIP143 sighash from @scure/btc-signer,
 * ECDSA from @noble/curves), every other spent output type refused. Like Core, a failure under
 * the standard (policy) flags is re-checked under the mandatory (consensus) flags alone, and the
 * reject names which kind failed: "non-mandatory-script-verify-flag (…)" when only policy did,
 * "mandatory-script-verify-flag-failed (…)" with the consensus error otherwise.
 */
const ERR = {
  evalFalse: "Script evaluated without error but finished with a false/empty top stack element",
  equalVerify: "Script failed an OP_EQUALVERIFY operation",
  der: "Non-canonical DER signature",
  highS: "Non-canonical signature: S value is unnecessarily high",
  hashType: "Signature hash type missing or not understood",
  nullFail: "Signature must be zero for failed CHECK(MULTI)SIG operation",
  pubkeyType: "Public key is neither compressed or uncompressed",
  witnessPubkeyType: "Using non-compressed keys in segwit",
  witnessEmpty: "Witness program was passed an empty witness",
  witnessMismatch: "Witness program hash mismatch",
  witnessMalleated: "Witness requires empty scriptSig",
};

/** BIP66 strict DER, including the trailing sighash byte (Core's IsValidSignatureEncoding). */
export function isStrictDer(sig: Uint8Array): boolean {
  if (sig.length < 9 || sig.length > 73) return false;
  if (sig[0] !== 0x30 || sig[1] !== sig.length - 3) return false;
  const lenR = sig[3];
  if (5 + lenR >= sig.length) return false;
  const lenS = sig[5 + lenR];
  if (lenR + lenS + 7 !== sig.length) return false;
  if (sig[2] !== 0x02 || lenR === 0 || sig[4] & 0x80) return false;
  if (lenR > 1 && sig[4] === 0x00 && !(sig[5] & 0x80)) return false;
  if (sig[lenR + 4] !== 0x02 || lenS === 0 || sig[lenR + 6] & 0x80) return false;
  if (lenS > 1 && sig[lenR + 6] === 0x00 && !(sig[lenR + 7] & 0x80)) return false;
  return true;
}

const definedHashType = (t: number) => [1, 2, 3].includes(t & ~0x80);
const isCompressedKey = (k: Uint8Array) => k.length === 33 && (k[0] === 2 || k[0] === 3);
const isKeyEncoding = (k: Uint8Array) => isCompressedKey(k) || (k.length === 65 && k[0] === 4);

/** One P2WPKH spend under standard (`policy`) or consensus-only flags: undefined when it passes. */
function p2wpkhError(tx: Tx, sighashTx: () => Transaction, idx: number, prevout: TxOut, policy: boolean): string | undefined {
  const input = tx.inputs[idx];
  if (input.scriptSig.length > 0) return ERR.witnessMalleated;
  if (input.witness.length === 0) return ERR.witnessEmpty;
  if (input.witness.length !== 2) return ERR.witnessMismatch;
  const [sig, pubkey] = input.witness;
  if (!equalBytes(hash160(pubkey), prevout.script.subarray(2))) return ERR.equalVerify;
  if (sig.length > 0 && !isStrictDer(sig)) return ERR.der;
  let parsed: InstanceType<typeof secp256k1.Signature> | undefined;
  try {
    parsed = sig.length > 0 ? secp256k1.Signature.fromDER(sig.subarray(0, -1)) : undefined;
  } catch {
    return ERR.der;
  }
  // Core's order: signature encoding (DER, low S, hash type), then the key's encoding.
  if (policy && parsed?.hasHighS()) return ERR.highS;
  if (policy && sig.length > 0 && !definedHashType(sig[sig.length - 1])) return ERR.hashType;
  if (policy && !isKeyEncoding(pubkey)) return ERR.pubkeyType;
  if (policy && !isCompressedKey(pubkey)) return ERR.witnessPubkeyType;
  let valid = false;
  if (parsed) {
    try {
      const scriptCode = concatBytes(Uint8Array.of(0x76, 0xa9, 0x14), prevout.script.subarray(2), Uint8Array.of(0x88, 0xac));
      const digest = sighashTx().preimageWitnessV0(idx, scriptCode, sig[sig.length - 1], prevout.value);
      valid = secp256k1.verify(parsed.toCompactRawBytes(), digest, pubkey, { lowS: false });
    } catch {
      valid = false;
    }
  }
  if (valid) return undefined;
  return policy && sig.length > 0 ? ERR.nullFail : ERR.evalFalse;
}

export interface ScriptFailure {
  /** Core's reject text, e.g. "mandatory-script-verify-flag-failed (…)". */
  reason: string;
  /** True when consensus (not only policy) rejects the spend. */
  consensus: boolean;
}

/**
 * Verifies every input against the outputs it spends. `policy` false checks consensus only (a
 * block's transactions). Returns the first failure.
 */
export function verifyInputs(tx: Tx, prevouts: TxOut[], policy = true): ScriptFailure | undefined {
  let parsed: Transaction | undefined;
  const sighashTx = () => (parsed ??= Transaction.fromRaw(tx.raw, { allowUnknownOutputs: true, allowUnknownInputs: true, disableScriptCheck: true }));
  for (let i = 0; i < tx.inputs.length; i++) {
    const kind = classifyScript(prevouts[i].script);
    if (kind !== "p2wpkh") {
      return { reason: `non-mandatory-script-verify-flag (the devnet double verifies P2WPKH spends only; input ${i} spends a ${kind} output)`, consensus: false };
    }
    const strict = p2wpkhError(tx, sighashTx, i, prevouts[i], policy);
    if (strict === undefined) continue;
    if (!policy) return { reason: `mandatory-script-verify-flag-failed (${strict})`, consensus: true };
    const mandatory = p2wpkhError(tx, sighashTx, i, prevouts[i], false);
    if (mandatory === undefined) return { reason: `non-mandatory-script-verify-flag (${strict})`, consensus: false };
    return { reason: `mandatory-script-verify-flag-failed (${mandatory})`, consensus: true };
  }
  return undefined;
}
