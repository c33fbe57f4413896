import fs from "node:fs";
import * as btc from "@scure/btc-signer";
import { base64, hex } from "@scure/base";
import { ConfigError, ExitCode, KeepctlError } from "../../errors";
import { writePrivateFile } from "../../fs-safe";
import { finishSigned, type SignedTx } from "./funding-tx";

/**
 * The cold path: the unsigned transaction goes out as a PSBT (BIP174, version 0, base64) with a
 * witnessUtxo and a bip32Derivation for every input and the change output, for a hardware wallet
 * or Bitcoin Core (`walletprocesspsbt`) to sign; the signed PSBT comes back and is accepted only
 * if it is the SAME transaction (version, inputs, sequences, outputs, amounts, locktime), every
 * input spends what we said it spends, and every signature verifies against our amounts.
 */
const PSBT_MAGIC = [0x70, 0x73, 0x62, 0x74, 0xff];

function psbtError(code: "PSBT_INVALID" | "PSBT_MISMATCH" | "PSBT_INCOMPLETE", message: string, hint: string): KeepctlError {
  return new KeepctlError(code, ExitCode.USAGE, message, { hint });
}

export function psbtBase64(tx: btc.Transaction): string {
  return base64.encode(tx.toPSBT(0));
}

/** Writes the PSBT (base64, one line) 0600: it names every address and amount of the wallet's spend. */
export function writePsbtFile(file: string, tx: btc.Transaction): void {
  writePrivateFile(file, psbtBase64(tx) + "\n");
}

/** A PSBT as signers hand it back: base64 text (Bitcoin Core, Sparrow) or the raw binary (.psbt files of some wallets). */
export function decodePsbt(data: Uint8Array | string, what: string): btc.Transaction {
  let bytes: Uint8Array;
  const raw = typeof data === "string" ? new TextEncoder().encode(data) : data;
  if (PSBT_MAGIC.every((b, i) => raw[i] === b)) bytes = raw;
  else {
    try {
      bytes = base64.decode(new TextDecoder().decode(raw).replace(/\s+/g, ""));
    } catch {
      throw psbtError("PSBT_INVALID", `${what} is neither base64 nor a binary PSBT`, "give the file the signer wrote (base64 text or binary .psbt)");
    }
  }
  try {
    return btc.Transaction.fromPSBT(bytes, { allowUnknownOutputs: true });
  } catch (e) {
    throw psbtError("PSBT_INVALID", `${what} is not a valid PSBT: ${(e as Error).message.split("\n")[0]}`, "give the file the signer wrote (base64 text or binary .psbt)");
  }
}

export function readPsbtFile(file: string): btc.Transaction {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (e) {
    throw new ConfigError(`cannot read PSBT file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: "give the path of the signed PSBT" });
  }
  return decodePsbt(data, `PSBT file ${file}`);
}

/** Where the signed PSBT differs from the transaction keepctl wrote, in words; undefined when it is the same. */
export function psbtDifference(expected: btc.Transaction, got: btc.Transaction): string | undefined {
  if (got.version !== expected.version) return `version ${got.version}, keepctl wrote ${expected.version}`;
  if (got.lockTime !== expected.lockTime) return `locktime ${got.lockTime}, keepctl wrote ${expected.lockTime}`;
  if (got.inputsLength !== expected.inputsLength) return `${got.inputsLength} inputs, keepctl wrote ${expected.inputsLength}`;
  if (got.outputsLength !== expected.outputsLength) return `${got.outputsLength} outputs, keepctl wrote ${expected.outputsLength}`;
  for (let i = 0; i < expected.inputsLength; i++) {
    const a = expected.getInput(i);
    const b = got.getInput(i);
    const outpoint = (x: typeof a) => `${hex.encode(x.txid!)}:${x.index}`;
    if (outpoint(a) !== outpoint(b)) return `input ${i} spends ${outpoint(b)}, keepctl wrote ${outpoint(a)}`;
    if (a.sequence !== b.sequence) return `input ${i} has nSequence ${b.sequence}, keepctl wrote ${a.sequence}`;
    const wa = a.witnessUtxo!;
    const wb = b.witnessUtxo;
    if (!wb || wb.amount !== wa.amount || hex.encode(wb.script) !== hex.encode(wa.script)) return `input ${i}'s spent output (witnessUtxo) is not the one keepctl wrote`;
  }
  for (let i = 0; i < expected.outputsLength; i++) {
    const a = expected.getOutput(i);
    const b = got.getOutput(i);
    if (hex.encode(b.script!) !== hex.encode(a.script!)) return `output ${i} pays another script than keepctl wrote`;
    if (b.amount !== a.amount) return `output ${i} pays ${b.amount} sat, keepctl wrote ${a.amount} sat`;
  }
  // Field by field above names what changed; the serialization check is the backstop.
  if (hex.encode(got.unsignedTx) !== hex.encode(expected.unsignedTx)) return "its unsigned transaction is not the one keepctl wrote";
  return undefined;
}

/**
 * The signed PSBT made into the transaction to broadcast: the same transaction as `expected`, each
 * input finalized (signers such as Bitcoin Core may already have done so), every signature checked.
 */
export function acceptSignedPsbt(expected: btc.Transaction, signed: btc.Transaction, what: string): SignedTx {
  const diff = psbtDifference(expected, signed);
  if (diff) throw psbtError("PSBT_MISMATCH", `${what} is not the transaction keepctl wrote: ${diff}`, "sign the PSBT keepctl wrote, unchanged; nothing was broadcast");
  for (let i = 0; i < signed.inputsLength; i++) {
    const input = signed.getInput(i);
    if (input.finalScriptWitness?.length) continue;
    if (!input.partialSig?.length) throw psbtError("PSBT_INCOMPLETE", `${what} is not fully signed: input ${i} has no signature`, "let the signer sign every input (a hardware wallet needs the PSBT's key origins to match its seed)");
  }
  try {
    return finishSigned(signed);
  } catch (e) {
    throw psbtError("PSBT_INVALID", `${what}: ${(e as Error).message}`, "sign the PSBT again with the wallet's own seed; nothing was broadcast");
  }
}
