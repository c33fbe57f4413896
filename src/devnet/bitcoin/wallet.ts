import { secp256k1 } from "@noble/curves/secp256k1";
import { p2wpkh, Transaction } from "@scure/btc-signer";
import { COINBASE_MATURITY } from "./block";
import { fromHex, isHex, sha256Bytes, toHex } from "./bytes";
import type { Chain } from "./chain";
import type { Mempool } from "./mempool";
import { addressScript, dustThreshold, REGTEST } from "./script";

/**
 * The devnet's Bitcoin wallet: ONE PUBLIC TEST KEY, derived from a fixed label anyone can read,
 * so anything it holds is anyone's. Regtest only; never send real coins to it. It pays to P2WPKH
 * (`bcrt1q…`), sees its coins from the chain and the mempool, and builds, signs and broadcasts
 * transactions with change (signalling BIP125 by default).
 */
export const DEVNET_WALLET_LABEL = "keepctl devnet bitcoin wallet - PUBLIC TEST KEY, regtest only, never for real funds";

export interface WalletUtxo {
  txid: string;
  vout: number;
  value: bigint;
  /** 0 when unconfirmed. */
  height: number;
  coinbase: boolean;
}

export interface Payment {
  /** A regtest address, or the output script (bytes or hex). */
  address?: string;
  script?: Uint8Array | string;
  value: bigint | number;
}

export interface SendOptions {
  /** nSequence 0xfffffffd (BIP125 opt-in, the default) or 0xfffffffe. */
  rbf?: boolean;
  /** Spend exactly these coins (all of them), e.g. to build a replacement. */
  inputs?: WalletUtxo[];
  /** Leave out of coin selection (e.g. an outpoint a test keeps for later). */
  avoid?: Array<{ txid: string; vout: number }>;
  /** Only confirmed coins. */
  confirmedOnly?: boolean;
}

export interface BuiltTx {
  txid: string;
  hex: string;
  fee: bigint;
  vsize: number;
  inputs: WalletUtxo[];
}

/** What the wallet needs of the node. */
export interface WalletHost {
  chain: Chain;
  mempool: Mempool;
  broadcast(hex: string): string;
}

export function paymentScript(p: Payment): Uint8Array {
  if (p.script !== undefined) return typeof p.script === "string" ? fromHex(p.script) : p.script;
  if (p.address !== undefined) return addressScript(p.address);
  throw new Error("a payment needs an address or a script");
}

export class DevnetWallet {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly script: Uint8Array;
  readonly address: string;

  constructor(private readonly host: WalletHost, label = DEVNET_WALLET_LABEL) {
    this.privateKey = sha256Bytes(new TextEncoder().encode(label));
    this.publicKey = secp256k1.getPublicKey(this.privateKey, true);
    const pay = p2wpkh(this.publicKey, REGTEST);
    this.script = pay.script;
    this.address = pay.address!;
  }

  get privateKeyHex(): string {
    return toHex(this.privateKey);
  }

  /** Spendable coins: confirmed (mature) and unconfirmed, minus those the mempool already spends. */
  utxos(o: { confirmedOnly?: boolean; includeImmature?: boolean } = {}): WalletUtxo[] {
    const { chain, mempool } = this.host;
    const spendHeight = chain.height + 1;
    const out: WalletUtxo[] = [];
    for (const key of chain.index.utxoKeys(toHex(this.script))) {
      const [txid, v] = key.split(":");
      const coin = chain.coin(txid, Number(v))!;
      if (!o.includeImmature && coin.coinbase && spendHeight - coin.height < COINBASE_MATURITY) continue;
      if (mempool.spender(txid, Number(v))) continue;
      out.push({ txid, vout: Number(v), value: coin.value, height: coin.height, coinbase: coin.coinbase });
    }
    out.sort((a, b) => a.height - b.height || a.txid.localeCompare(b.txid) || a.vout - b.vout);
    if (o.confirmedOnly) return out;
    for (const txid of mempool.txidsTouching(toHex(this.script))) {
      const e = mempool.get(txid)!;
      e.tx.outputs.forEach((out2, vout) => {
        if (toHex(out2.script) === toHex(this.script) && !mempool.spender(txid, vout)) out.push({ txid, vout, value: out2.value, height: 0, coinbase: false });
      });
    }
    return out;
  }

