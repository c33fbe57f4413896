import { createHash } from "node:crypto";
import { secp256k1 } from "@noble/curves/secp256k1";
import { p2pkh, p2wpkh, RawTx, Transaction } from "@scure/btc-signer";
import { describe, expect, it } from "vitest";
import { assembleBlock, blockSubsidy, genesisBlock, pushNumber, REGTEST_GENESIS_HEX } from "../../src/devnet/bitcoin/block";
import { mineHeader } from "../../src/devnet/bitcoin/header";
import { BlockRejected } from "../../src/devnet/bitcoin/chain";
import { negotiateVersion } from "../../src/devnet/bitcoin/electrum/version";
import { fillerSizes } from "../../src/devnet/bitcoin/fee-pressure";
import { merkleBranch, merkleRoot } from "../../src/devnet/bitcoin/merkle";
import { mineBlock } from "../../src/devnet/bitcoin/miner";
import { BitcoinNode } from "../../src/devnet/bitcoin/node";
import { formatMoney, TxRejected } from "../../src/devnet/bitcoin/policy";
import { coreAsm, esploraAsm } from "../../src/devnet/bitcoin/script-asm";

/**
 * The double's chain, mempool policy and miner in-process (no sockets). Expected values are
 * published facts (block 100000's merkle root, the genesis coinbase txid, regtest's halving
 * interval, Core's reject texts) or computed here with node:crypto and @scure/btc-signer.
 */
const REGTEST = { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4, wif: 0xef };
const sha = (b: Buffer) => createHash("sha256").update(b).digest();
const h256 = (b: Buffer) => sha(sha(b));
const rev = (b: Buffer) => Buffer.from(b).reverse();
const priv = sha(Buffer.from("btc-double unit key"));
const pub = secp256k1.getPublicKey(priv, true);
const me = p2wpkh(pub, REGTEST);
const myScript = Buffer.from(me.script).toString("hex");

interface Coin {
  txid: string;
  vout: number;
  value: bigint;
}
function spend(coins: Coin[], outs: Array<{ script: string | Uint8Array; value: bigint }>, o: { sequence?: number; version?: number; lockTime?: number } = {}) {
  const tx = new Transaction({ allowUnknownOutputs: true, version: o.version ?? 2, lockTime: o.lockTime ?? 0 });
  for (const c of coins) tx.addInput({ txid: c.txid, index: c.vout, witnessUtxo: { script: me.script, amount: c.value }, sequence: o.sequence ?? 0xfffffffd });
  for (const x of outs) tx.addOutput({ script: typeof x.script === "string" ? Buffer.from(x.script, "hex") : x.script, amount: x.value });
  tx.sign(priv);
  tx.finalize();
  return { hex: tx.hex, txid: tx.id, vsize: tx.vsize };
}
function node(o: ConstructorParameters<typeof BitcoinNode>[0] = {}) {
  const n = new BitcoinNode(o);
  n.mine(101);
  return n;
}
/** A confirmed coin of the test key, from the devnet wallet. */
function coin(n: BitcoinNode, value: bigint): Coin {
  const sent = n.wallet.fund(me.address!, value);
  n.mine(1);
  return { txid: sent.txid, vout: 0, value };
}
function rejection(n: BitcoinNode, hex: string): string {
  try {
    n.broadcast(hex);
    return "(accepted)";
  } catch (e) {
    expect(e).toBeInstanceOf(TxRejected);
    return (e as Error).message;
  }
}

