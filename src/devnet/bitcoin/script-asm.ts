import { toHex } from "./bytes";
import { tokenize } from "./script";

/**
 * Script disassembly in the two styles clients see: Bitcoin Core's (`getrawtransaction` verbose,
 * what ElectrumX passes through: small numbers as decimals, pushes as bare hex) and Esplora's
 * (rust-bitcoin's: `OP_0 OP_PUSHBYTES_20 <hex>`).
 */
const NAMES: Record<number, string> = {
  0x00: "OP_0", 0x4f: "OP_1NEGATE", 0x50: "OP_RESERVED", 0x61: "OP_NOP", 0x62: "OP_VER", 0x63: "OP_IF", 0x64: "OP_NOTIF",
  0x65: "OP_VERIF", 0x66: "OP_VERNOTIF", 0x67: "OP_ELSE", 0x68: "OP_ENDIF", 0x69: "OP_VERIFY", 0x6a: "OP_RETURN",
  0x6b: "OP_TOALTSTACK", 0x6c: "OP_FROMALTSTACK", 0x6d: "OP_2DROP", 0x6e: "OP_2DUP", 0x6f: "OP_3DUP", 0x70: "OP_2OVER",
  0x71: "OP_2ROT", 0x72: "OP_2SWAP", 0x73: "OP_IFDUP", 0x74: "OP_DEPTH", 0x75: "OP_DROP", 0x76: "OP_DUP", 0x77: "OP_NIP",
  0x78: "OP_OVER", 0x79: "OP_PICK", 0x7a: "OP_ROLL", 0x7b: "OP_ROT", 0x7c: "OP_SWAP", 0x7d: "OP_TUCK", 0x7e: "OP_CAT",
  0x7f: "OP_SUBSTR", 0x80: "OP_LEFT", 0x81: "OP_RIGHT", 0x82: "OP_SIZE", 0x83: "OP_INVERT", 0x84: "OP_AND", 0x85: "OP_OR",
  0x86: "OP_XOR", 0x87: "OP_EQUAL", 0x88: "OP_EQUALVERIFY", 0x89: "OP_RESERVED1", 0x8a: "OP_RESERVED2", 0x8b: "OP_1ADD",
  0x8c: "OP_1SUB", 0x8d: "OP_2MUL", 0x8e: "OP_2DIV", 0x8f: "OP_NEGATE", 0x90: "OP_ABS", 0x91: "OP_NOT", 0x92: "OP_0NOTEQUAL",
  0x93: "OP_ADD", 0x94: "OP_SUB", 0x95: "OP_MUL", 0x96: "OP_DIV", 0x97: "OP_MOD", 0x98: "OP_LSHIFT", 0x99: "OP_RSHIFT",
  0x9a: "OP_BOOLAND", 0x9b: "OP_BOOLOR", 0x9c: "OP_NUMEQUAL", 0x9d: "OP_NUMEQUALVERIFY", 0x9e: "OP_NUMNOTEQUAL",
  0x9f: "OP_LESSTHAN", 0xa0: "OP_GREATERTHAN", 0xa1: "OP_LESSTHANOREQUAL", 0xa2: "OP_GREATERTHANOREQUAL", 0xa3: "OP_MIN",
  0xa4: "OP_MAX", 0xa5: "OP_WITHIN", 0xa6: "OP_RIPEMD160", 0xa7: "OP_SHA1", 0xa8: "OP_SHA256", 0xa9: "OP_HASH160",
  0xaa: "OP_HASH256", 0xab: "OP_CODESEPARATOR", 0xac: "OP_CHECKSIG", 0xad: "OP_CHECKSIGVERIFY", 0xae: "OP_CHECKMULTISIG",
  0xaf: "OP_CHECKMULTISIGVERIFY", 0xb0: "OP_NOP1", 0xb1: "OP_CHECKLOCKTIMEVERIFY", 0xb2: "OP_CHECKSEQUENCEVERIFY",
  0xb3: "OP_NOP4", 0xb4: "OP_NOP5", 0xb5: "OP_NOP6", 0xb6: "OP_NOP7", 0xb7: "OP_NOP8", 0xb8: "OP_NOP9", 0xb9: "OP_NOP10",
  0xba: "OP_CHECKSIGADD",
};

function coreOpName(op: number): string {
  if (op >= 0x51 && op <= 0x60) return String(op - 0x50);
  if (op === 0x00) return "0";
  if (op === 0x4f) return "-1";
  return NAMES[op] ?? "OP_UNKNOWN";
}

/** CScriptNum of up to 4 bytes, as Core prints short pushes. */
function scriptNum(b: Uint8Array): number {
  if (b.length === 0) return 0;
  let v = 0;
  for (let i = 0; i < b.length; i++) v += b[i] * 2 ** (8 * i);
  const top = b[b.length - 1];
  if (top & 0x80) return -(v - 0x80 * 2 ** (8 * (b.length - 1)));
  return v;
}

const SIGHASH_NAMES: Record<number, string> = { 1: "ALL", 2: "NONE", 3: "SINGLE", 0x81: "ALL|ANYONECANPAY", 0x82: "NONE|ANYONECANPAY", 0x83: "SINGLE|ANYONECANPAY" };

/** Core's ScriptToAsmStr; `scriptSig` also decodes a trailing sighash byte of DER signatures ("[ALL]"). */
export function coreAsm(script: Uint8Array, scriptSig = false): string {
  const tokens = tokenize(script);
  if (!tokens) return "[error]";
  return tokens
    .map((t) => {
      if (!t.data) return coreOpName(t.op);
      if (t.data.length <= 4) return String(scriptNum(t.data));
      if (scriptSig && t.data.length > 8 && t.data[0] === 0x30) {
        const type = SIGHASH_NAMES[t.data[t.data.length - 1]];
        if (type) return `${toHex(t.data.subarray(0, -1))}[${type}]`;
      }
      return toHex(t.data);
    })
    .join(" ");
}

function esploraOpName(op: number): string {
  if (op >= 0x51 && op <= 0x60) return `OP_PUSHNUM_${op - 0x50}`;
  if (op === 0x4f) return "OP_PUSHNUM_NEG1";
  if (op === 0x00) return "OP_0";
  if (op >= 0xbb) return `OP_RETURN_${op}`;
  return NAMES[op] ?? `OP_RETURN_${op}`;
}

/** rust-bitcoin's asm, as Esplora serves it in `scriptpubkey_asm` / `scriptsig_asm`. */
export function esploraAsm(script: Uint8Array): string {
  const tokens = tokenize(script);
  if (!tokens) return "<push past end>";
  return tokens
    .map((t) => {
      if (!t.data) return esploraOpName(t.op);
      const name = t.op <= 0x4b ? `OP_PUSHBYTES_${t.op}` : t.op === 0x4c ? "OP_PUSHDATA1" : t.op === 0x4d ? "OP_PUSHDATA2" : "OP_PUSHDATA4";
      return t.data.length ? `${name} ${toHex(t.data)}` : name;
    })
    .join(" ");
}
