import crypto from "node:crypto";
import { secp256k1 } from "@noble/curves/secp256k1";
import { Transaction, p2wpkh, utils as btcUtils } from "@scure/btc-signer";

/**
 * A small real regtest chain for the Bitcoin layer's tests, built without src/lib/btc (hashing,
 * merkle trees and header mining here use node:crypto; transactions are signed P2WPKH spends made
 * with @scure/btc-signer): the loopback Electrum and Esplora doubles serve it, and the tests
 * compare what the client returns with what this chain knows.
 */
export const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
export const REGTEST_BITS = 0x207fffff;
const GENESIS_MERKLE = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";

export const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest();
export const dsha = (b: Buffer) => sha256(sha256(b));
/** Display hex of internal-order bytes. */
export const disp = (b: Buffer) => Buffer.from(b).reverse().toString("hex");
export const internal = (h: string) => Buffer.from(h, "hex").reverse();

export function bitsTarget(bits: number): bigint {
  return BigInt(bits & 0xffffff) << BigInt(8 * ((bits >>> 24) - 3));
}

export interface TestBlock {
  height: number;
  header: Buffer;
  hash: string;
  txids: string[];
}

export interface TestOutput { script: string; value: bigint }

/** Each level of the tree, from the txids up; Bitcoin's rule duplicates an odd level's last node. */
function merkleLevels(txids: string[]): Buffer[][] {
  const levels: Buffer[][] = [txids.map(internal)];
  while (levels[levels.length - 1].length > 1) {
    const cur = levels[levels.length - 1];
    const next: Buffer[] = [];
    for (let i = 0; i < cur.length; i += 2) next.push(dsha(Buffer.concat([cur[i], cur[i + 1] ?? cur[i]])));
    levels.push(next);
  }
  return levels;
}

export class TestChain {
  readonly blocks: TestBlock[] = [];
  readonly txs = new Map<string, string>();
  /** txid -> height (confirmed) */
  readonly confirmedAt = new Map<string, number>();
  readonly mempool = new Map<string, string>();
  /** "txid:vout" -> output */
  readonly outputs = new Map<string, TestOutput>();
  /** "txid:vout" -> spender */
  readonly spentBy = new Map<string, { txid: string; vin: number }>();
  readonly priv = btcUtils.randomPrivateKeyBytes();
  readonly pub = secp256k1.getPublicKey(this.priv, true);
  readonly wallet = p2wpkh(this.pub, REGTEST);

  constructor(copyOf?: TestChain, upTo?: number) {
    if (!copyOf) {
      const g = Buffer.alloc(80);
      g.writeUInt32LE(1, 0);
      internal(GENESIS_MERKLE).copy(g, 36);
      g.writeUInt32LE(1296688602, 68);
      g.writeUInt32LE(REGTEST_BITS, 72);
      g.writeUInt32LE(2, 76);
      this.blocks.push({ height: 0, header: g, hash: disp(dsha(g)), txids: [GENESIS_MERKLE] });
      return;
    }
    // A fork: the same history up to `upTo`, the same key.
    this.priv = copyOf.priv;
    this.pub = copyOf.pub;
    this.wallet = copyOf.wallet;
    for (const b of copyOf.blocks.slice(0, upTo! + 1)) this.blocks.push(b);
    for (const b of this.blocks) for (const t of b.txids) {
      const raw = copyOf.txs.get(t);
      if (raw) this.record(t, raw, b.height);
    }
  }

  get tip(): TestBlock {
    return this.blocks[this.blocks.length - 1];
  }

  fork(atHeight: number): TestChain {
    return new TestChain(this, atHeight);
  }

  /** Mines a block holding a fresh coinbase (paying `payTo`, default the wallet) and the given txs (default: the whole mempool). */
  mine(o: { txs?: string[]; bits?: number; payTo?: Uint8Array; fillers?: number } = {}): TestBlock {
    const height = this.blocks.length;
    const coinbase = this.coinbase(height, o.payTo ?? this.wallet.script);
    const fillers = Array.from({ length: o.fillers ?? 0 }, (_, i) => this.coinbase(height, Buffer.from([0x6a, 0x02, i, height & 0xff]), i + 1));
    const txs = [coinbase, ...(o.txs ?? [...this.mempool.values()]), ...fillers];
    const txids = txs.map((raw) => Transaction.fromRaw(Buffer.from(raw, "hex"), { allowUnknownOutputs: true, allowUnknownInputs: true }).id);
    const levels = merkleLevels(txids);
    const header = Buffer.alloc(80);
    const bits = o.bits ?? REGTEST_BITS;
    header.writeUInt32LE(0x20000000, 0);
    internal(this.tip.hash).copy(header, 4);
    levels[levels.length - 1][0].copy(header, 36);
    header.writeUInt32LE(this.tip.header.readUInt32LE(68) + 600, 68);
    header.writeUInt32LE(bits, 72);
    const target = bitsTarget(bits);
    for (let nonce = 0; ; nonce++) {
      header.writeUInt32LE(nonce, 76);
      if (BigInt("0x" + disp(dsha(header))) <= target) break;
    }
    const block = { height, header, hash: disp(dsha(header)), txids };
    this.blocks.push(block);
    txs.forEach((raw, i) => {
      this.mempool.delete(txids[i]);
      this.record(txids[i], raw, height);
    });
    return block;
  }