describe("blocks and the regtest genesis", () => {
  it("is Core's regtest genesis: coinbase txid 4a5e1e4b…, block hash 0f9188f1…", () => {
    const g = genesisBlock();
    expect(g.hash).toBe("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206");
    expect(g.txs[0].txid).toBe("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");
    expect(rev(h256(Buffer.from(REGTEST_GENESIS_HEX.slice(0, 160), "hex"))).toString("hex")).toBe(g.hash);
  });

  it("computes block 100000's published merkle root, and branches that fold to it", () => {
    const txids = [
      "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
      "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
      "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
      "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
    ];
    const leaves = txids.map((t) => rev(Buffer.from(t, "hex")));
    expect(rev(Buffer.from(merkleRoot(leaves))).toString("hex")).toBe("f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766");
    // Three leaves: the last is paired with itself (computed here by hand).
    const three = leaves.slice(0, 3);
    const expected = h256(Buffer.concat([h256(Buffer.concat([three[0], three[1]])), h256(Buffer.concat([three[2], three[2]]))]));
    expect(Buffer.from(merkleRoot(three)).equals(expected)).toBe(true);
    expect(merkleBranch(three, 2).map((b) => Buffer.from(b).toString("hex"))).toEqual([three[2].toString("hex"), h256(Buffer.concat([three[0], three[1]])).toString("hex")]);
  });

  it("halves the subsidy every 150 blocks (regtest) and pushes the BIP34 height minimally", () => {
    expect([0, 149, 150, 299, 300].map(blockSubsidy)).toEqual([5_000_000_000n, 5_000_000_000n, 2_500_000_000n, 2_500_000_000n, 1_250_000_000n]);
    const hex = (n: number) => Buffer.from(pushNumber(n)).toString("hex");
    expect([1, 16, 17, 127, 128, 255, 256, 65536].map(hex)).toEqual(["51", "60", "0111", "017f", "028000", "02ff00", "020001", "03000001"]);
  });

  it("commits to the witness root in the coinbase when the block has segwit transactions", () => {
    const n = node();
    const empty = n.chain.entry(n.mine(1)[0])!.block;
    expect(empty.txs[0].outputs).toHaveLength(1);
    const c = coin(n, 100_000n);
    n.broadcast(spend([c], [{ script: myScript, value: 99_000n }]).hex);
    const b = n.chain.entry(n.mine(1)[0])!.block;
    const leaves = b.txs.map((t, i) => (i === 0 ? Buffer.alloc(32) : rev(Buffer.from(t.wtxid, "hex"))));
    let level = leaves;
    while (level.length > 1) level = Array.from({ length: Math.ceil(level.length / 2) }, (_, i) => h256(Buffer.concat([level[2 * i], level[2 * i + 1] ?? level[2 * i]])));
    const commitment = h256(Buffer.concat([level[0], Buffer.alloc(32)]));
    const out = b.txs[0].outputs[b.txs[0].outputs.length - 1];
    expect(Buffer.from(out.script).toString("hex")).toBe("6a24aa21a9ed" + commitment.toString("hex"));
  });

  it("refuses blocks with a wrong merkle root, too little work or an old time", () => {
    const n = node();
    const good = mineBlock(n.chain, n.mempool, { payTo: n.wallet.script, maxBlockVsize: 1e6, now: n.chain.tip.mtp + 10, extraNonce: 999 });
    const tamper = (f: (b: Buffer) => void) => {
      const h = Buffer.from(good.headerBytes);
      f(h);
      return { ...good, headerBytes: h, hash: rev(h256(h)).toString("hex"), header: { ...good.header } };
    };
    const reason = (b: typeof good) => {
      try {
        n.chain.addBlock(b);
        return "accepted";
      } catch (e) {
        return (e as BlockRejected).reason;
      }
    };
    // Nonces whose hash is above regtest's target exist among the first few.
    let high = 0;
    while ((() => { const h = tamper((b) => b.writeUInt32LE(high, 76)); return BigInt("0x" + h.hash) <= 0x7fffffn << 232n; })()) high++;
    expect(reason(tamper((b) => b.writeUInt32LE(high, 76)))).toBe("high-hash");
    const root = mineBlock(n.chain, n.mempool, { payTo: n.wallet.script, maxBlockVsize: 1e6, now: n.chain.tip.mtp + 10, extraNonce: 1000 });
    const swapped = { ...root, txs: [good.txs[0]] };
    expect(reason(swapped)).toBe("bad-txnmrklroot");
    const clamped = mineBlock(n.chain, n.mempool, { payTo: n.wallet.script, maxBlockVsize: 1e6, now: 0, extraNonce: 1001 });
    expect(clamped.header.time).toBe(n.chain.tip.mtp + 1);
    const oldHeader = mineHeader({ ...clamped.header, time: n.chain.tip.mtp });
    expect(reason(assembleBlock(oldHeader, clamped.txs))).toBe("time-too-old");
    expect(reason(good)).toBe("accepted");
  });
});