  balance(): { confirmed: bigint; unconfirmed: bigint; immature: bigint } {
    const all = this.utxos({ includeImmature: true });
    const mature = new Set(this.utxos().map((u) => `${u.txid}:${u.vout}`));
    const sum = (f: (u: WalletUtxo) => boolean) => all.filter(f).reduce((s, u) => s + u.value, 0n);
    return { confirmed: sum((u) => u.height > 0 && mature.has(`${u.txid}:${u.vout}`)), unconfirmed: sum((u) => u.height === 0), immature: sum((u) => u.height > 0 && !mature.has(`${u.txid}:${u.vout}`)) };
  }

  /** Builds and signs (does not broadcast) a payment at `feeRate` sat/vB, change back to the wallet. */
  build(payments: Payment[], feeRate: number, o: SendOptions = {}): BuiltTx {
    const outs = payments.map((p) => ({ script: paymentScript(p), amount: BigInt(p.value) }));
    const target = outs.reduce((s, x) => s + x.amount, 0n);
    const avoid = new Set((o.avoid ?? []).map((a) => `${a.txid}:${a.vout}`));
    const pool = o.inputs ?? this.utxos({ confirmedOnly: o.confirmedOnly }).filter((u) => !avoid.has(`${u.txid}:${u.vout}`));
    const chosen: WalletUtxo[] = [];
    let have = 0n;
    const outsVsize = outs.reduce((n, x) => n + 9 + x.script.length + (x.script.length >= 0xfd ? 2 : 0), 31);
    for (const u of pool) {
      if (!o.inputs && have >= target + BigInt(Math.ceil(feeRate * (11 + outsVsize + 69 * chosen.length)))) break;
      chosen.push(u);
      have += u.value;
    }
    // The first pass (no fee) measures the signed size, the next pays for it; another round only if
    // the new signature came out a byte longer.
    let fee = 0n;
    for (let pass = 0; pass < 4; pass++) {
      const change = have - target - fee;
      if (change < 0n) throw new Error(`devnet wallet: insufficient funds (${have} sat available, ${target + fee} needed)`);
      const tx = this.sign(chosen, outs, change >= dustThreshold(this.script) ? change : 0n, o.rbf ?? true);
      const needed = BigInt(Math.ceil(feeRate * tx.vsize));
      const paid = have - target - (change >= dustThreshold(this.script) ? change : 0n);
      if (paid >= needed) return { txid: tx.id, hex: tx.hex, fee: paid, vsize: tx.vsize, inputs: chosen };
      fee = needed;
    }
    throw new Error("devnet wallet: could not settle the fee");
  }

  private sign(inputs: WalletUtxo[], outs: Array<{ script: Uint8Array; amount: bigint }>, change: bigint, rbf: boolean): Transaction {
    const tx = new Transaction({ allowUnknownOutputs: true, version: 2 });
    for (const u of inputs) tx.addInput({ txid: u.txid, index: u.vout, witnessUtxo: { script: this.script, amount: u.value }, sequence: rbf ? 0xfffffffd : 0xfffffffe });
    for (const o of outs) tx.addOutput(o);
    if (change > 0n) tx.addOutput({ script: this.script, amount: change });
    tx.sign(this.privateKey);
    tx.finalize();
    return tx;
  }

  /** Pays, signs and broadcasts; returns the txid (and what was built). */
  send(payments: Payment[], feeRate = 2, o: SendOptions = {}): BuiltTx {
    const built = this.build(payments, feeRate, o);
    this.host.broadcast(built.hex);
    return built;
  }

  /** Sends `value` sat to an address or script; the output index of the payment is returned too. */
  fund(to: string | Uint8Array, value: bigint | number, feeRate = 2): { txid: string; vout: number; hex: string } {
    const payment: Payment = typeof to === "string" && !isHex(to) ? { address: to, value } : { script: to, value };
    const built = this.send([payment], feeRate);
    return { txid: built.txid, vout: 0, hex: built.hex };
  }
}
