import { ethers } from "ethers";
import { connectBitcoin, fromHex, parseTransaction, toHex, type BitcoinClient } from "../lib/btc";
import { buildSignedRedemptionTx } from "../lib/tbtc/redeem/btc-redemption-tx";
import { startBitcoinNetwork, type BitcoinNetwork, type BitcoinNetworkOptions } from "./bitcoin";
import { hash160 } from "./spv";

/**
 * The devnet's Bitcoin side for tBTC: the network double (src/devnet/bitcoin, protocol-free) plus
 * what the seeded world does on it — fund a deposit's address with a real transaction, finish the
 * world's own redemptions — through keepctl's own Bitcoin client (lib/btc), so that every proof
 * the devnet hands the real contracts comes from a real chain of blocks, checked twice.
 */
export interface DevnetBitcoin {
  net: BitcoinNetwork;
  client: BitcoinClient;
  /** What the deployment file says about it (keepctl's `bitcoin` section). */
  file: { network: "regtest"; electrumUrls: string[]; esploraUrls: string[] };
  stop(): Promise<void>;
}

/** Confirmations the devnet's own proofs carry (TBTCConstants' difficulty factor on mainnet). */
export const DEVNET_PROOF_HEADERS = 6;

export async function startDevnetBitcoin(o: BitcoinNetworkOptions = {}): Promise<DevnetBitcoin> {
  const net = await startBitcoinNetwork(o);
  try {
    const file = { network: "regtest" as const, electrumUrls: [net.electrumTcpUrl, net.electrumWsUrl], esploraUrls: [net.esploraUrl] };
    const client = await connectBitcoin({ network: "regtest", electrumUrls: [net.electrumTcpUrl], esploraUrls: [], timeoutMs: 15_000, retries: 2 }, { clientName: "keepctl-devnet" });
    return {
      net,
      client,
      file,
      stop: async () => {
        await client.close();
        await net.stop();
      },
    };
  } catch (e) {
    await net.stop();
    throw e;
  }
}

/** P2WPKH output script (no length byte) of a compressed key. */
export function p2wpkhOf(compressedPubkey: ethers.BytesLike): string {
  return "0014" + hash160(compressedPubkey).slice(2);
}

export interface FundingProofArgs {
  args: [string, string, string, string, number, string, number, string];
  txid: string;
  outputIndex: number;
}

/**
 * Pays `valueSats` to the P2WPKH of `compressedPubkey` from the devnet wallet, mines the proof's
 * blocks, and returns `provideBTCFundingProof`'s arguments from the chain.
 */
export async function fundOnBitcoin(b: DevnetBitcoin, compressedPubkey: ethers.BytesLike, valueSats: bigint): Promise<FundingProofArgs> {
  const script = p2wpkhOf(compressedPubkey);
  const sent = b.net.wallet.send([{ script, value: valueSats }], 2);
  b.net.mine(DEVNET_PROOF_HEADERS);
  const tx = parseTransaction(sent.hex);
  const outputIndex = tx.outputs.findIndex((x) => toHex(x.script) === script && x.value === valueSats);
  const p = await proofOf(b, sent.txid, script, sent.hex);
  return { args: [p.version, p.inputVector, p.outputVector, p.locktime, outputIndex, p.merkleProof, p.indexInBlock, p.headers], txid: sent.txid, outputIndex };
}

async function proofOf(b: DevnetBitcoin, txid: string, script: string, raw: string) {
  const r = await b.client.proof(txid, fromHex(script), { headers: DEVNET_PROOF_HEADERS, rawTx: raw });
  if (!r.ready) throw new Error(`devnet: tx ${txid} is not confirmed ${DEVNET_PROOF_HEADERS} deep`);
  const hx = (u: Uint8Array) => "0x" + toHex(u);
  return { version: hx(r.proof.version), inputVector: hx(r.proof.inputVector), outputVector: hx(r.proof.outputVector), locktime: hx(r.proof.locktime), merkleProof: hx(r.proof.merkleProof), indexInBlock: r.proof.indexInBlock, headers: hx(r.proof.headers) };
}

/**
 * The world's own redemption on Bitcoin (what a redeemer's wallet would do): rebuild the signed
 * transaction from the request and the keep's signature, broadcast it, mine the proof's blocks, and
 * return `provideRedemptionProof`'s arguments.
 */
export async function redeemOnBitcoin(
  b: DevnetBitcoin,
  r: { outpoint: string; utxoValueSats: bigint; redeemerScript: string; feeSats: bigint; signerPubkey64: string; digest: string; signature: { r: string; s: string } },
): Promise<[string, string, string, string, string, number, string]> {
  const tx = buildSignedRedemptionTx({ outpoint: r.outpoint, utxoValueSats: r.utxoValueSats, redeemerScript: r.redeemerScript, feeSats: r.feeSats, signerPubkey64: r.signerPubkey64 }, r.digest, r.signature);
  b.net.broadcast(tx.raw);
  b.net.mine(DEVNET_PROOF_HEADERS);
  const script = ethers.hexlify(ethers.getBytes(r.redeemerScript).subarray(1)).slice(2);
  const p = await proofOf(b, tx.txid, script, tx.raw);
  return [p.version, p.inputVector, p.outputVector, p.locktime, p.merkleProof, p.indexInBlock, p.headers];
}