describe("mempool policy", () => {
  it("enforces coinbase maturity (100 blocks) with Core's text", () => {
    const n = new BitcoinNode({ coinbaseTo: me.address });
    n.mine(99);
    const cb = n.chain.entryAt(1)!.block.txs[0];
    const c = { txid: cb.txid, vout: 0, value: cb.outputs[0].value };
    const tx = spend([c], [{ script: myScript, value: c.value - 1000n }]);
    // The next block is at height 100: the coinbase of block 1 would be 99 deep.
    expect(rejection(n, tx.hex)).toBe("bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth 99");
    n.mine(1);
    expect(n.broadcast(tx.hex)).toBe(tx.txid);
  });

  it("refuses dust, a non-final locktime and an unmet BIP68 relative lock", () => {
    const n = node();
    const c = coin(n, 100_000n);
    expect(rejection(n, spend([c], [{ script: myScript, value: 293n }, { script: myScript, value: 90_000n }]).hex)).toBe("dust");
    expect(rejection(n, spend([c], [{ script: myScript, value: 99_000n }], { lockTime: n.height + 5 }).hex)).toBe("non-final");
    const relative = spend([c], [{ script: myScript, value: 99_000n }], { sequence: 3 });
    expect(rejection(n, relative.hex)).toBe("non-BIP68-final");
    n.mine(2);
    expect(n.broadcast(relative.hex)).toBe(relative.txid);
  });

  it("limits unconfirmed chains to 25 transactions", () => {
    const n = node();
    let c = coin(n, 1_000_000n);
    for (let i = 0; i < 25; i++) {
      const t = spend([c], [{ script: myScript, value: c.value - 500n }]);
      n.broadcast(t.hex);
      c = { txid: t.txid, vout: 0, value: c.value - 500n };
    }
    expect(rejection(n, spend([c], [{ script: myScript, value: c.value - 500n }]).hex)).toBe("too-long-mempool-chain, too many unconfirmed ancestors [limit: 25]");
  });

  it("evicts descendants on replacement and refuses one that adds an unconfirmed input", () => {
    const n = node();
    const a = coin(n, 500_000n);
    const b = coin(n, 500_000n);
    const parent = spend([a], [{ script: myScript, value: 499_000n }]);
    const child = spend([{ txid: parent.txid, vout: 0, value: 499_000n }], [{ script: myScript, value: 498_000n }]);
    n.broadcast(parent.hex);
    n.broadcast(child.hex);
    const other = spend([b], [{ script: myScript, value: 499_000n }]);
    n.broadcast(other.hex);
    const addsUnconfirmed = spend([a, { txid: other.txid, vout: 0, value: 499_000n }], [{ script: myScript, value: 990_000n }]);
    expect(rejection(n, addsUnconfirmed.hex)).toBe(`replacement-adds-unconfirmed, replacement ${addsUnconfirmed.txid} adds unconfirmed input, idx 1`);
    const lessThanBoth = spend([a], [{ script: myScript, value: 498_500n }]);
    expect(rejection(n, lessThanBoth.hex)).toBe(`insufficient fee, rejecting replacement ${lessThanBoth.txid}, less fees than conflicting txs; 0.000015 < 0.00002`);
    const replacement = spend([a], [{ script: myScript, value: 497_000n }]);
    n.broadcast(replacement.hex);
    expect(n.mempool.has(parent.txid)).toBe(false);
    expect(n.mempool.has(child.txid)).toBe(false);
  });

  it("names what failed in a signature: high S (policy) and a wrong key (consensus)", () => {
    const n = node();
    const c = coin(n, 100_000n);
    const good = spend([c], [{ script: myScript, value: 99_000n }]);
    const d = RawTx.decode(Buffer.from(good.hex, "hex"));
    const sig = secp256k1.Signature.fromDER(d.witnesses![0][0].slice(0, -1));
    const high = new secp256k1.Signature(sig.r, secp256k1.CURVE.n - sig.s).toDERRawBytes();
    d.witnesses![0][0] = Uint8Array.from([...high, 1]);
    expect(rejection(n, Buffer.from(RawTx.encode(d)).toString("hex"))).toBe("non-mandatory-script-verify-flag (Non-canonical signature: S value is unnecessarily high)");
    const other = RawTx.decode(Buffer.from(good.hex, "hex"));
    other.witnesses![0][1] = secp256k1.getPublicKey(sha(Buffer.from("another key")), true);
    expect(rejection(n, Buffer.from(RawTx.encode(other)).toString("hex"))).toBe("mandatory-script-verify-flag-failed (Script failed an OP_EQUALVERIFY operation)");
    expect(n.broadcast(good.hex)).toBe(good.txid);
  });

  it("refuses to verify inputs other than P2WPKH, saying so", () => {
    const n = node();
    const legacy = p2pkh(pub, REGTEST);
    const sent = n.wallet.fund(legacy.address!, 50_000);
    n.mine(1);
    const prev = n.findTx(sent.txid)!.tx.raw;
    const tx = new Transaction();
    tx.addInput({ txid: sent.txid, index: 0, nonWitnessUtxo: prev });
    tx.addOutput({ script: me.script, amount: 49_000n });
    tx.sign(priv);
    tx.finalize();
    expect(rejection(n, tx.hex)).toBe("non-mandatory-script-verify-flag (the devnet double verifies P2WPKH spends only; input 0 spends a p2pkh output)");
  });

  it("formats amounts as Core's FormatMoney", () => {
    expect([10_000n, 100_000_000n, 12_345_678n, 0n, 150n].map(formatMoney)).toEqual(["0.0001", "1.0", "0.12345678", "0.0", "0.0000015"]);
  });
});