  /** Mines `n` empty blocks. */
  mineMany(n: number): void {
    for (let i = 0; i < n; i++) this.mine({ txs: [] });
  }

  /** A signed P2WPKH spend of the wallet's output `txid:vout` to `outputs` (the rest is fee). Not broadcast. */
  spend(txid: string, vout: number, outputs: { script: Uint8Array; value: bigint }[], sequence = 0xfffffffd): string {
    const prev = this.outputs.get(`${txid}:${vout}`);
    if (!prev) throw new Error(`no output ${txid}:${vout}`);
    const tx = new Transaction({ allowUnknownOutputs: true });
    tx.addInput({ txid, index: vout, sequence, witnessUtxo: { script: Buffer.from(prev.script, "hex"), amount: prev.value } });
    for (const o of outputs) tx.addOutput({ script: o.script, amount: o.value });
    tx.sign(this.priv);
    tx.finalize();
    return tx.hex;
  }

  /** Puts a tx in the mempool (what a broadcast does); its txid. */
  accept(raw: string): string {
    const id = Transaction.fromRaw(Buffer.from(raw, "hex"), { allowUnknownOutputs: true }).id;
    this.mempool.set(id, raw);
    this.record(id, raw, undefined);
    return id;
  }

  /** The merkle branch (display order, leaf first) and position of a confirmed tx. */
  branch(txid: string): { height: number; merkle: string[]; pos: number } {
    const height = this.confirmedAt.get(txid);
    if (height === undefined) throw new Error(`${txid} is not confirmed`);
    const block = this.blocks[height];
    const pos = block.txids.indexOf(txid);
    const levels = merkleLevels(block.txids);
    const merkle: string[] = [];
    let idx = pos;
    for (const level of levels.slice(0, -1)) {
      merkle.push(disp(level[idx ^ 1] ?? level[idx]));
      idx >>= 1;
    }
    return { height, merkle, pos };
  }

  /** Transactions touching a script (paying to it or spending from it), Electrum-style heights (0: mempool). */
  historyOf(scriptHex: string): { txid: string; height: number }[] {
    const seen = new Map<string, number>();
    for (const [key, out] of this.outputs) {
      const txid = key.split(":")[0];
      if (out.script === scriptHex) seen.set(txid, this.confirmedAt.get(txid) ?? 0);
      const sp = this.spentBy.get(key);
      if (out.script === scriptHex && sp) seen.set(sp.txid, this.confirmedAt.get(sp.txid) ?? 0);
    }
    return [...seen].map(([txid, height]) => ({ txid, height })).sort((a, b) => (a.height || 1e12) - (b.height || 1e12));
  }

  unspentOf(scriptHex: string): { txid: string; vout: number; value: bigint; height: number }[] {
    return [...this.outputs].filter(([k, o]) => o.script === scriptHex && !this.spentBy.has(k)).map(([k, o]) => {
      const [txid, vout] = k.split(":");
      return { txid, vout: Number(vout), value: o.value, height: this.confirmedAt.get(txid) ?? 0 };
    });
  }

  private record(txid: string, raw: string, height: number | undefined): void {
    this.txs.set(txid, raw);
    if (height !== undefined) this.confirmedAt.set(txid, height);
    const tx = Transaction.fromRaw(Buffer.from(raw, "hex"), { allowUnknownOutputs: true, allowUnknownInputs: true });
    for (let i = 0; i < tx.outputsLength; i++) {
      const o = tx.getOutput(i);
      this.outputs.set(`${txid}:${i}`, { script: Buffer.from(o.script!).toString("hex"), value: o.amount! });
    }
    for (let i = 0; i < tx.inputsLength; i++) {
      const inp = tx.getInput(i);
      const prev = `${Buffer.from(inp.txid!).toString("hex")}:${inp.index}`;
      if (this.outputs.has(prev)) this.spentBy.set(prev, { txid, vin: i });
    }
  }

  /** A coinbase paying 50 BTC to `script` (a raw tx without witness; `extra` makes fillers unique). */
  private coinbase(height: number, script: Uint8Array, extra = 0): string {
    const scriptSig = Buffer.from([0x03, height & 0xff, (height >> 8) & 0xff, (height >> 16) & 0xff, 0x01, extra & 0xff]);
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(5_000_000_000n);
    return Buffer.concat([
      Buffer.from("01000000", "hex"), Buffer.from([1]), Buffer.alloc(32), Buffer.from("ffffffff", "hex"),
      Buffer.from([scriptSig.length]), scriptSig, Buffer.from("ffffffff", "hex"),
      Buffer.from([1]), value, Buffer.from([script.length]), Buffer.from(script), Buffer.alloc(4),
    ]).toString("hex");
  }
}