describe("reorgs and fee estimates", () => {
  it("restores the coins a disconnected block spent, and forgets its txs when told", () => {
    const n = node();
    const c = coin(n, 200_000n);
    const t = spend([c], [{ script: myScript, value: 199_000n }]);
    n.broadcast(t.hex);
    n.mine(1);
    expect(n.chain.coin(c.txid, c.vout)).toBeUndefined();
    const r = n.reorg(1, { keepTxs: false });
    expect(r.connected).toHaveLength(2);
    expect(n.chain.coin(c.txid, c.vout)?.value).toBe(200_000n);
    expect(n.chain.coin(t.txid, 0)).toBeUndefined();
    expect(n.mempool.has(t.txid)).toBe(false);
    expect(n.broadcast(t.hex)).toBe(t.txid);
  });

  it("estimates from the mempool: the relay floor when it clears, above the backlog's rate when it does not", () => {
    const n = node();
    expect(n.feeEstimates([1, 6]).get(1)).toBe(1);
    n.setMaxBlockVsize(2000);
    n.setFeePressure({ feeRate: 30, vsize: 6000 });
    const e = n.feeEstimates([1, 2, 25]);
    expect(e.get(1)).toBeGreaterThan(30);
    expect(e.get(25)).toBe(1);
    n.setFeeEstimates("unavailable");
    expect(n.feeEstimates([1]).size).toBe(0);
    n.setFeeEstimates({ 2: 7.5 });
    expect([...n.feeEstimates([1, 2])]).toEqual([[2, 7.5]]);
  });

  it("sizes fillers to pack a block, leaving less than the smallest spend", () => {
    for (const cap of [765, 1745, 2789, 999_800]) {
      const sizes = fillerSizes(cap, 99_000);
      const sum = sizes.reduce((a, b) => a + b, 0);
      expect(sum).toBeLessThanOrEqual(cap);
      expect(cap - sum).toBeLessThan(110);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(99_000);
    }
  });
});

describe("protocol details", () => {
  it("negotiates Electrum versions like ElectrumX", () => {
    expect(negotiateVersion("1.4")).toBe("1.4");
    expect(negotiateVersion("1.4.2")).toBe("1.4.2");
    expect(negotiateVersion(["1.1", "1.4"])).toBe("1.4");
    expect(negotiateVersion(["1.2", "1.6"])).toBe("1.4.2");
    expect(negotiateVersion("1.3")).toBeUndefined();
    expect(negotiateVersion(["1.5", "1.6"])).toBeUndefined();
    expect(negotiateVersion(1.4)).toBeUndefined();
  });

  it("disassembles scripts in Core's and in Esplora's style", () => {
    const wpkh = Buffer.from("0014" + "ab".repeat(20), "hex");
    expect(coreAsm(wpkh)).toBe("0 " + "ab".repeat(20));
    expect(esploraAsm(wpkh)).toBe("OP_0 OP_PUSHBYTES_20 " + "ab".repeat(20));
    const pkh = Buffer.from("76a914" + "cd".repeat(20) + "88ac", "hex");
    expect(coreAsm(pkh)).toBe(`OP_DUP OP_HASH160 ${"cd".repeat(20)} OP_EQUALVERIFY OP_CHECKSIG`);
    expect(esploraAsm(Buffer.from("6a0401020304", "hex"))).toBe("OP_RETURN OP_PUSHBYTES_4 01020304");
    expect(coreAsm(Buffer.from("6a0401020304", "hex"))).toBe("OP_RETURN 67305985");
  });
});
