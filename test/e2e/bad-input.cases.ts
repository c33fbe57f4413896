/**
 * The bad-input TABLE of test/e2e/bad-input.test.ts: one row per wrong thing a user (or a broken
 * node) can hand keepctl, with what must come out. The test runs each row through the built binary.
 *
 * Placeholders, filled in per row by the test:
 *   $DIR   the row's own directory (its files are created there)    $DEP  the devnet deployment file
 *   $KEY   the row's own private key (0x + 64 hex), funded on the devnet; $KEYHEX the same without 0x
 *   $EOA   an address with no code on the devnet                    $OP   a seeded operator
 *   $A:Name  the devnet address of contract Name (deployment file's `contracts`)
 *   $URL   the backend's RPC URL, an API key in its path ($APIKEY)
 *
 * Backends: "none" (nothing answers: the error must come before any network), "dead" (a closed
 * loopback port), "devnet" (the real contracts; `--deployment $DEP` is prepended), or a loopback
 * JSON-RPC double (`--rpc-url $URL` is prepended; the mainnet preset applies unless the row names a
 * deployment): "junk", "nodeError", "callError", "wrongChain", "badChainId", "stale", "future",
 * "http500", "http401", and "devnetProxy" (the devnet behind a URL with an API key in it).
 */
export type Backend =
  | "none" | "dead" | "devnet" | "devnetProxy"
  | "junk" | "nodeError" | "callError" | "wrongChain" | "badChainId" | "stale" | "future" | "http500" | "http401";

export interface FileSpec {
  name: string;
  text?: string;
  /** A keystore of the row's $KEY encrypted with this password. */
  keystorePassword?: string;
  /** A keepctl Bitcoin keystore of this mnemonic and password; `tamper` flips a ciphertext digit after writing. */
  btcKeystore?: { mnemonic: string; password: string; network: "mainnet" | "regtest"; tamper?: boolean };
  dir?: boolean;
  mode?: number;
}

/** How stderr carries the failure. */
export type Shape =
  /** `error: <message>` then, optionally, `hint: <hint>`; nothing else. */
  | "error"
  /** commander's usage error: `error: <message>` then `(run with --help for usage)`. */
  | "commander"
  /**
   * `watch` once its loop runs: its log (stdout) has `<time> loop 1 failed: <message>`, and stderr
   * ends the run like the "error" shape.
   */
  | "loop";

export interface Case {
  name: string;
  backend: Backend;
  argv: string[];
  env?: Record<string, string>;
  files?: FileSpec[];
  exit: number;
  /** error.code of the --json error document. */
  code: string;
  /** The error message (matched against the text after `error: `, or after `loop 1 failed: `). */
  error: RegExp;
  /** The hint line's text; undefined: there must be no hint line. Ignored for the loop shape. */
  hint?: RegExp;
  shape?: Shape;
  /** Strings that must appear nowhere in stdout or stderr (placeholders allowed). */
  secrets?: string[];
  /** Skip the --json pass (NDJSON loops, or a shape with no single document). */
  noJson?: boolean;
  /** Runs only when not root (root reads a mode-000 file). */
  needsNonRoot?: boolean;
}

export const APIKEY = "k3yS3cr3tAbCdEf0123456789";
/** A real-looking key pasted where an address goes. */
const PASTED_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const MNEMONIC = "abandon ability able about above absent absorb abstract absurd abuse access accident";
const BAD_CHECKSUM = "0x70997970c51812dc3A010C7d01b50e0d17dc79C8";
const GOOD = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const SECP_N = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
const TB1 = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const BC1 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";

const usage = (name: string, argv: string[], error: RegExp, more: Partial<Case> = {}): Case => ({ name, backend: "none", argv, exit: 2, code: "USAGE", error, ...more });
const usageEnv = (name: string, env: Record<string, string>, error: RegExp, more: Partial<Case> = {}): Case => usage(name, ["config"], error, { env, ...more });
const cfgErr = (name: string, argv: string[], error: RegExp, more: Partial<Case> = {}): Case => ({ name, backend: "none", argv, exit: 3, code: "CONFIG", error, ...more });
const fromFile = (json: unknown): FileSpec[] => [{ name: "c.json", text: JSON.stringify(json) }];
const cmdr = { shape: "commander" as const };
const keyEnv = { KEEPCTL_PRIVATE_KEY: "$KEY" };
const emp = (bot: "emp-liquidate" | "emp-dispute", ...more: string[]) => [bot, "--once", "--dry-run", ...more];

const WHOLE = /must be a whole number|expected a whole number/;
const TIME_HINT = /^give unix seconds \(1700000000\) or ISO 8601 with a zone \(2021-06-01T00:00:00Z, 2021-06-01T02:00:00\+02:00\)$/;
const DECIMAL = /expected a decimal number|must be a decimal number/;
const RANGE = /must be between/;
const BADURL = /invalid URL \(must start with http:\/\/ or https:\/\/\)/;
/** --rpc-url also takes WebSocket URLs. */
const BADRPCURL = /invalid URL \(must start with http:\/\/, https:\/\/, ws:\/\/ or wss:\/\/\)/;
const NOT_DEPOSIT = /^--deposit 0x[0-9a-fA-F]{40} is not a tBTC deposit: (there is no contract at that address|the TBTCDepositToken has no token for it)$/;
const DEPOSIT_HINT = /pass the address of a Deposit contract/;
const WRONG_DEP_HINT = /check contracts\.\w+ in the deployment file|KEEPCTL_CONTRACTS|must come from the same deployment/;
const NODE_HINT = /endpoint is failing/;

// ---- addresses --------------------------------------------------------------------------------
const addresses: Case[] = [
  usage("--operator 0x80", ["list-keeps", "--operator", "0x80"], /^invalid address "0x80" \(from --operator\)$/),
  usage("--operator with a wrong checksum", ["list-keeps", "--operator", BAD_CHECKSUM], /^invalid address "0x70997970c51812dc3A010C7d01b50e0d17dc79C8" \(from --operator\)$/),
  usage("--operator empty", ["list-keeps", "--operator", ""], /empty/),
  usage("--operator 39 hex digits", ["check", "--operator", GOOD.slice(0, -1)], /^invalid address "0x70997970C51812dc3A010C7d01b50e0d17dc79C" \(from --operator\)$/),
  usage("--operator 41 hex digits", ["check", "--operator", GOOD + "0"], /^invalid address ".*" \(from --operator\)$/),
  usage("--operator not hex", ["check", "--operator", "0x" + "zz".repeat(20)], /^invalid address "0xzz/),
  usage("--operator list with an empty item", ["list-keeps", "--operator", `${GOOD},,${GOOD}`], /empty/),
  usage("--operator a private key pasted", ["list-keeps", "--operator", PASTED_KEY], /^invalid address "\*\*\*" \(from --operator\)$/, { secrets: [PASTED_KEY, PASTED_KEY.slice(2)] }),
  usage("--operator a mnemonic pasted", ["check", "--operator", MNEMONIC], /^invalid address "\*\*\*" \(from --operator\)$/, { secrets: [MNEMONIC, "absurd abuse"] }),
  usage("watch --operator 0x80", ["watch", "--once", "--operator", "0x80"], /invalid address "0x80" \(from --operator\)/),
  usage("redeem --operator wrong checksum", ["redeem", "--dry-run", "--operator", BAD_CHECKSUM], /invalid address "0x70997970c51812dc3A010C7d01b50e0d17dc79C8" \(from --operator\)/),
  usage("config --operator an ENS name", ["config", "--operator", "vitalik.eth"], /invalid address "vitalik\.eth" \(from --operator\)/),
  usageEnv("KEEPCTL_OPERATORS 0x80", { KEEPCTL_OPERATORS: "0x80" }, /invalid address "0x80" \(from KEEPCTL_OPERATORS\)/),
  usageEnv("KEEPCTL_OPERATORS empty item", { KEEPCTL_OPERATORS: `${GOOD},,${GOOD}` }, /empty item/),
  usageEnv("KEEPCTL_OPERATORS wrong checksum", { KEEPCTL_OPERATORS: BAD_CHECKSUM }, /invalid address .* \(from KEEPCTL_OPERATORS\)/),
  usageEnv("OPERATORS (seed name) garbage", { OPERATORS: "alice" }, /invalid address "alice" \(from OPERATORS\)/),
  usageEnv("KEEPCTL_OPERATORS a private key", { KEEPCTL_OPERATORS: PASTED_KEY.slice(2) }, /invalid address "\*\*\*" \(from KEEPCTL_OPERATORS\)/, { secrets: [PASTED_KEY.slice(2)] }),
  usageEnv("KEEPCTL_OPERATORS empty", { KEEPCTL_OPERATORS: "" }, /empty value \(from KEEPCTL_OPERATORS\)/),
  usage("--emp 0x80", ["emp-liquidate", "--once", "--emp", "0x80"], /invalid address "0x80" \(from --emp\)/),
  usage("--emp wrong checksum", emp("emp-dispute", "--emp", BAD_CHECKSUM), /invalid address .* \(from --emp\)/),
  usage("--emp empty", emp("emp-liquidate", "--emp", ""), /empty value \(from --emp\)/),
  usageEnv("KEEPCTL_EMP_ADDRESS garbage", { KEEPCTL_EMP_ADDRESS: "emp" }, /invalid address "emp" \(from KEEPCTL_EMP_ADDRESS\)/),
  usageEnv("EMP_ADDRESS (seed name) short", { EMP_ADDRESS: "0x1234" }, /invalid address "0x1234" \(from EMP_ADDRESS\)/),
  usage("--rate-setter 0x80", ["rai-price", "--rate-setter", "0x80"], /invalid address "0x80" \(from --rate-setter\)/),
  usage("emp --rate-setter wrong checksum", emp("emp-liquidate", "--rate-setter", BAD_CHECKSUM), /invalid address .* \(from --rate-setter\)/),
  usageEnv("KEEPCTL_RATE_SETTER garbage", { KEEPCTL_RATE_SETTER: "0xnope" }, /invalid address "0xnope" \(from KEEPCTL_RATE_SETTER\)/),
  { ...usage("--deposit 0x80", ["redeem", "--dry-run", "--deposit", "0x80"], /^--deposit: invalid address "0x80"$/), backend: "dead" },
  { ...usage("--deposit empty item", ["redeem", "--dry-run", "--deposit", `${GOOD},`], /^--deposit: empty value$/, { hint: /give --deposit a value/ }), backend: "dead" },
  { ...usage("--deposit wrong checksum", ["redeem", "--yes", "--deposit", BAD_CHECKSUM], /^--deposit: invalid address/), backend: "dead", env: keyEnv },
  usageEnv("KEEPCTL_CONTRACTS bad address", { KEEPCTL_CONTRACTS: "TBTCSystem=0x80" }, /invalid address "0x80" for contract TBTCSystem \(from KEEPCTL_CONTRACTS\)/),
  usageEnv("KEEPCTL_CONTRACTS garbage", { KEEPCTL_CONTRACTS: "TBTCSystem" }, /contracts: expected Name=0x\.\.\., got "TBTCSystem"/),
  usageEnv("KEEPCTL_CONTRACTS broken JSON", { KEEPCTL_CONTRACTS: '{"TBTCSystem": ' }, /contracts: not valid JSON/),
  usageEnv("KEEPCTL_CONTRACTS wrong checksum", { KEEPCTL_CONTRACTS: `VendingMachine=${BAD_CHECKSUM}` }, /invalid address .* for contract VendingMachine/),
  usageEnv("KEEPCTL_CONTRACTS empty", { KEEPCTL_CONTRACTS: "" }, /empty value \(from KEEPCTL_CONTRACTS\)/),
  usageEnv("KEEPCTL_CONTRACTS JSON array", { KEEPCTL_CONTRACTS: '{"TBTCSystem": [1]}' }, /invalid address .* for contract TBTCSystem/),
  cfgErr("config file: contracts with a bad address", ["--config", "$DIR/c.json", "config"], /invalid address "0x12" for contract TBTCToken \(from config file key "contracts"\)/, { files: fromFile({ contracts: { TBTCToken: "0x12" } }) }),
  cfgErr("config file: operators not addresses", ["--config", "$DIR/c.json", "config"], /invalid address "1" \(from config file key "operators"\)/, { files: fromFile({ operators: [1, 2] }) }),
  cfgErr("config file: empAddress an object", ["--config", "$DIR/c.json", "config"], /expected a single value, got object \(from config file key "empAddress"\)/, { files: fromFile({ empAddress: { a: 1 } }) }),
];

// ---- contracts at wrong addresses, a start block past the head (the devnet) --------------------
const dev = (name: string, argv: string[], env: Record<string, string>, exit: number, code: string, error: RegExp, more: Partial<Case> = {}): Case =>
  ({ name, backend: "devnet", argv, env, exit, code, error, ...more });
const NO_CONTRACT = (what: string) => new RegExp(`^no contract at ${what} address 0x[0-9a-fA-F]{40}$`);
const NOT_A = (what: string) => new RegExp(`^${what} address 0x[0-9a-fA-F]{40} is not an? ${what} contract: .*`);
const DISAGREE = (what: string) => new RegExp(`^configured addresses disagree: DepositFactory 0x[0-9a-fA-F]{40} names 0x[0-9a-fA-F]{40} as its ${what}`);
const START = /^start block 9000000 is past the chain head \d+: a scan from there finds nothing$/;
const START_HINT = /fix KEEPCTL_START_BLOCK/;
const BTC = { KEEPCTL_BTC_ADDRESS: TB1 };
const wrong: Case[] = [
  dev("check: TBTCSystem is an account", ["check", "--operator", "$OP"], { KEEPCTL_CONTRACTS: "TBTCSystem=$EOA" }, 3, "NO_CONTRACT", NO_CONTRACT("TBTCSystem"), { hint: WRONG_DEP_HINT }),
  dev("list-keeps: TBTCSystem is the TBTCToken", ["list-keeps", "--operator", "$OP"], { KEEPCTL_CONTRACTS: "TBTCSystem=$A:TBTCToken" }, 3, "WRONG_CONTRACT", NOT_A("TBTCSystem"), { hint: WRONG_DEP_HINT }),
  dev("check: TBTCSystem is the VendingMachine", ["check", "--operator", "$OP"], { KEEPCTL_CONTRACTS: "TBTCSystem=$A:VendingMachine" }, 3, "WRONG_CONTRACT", NOT_A("TBTCSystem"), { hint: WRONG_DEP_HINT }),
  dev("check: keep factory is an account", ["check", "--operator", "$OP"], { KEEPCTL_CONTRACTS: "BondedECDSAKeepFactory=$EOA" }, 3, "NO_CONTRACT", NO_CONTRACT("BondedECDSAKeepFactory"), { hint: WRONG_DEP_HINT }),
  dev("list-keeps: keep factory is the TBTCToken", ["list-keeps", "--operator", "$OP"], { KEEPCTL_CONTRACTS: "BondedECDSAKeepFactory=$A:TBTCToken" }, 3, "WRONG_CONTRACT", NOT_A("BondedECDSAKeepFactory"), { hint: WRONG_DEP_HINT }),
  dev("check: VendingMachine is an account", ["check", "--operator", "$OP"], { KEEPCTL_CONTRACTS: "VendingMachine=$EOA" }, 3, "WRONG_CONTRACT", DISAGREE("VendingMachine"), { hint: WRONG_DEP_HINT }),
  dev("redeem --dry-run: VendingMachine is the TBTCToken", ["redeem", "--dry-run", "--operator", "$OP"], { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: "VendingMachine=$A:TBTCToken" }, 3, "WRONG_CONTRACT", /VendingMachine/, { hint: WRONG_DEP_HINT }),
  dev("redeem --yes: TBTCToken is an account", ["redeem", "--yes", "--operator", "$OP"], { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: "TBTCToken=$EOA" }, 3, "WRONG_CONTRACT", /TBTCToken/, { hint: WRONG_DEP_HINT }),
  dev("redeem --dry-run: TBTCToken is the TBTCSystem", ["redeem", "--dry-run", "--operator", "$OP"], { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: "TBTCToken=$A:TBTCSystem" }, 3, "WRONG_CONTRACT", DISAGREE("TBTCToken"), { hint: WRONG_DEP_HINT }),
  dev("check: DepositFactory is an account", ["check", "--operator", "$OP"], { KEEPCTL_CONTRACTS: "DepositFactory=$EOA" }, 3, "NO_CONTRACT", NO_CONTRACT("DepositFactory"), { hint: WRONG_DEP_HINT }),
  dev("check: DepositFactory is the TBTCToken", ["check", "--operator", "$OP"], { KEEPCTL_CONTRACTS: "DepositFactory=$A:TBTCToken" }, 3, "WRONG_CONTRACT", /^configured addresses disagree: DepositFactory 0x[0-9a-fA-F]{40} /, { hint: WRONG_DEP_HINT }),
  dev("watch --once: TBTCSystem is an account", ["watch", "--once", "--operator", "$OP", "--no-redeem"], { KEEPCTL_CONTRACTS: "TBTCSystem=$EOA" }, 3, "NO_CONTRACT", NO_CONTRACT("TBTCSystem"), { shape: "loop", noJson: true, hint: WRONG_DEP_HINT }),
  dev("watch --once with a key: keep factory is the TBTCToken", ["watch", "--once", "--operator", "$OP"], { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: "BondedECDSAKeepFactory=$A:TBTCToken" }, 3, "WRONG_CONTRACT", NOT_A("BondedECDSAKeepFactory"), { shape: "loop", noJson: true, hint: WRONG_DEP_HINT }),
  dev("emp-liquidate: --emp is an account", emp("emp-liquidate", "--price", "1", "--emp", "$EOA"), keyEnv, 3, "NO_CONTRACT", NO_CONTRACT("EMP"), { hint: /check --emp/ }),
  dev("emp-liquidate: --emp is the TBTCToken", emp("emp-liquidate", "--price", "1", "--emp", "$A:TBTCToken"), keyEnv, 3, "WRONG_CONTRACT", /^EMP address 0x[0-9a-fA-F]{40} is not an EMP contract: /, { hint: /check --emp/ }),
  dev("emp-dispute: --emp is the EMP's collateral token", emp("emp-dispute", "--price", "1", "--emp", "$A:EmpCollateralToken"), keyEnv, 3, "WRONG_CONTRACT", /^EMP address 0x[0-9a-fA-F]{40} is not an EMP contract: /, { hint: /check --emp/ }),
  dev("emp-liquidate: --emp is 0x0", emp("emp-liquidate", "--price", "1", "--emp", "0x0000000000000000000000000000000000000000"), keyEnv, 3, "NO_CONTRACT", NO_CONTRACT("EMP"), { hint: /check --emp/ }),
  dev("emp-dispute: KEEPCTL_EMP_ADDRESS is the synthetic token", emp("emp-dispute", "--price", "1"), { ...keyEnv, KEEPCTL_EMP_ADDRESS: "$A:EmpSyntheticToken" }, 3, "WRONG_CONTRACT", /^EMP address 0x[0-9a-fA-F]{40} is not an EMP contract: /, { hint: /check --emp/ }),
  dev("emp-liquidate: --rate-setter is the TBTCToken", emp("emp-liquidate", "--rate-setter", "$A:TBTCToken"), keyEnv, 3, "WRONG_CONTRACT", NOT_A("RateSetter"), { hint: /check --rate-setter/ }),
  dev("emp-liquidate: --rate-setter is an account", emp("emp-liquidate", "--rate-setter", "$EOA"), keyEnv, 3, "NO_CONTRACT", NO_CONTRACT("RateSetter"), { hint: /check --rate-setter/ }),
  dev("rai-price: --rate-setter is an account", ["rai-price", "--source", "events", "--rate-setter", "$EOA"], {}, 3, "NO_CONTRACT", NO_CONTRACT("RateSetter"), { hint: /check --rate-setter/ }),
  dev("rai-price: --rate-setter is the TBTCToken", ["rai-price", "--rate-setter", "$A:TBTCToken"], {}, 3, "WRONG_CONTRACT", NOT_A("RateSetter"), { hint: /check --rate-setter/ }),
  dev("rai-price: --rate-setter is the EMP", ["rai-price", "--source", "events", "--rate-setter", "$A:ExpiringMultiParty"], {}, 3, "WRONG_CONTRACT", NOT_A("RateSetter"), { hint: /check --rate-setter/ }),
  dev("rai-price: KEEPCTL_RATE_SETTER is 0x0", ["rai-price"], { KEEPCTL_RATE_SETTER: "0x0000000000000000000000000000000000000000" }, 3, "NO_CONTRACT", NO_CONTRACT("RateSetter"), { hint: /check --rate-setter/ }),
  dev("list-keeps: start block past the head", ["list-keeps", "--operator", "$OP"], { KEEPCTL_START_BLOCK: "9000000" }, 3, "START_BLOCK", START, { hint: START_HINT }),
  dev("check: start block past the head (MINBLOCK)", ["check", "--operator", "$OP"], { MINBLOCK: "9000000" }, 3, "START_BLOCK", START, { hint: START_HINT }),
  dev("watch --once: start block past the head", ["watch", "--once", "--operator", "$OP", "--no-redeem"], { KEEPCTL_START_BLOCK: "9000000" }, 3, "START_BLOCK", START, { shape: "loop", noJson: true, hint: START_HINT }),
  dev("redeem --yes: start block past the head", ["redeem", "--yes", "--operator", "$OP"], { ...keyEnv, ...BTC, KEEPCTL_START_BLOCK: "9000000" }, 3, "START_BLOCK", START, { hint: START_HINT }),
  dev("rai-price --source events: start block past the head", ["rai-price", "--source", "events"], { KEEPCTL_START_BLOCK: "9000000" }, 3, "START_BLOCK", START, { hint: START_HINT }),
  dev("redeem --dry-run: --deposit an account", ["redeem", "--dry-run", "--deposit", "$EOA"], { ...keyEnv, ...BTC }, 2, "USAGE", NOT_DEPOSIT, { hint: DEPOSIT_HINT }),
  dev("redeem --yes: --deposit 0x0", ["redeem", "--yes", "--deposit", "0x0000000000000000000000000000000000000000"], { ...keyEnv, ...BTC }, 2, "USAGE", NOT_DEPOSIT, { hint: DEPOSIT_HINT }),
  dev("redeem --yes: --deposit the TBTCToken", ["redeem", "--yes", "--deposit", "$A:TBTCToken"], { ...keyEnv, ...BTC }, 2, "USAGE", NOT_DEPOSIT, { hint: DEPOSIT_HINT }),
  dev("redeem --dry-run: --deposit the TBTCSystem", ["redeem", "--dry-run", "--deposit", "$A:TBTCSystem"], { ...keyEnv, ...BTC }, 2, "USAGE", NOT_DEPOSIT, { hint: DEPOSIT_HINT }),
  dev("redeem --yes: --deposit a keep (not its deposit)", ["redeem", "--yes", "--deposit", "$A:BondedECDSAKeepFactory"], { ...keyEnv, ...BTC }, 2, "USAGE", NOT_DEPOSIT, { hint: DEPOSIT_HINT }),
  // the Uniswap V2 buy path: NoPairRouter is a real Router02 whose factory lists no TBTC/WETH pair (bad-input.test.ts)
  dev("buy-tbtc: no router configured", ["buy-tbtc", "--amount", "0.1", "--dry-run"], keyEnv, 3, "CONFIG", /^no address for contract UniswapV2Router02 on network \w+$/, { hint: /KEEPCTL_CONTRACTS="UniswapV2Router02=0x\.\.\."/ }),
  dev("buy-tbtc: no TBTC/WETH pool", ["buy-tbtc", "--amount", "0.1", "--dry-run"], { ...keyEnv, KEEPCTL_CONTRACTS: "UniswapV2Router02=$A:x-NoPairRouter" }, 3, "NO_POOL", /^no Uniswap V2 pool for TBTC 0x[0-9a-fA-F]{40} and WETH 0x[0-9a-fA-F]{40}: the factory 0x[0-9a-fA-F]{40} of router 0x[0-9a-fA-F]{40} has no such pair$/, { hint: /point contracts\.UniswapV2Router02 at the router of the exchange that lists the TBTC\/WETH pair/ }),
  dev("redeem --buy-shortfall --yes: no TBTC/WETH pool", ["redeem", "--yes", "--buy-shortfall", "--operator", "$OP"], { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: "UniswapV2Router02=$A:x-NoPairRouter" }, 3, "NO_POOL", /^no Uniswap V2 pool for TBTC /, { hint: /point contracts\.UniswapV2Router02/ }),
  dev("watch --buy-shortfall: no TBTC/WETH pool", ["watch", "--once", "--buy-shortfall", "--operator", "$OP"], { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: "UniswapV2Router02=$A:x-NoPairRouter" }, 3, "NO_POOL", /^no Uniswap V2 pool for TBTC /, { hint: /point contracts\.UniswapV2Router02/, noJson: true }),
  dev("buy-tbtc: the router is an account", ["buy-tbtc", "--amount", "0.1", "--yes"], { ...keyEnv, KEEPCTL_CONTRACTS: "UniswapV2Router02=$EOA" }, 3, "NO_CONTRACT", NO_CONTRACT("UniswapV2Router02"), { hint: /it must be a Uniswap V2 Router02/ }),
  dev("buy-tbtc: the router is the TBTCToken", ["buy-tbtc", "--amount", "0.1", "--yes"], { ...keyEnv, KEEPCTL_CONTRACTS: "UniswapV2Router02=$A:TBTCToken" }, 3, "WRONG_CONTRACT", NOT_A("UniswapV2Router02"), { hint: /it must be a Uniswap V2 Router02/ }),
  dev("redeem --buy-shortfall --dry-run: the router is the TBTCSystem", ["redeem", "--dry-run", "--buy-shortfall", "--operator", "$OP"], { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: "UniswapV2Router02=$A:TBTCSystem" }, 3, "WRONG_CONTRACT", NOT_A("UniswapV2Router02"), { hint: /it must be a Uniswap V2 Router02/ }),
  dev("buy-tbtc: the router is the factory", ["buy-tbtc", "--amount", "0.1", "--dry-run"], { ...keyEnv, KEEPCTL_CONTRACTS: "UniswapV2Router02=$A:x-NoPairFactory" }, 3, "WRONG_CONTRACT", NOT_A("UniswapV2Router02"), { hint: /it must be a Uniswap V2 Router02/ }),
  { ...dev("config file names a keep factory that is an account", ["--config", "$DIR/c.json", "check", "--operator", "$OP"], {}, 3, "NO_CONTRACT", NO_CONTRACT("BondedECDSAKeepFactory"), { hint: WRONG_DEP_HINT }), files: fromFile({ contracts: { BondedECDSAKeepFactory: "0x00000000000000000000000000000000000a11ce" } }) },
];

// ---- numbers ------------------------------------------------------------------------------------
const nums: Case[] = [
  usage("--threshold 0x80", ["check", "--threshold", "0x80"], DECIMAL),
  usage("--threshold 1e3", ["check", "--threshold", "1e3"], DECIMAL),
  usage("--threshold -1", ["check", "--threshold=-1"], DECIMAL),
  usage("--threshold empty", ["check", "--threshold", ""], /empty value/),
  usage("--threshold huge", ["check", "--threshold", "1" + "0".repeat(30)], RANGE),
  usage("--threshold 99 (below 100)", ["watch", "--once", "--threshold", "99"], RANGE),
  usage("config --threshold 12abc", ["config", "--threshold", "12abc"], DECIMAL),
  usage("--redeem-below 0x80", ["redeem", "--dry-run", "--redeem-below", "0x80"], DECIMAL),
  usage("--redeem-below 1001", ["watch", "--once", "--redeem-below", "1001"], RANGE),
  usage("--fee-sats 1999", ["redeem", "--dry-run", "--fee-sats", "1999"], RANGE),
  usage("--fee-sats 2500.5", ["redeem", "--dry-run", "--fee-sats", "2500.5"], WHOLE),
  usage("--fee-sats 1e4", ["watch", "--once", "--fee-sats", "1e4"], WHOLE),
  usage("buy-tbtc --max-price abc", ["buy-tbtc", "--amount", "0.1", "--dry-run", "--max-price", "abc"], DECIMAL),
  usage("redeem --buy-shortfall --max-price 5%", ["redeem", "--dry-run", "--buy-shortfall", "--max-price", "5%"], DECIMAL),
  usage("watch --max-price -1", ["watch", "--once", "--buy-shortfall", "--max-price=-1"], DECIMAL),
  usageEnv("KEEPCTL_BUY_MAX_PRICE cheap", { KEEPCTL_BUY_MAX_PRICE: "cheap" }, DECIMAL),
  usage("buy-tbtc --max-slippage 51", ["buy-tbtc", "--amount", "0.1", "--dry-run", "--max-slippage", "51"], RANGE),
  usage("buy-tbtc --max-eth-per-day 1e3", ["buy-tbtc", "--amount", "0.1", "--dry-run", "--max-eth-per-day", "1e3"], /expected a decimal number with at most 18 places, got "1e3"/),
  usageEnv("KEEPCTL_BUY_SHORTFALL maybe", { KEEPCTL_BUY_SHORTFALL: "maybe" }, /^expected true or false, got "maybe" \(from KEEPCTL_BUY_SHORTFALL\)$/),
  usageEnv("KEEPCTL_PREAPPROVE maybe", { KEEPCTL_PREAPPROVE: "maybe" }, /^expected true or false, got "maybe" \(from KEEPCTL_PREAPPROVE\)$/),
  usage("buy-tbtc --amount 1e3", ["buy-tbtc", "--amount", "1e3", "--dry-run"], /^--amount must be a TBTC amount with at most 18 decimals, got "1e3"$/, { hint: /e\.g\. --amount 0\.25/ }),
  usage("buy-tbtc --amount 0", ["buy-tbtc", "--amount", "0", "--dry-run"], /^--amount must be more than 0$/),
  usage("buy-tbtc --amount with 19 decimals", ["buy-tbtc", "--amount", "0." + "1".repeat(19), "--dry-run"], /^--amount must be a TBTC amount with at most 18 decimals/, { hint: /e\.g\. --amount 0\.25/ }),
  usage("buy-tbtc --amount -1", ["buy-tbtc", "--amount=-1", "--dry-run"], /^--amount must be a TBTC amount/, { hint: /e\.g\. --amount 0\.25/ }),
  usage("buy-tbtc without --amount", ["buy-tbtc", "--dry-run"], /required option '--amount <tbtc>' not specified/, cmdr),
  usage("buy-tbtc off a terminal without --yes", ["buy-tbtc", "--amount", "0.1"], /^keepctl buy-tbtc sends a transaction and needs --yes when not run on a terminal$/, { hint: /add --yes, or --dry-run/ }),
  usage("watch --interval 0", ["watch", "--once", "--interval", "0"], RANGE),
  usage("watch --interval 1.5", ["watch", "--interval", "1.5"], WHOLE),
  usage("emp --interval -1", ["emp-liquidate", "--interval=-1"], WHOLE),
  usage("emp --interval 86401", ["emp-dispute", "--interval", "86401"], RANGE),
  usage("watch --max-failed-passes -1", ["watch", "--max-failed-passes=-1"], WHOLE),
  usage("emp --max-failed-passes 1e3", ["emp-liquidate", "--once", "--max-failed-passes", "1e3"], WHOLE),
  usage("--max-fee-gwei 0", ["redeem", "--dry-run", "--max-fee-gwei", "0"], RANGE),
  usage("--max-fee-gwei 1e3", ["emp-liquidate", "--once", "--max-fee-gwei", "1e3"], DECIMAL),
  usage("--max-fee-gwei abc", ["watch", "--once", "--max-fee-gwei", "abc"], DECIMAL),
  usage("--window 0", ["rai-price", "--window", "0"], /--window must be between 1 and/),
  usage("--window 1.5", ["rai-price", "--window", "1.5"], /--window must be a whole number, got "1\.5"/),
  usage("--window 0x10", ["rai-price", "--window", "0x10"], /--window must be a whole number/),
  usage("--at yesterday", ["rai-price", "--at", "yesterday"], /^--at: "yesterday" is not a time$/, { hint: TIME_HINT }),
  usage("--at -5", ["rai-price", "--at=-5"], /^--at: "-5" is not a time$/, { hint: TIME_HINT }),
  usage("--at 1e9", ["rai-price", "--at", "1e9"], /^--at: "1e9" is not a time$/, { hint: TIME_HINT }),
  usage("devnet --port 0", ["devnet", "--port", "0"], /--port must be between 1 and 65535, got 0/),
  usage("devnet --port 70000", ["devnet", "--port", "70000"], /--port must be between 1 and 65535/),
  usage("devnet --port abc", ["devnet", "--port", "abc"], /--port must be a whole number/),
  usage("--dispute-delay 1.5", ["emp-dispute", "--once", "--dispute-delay", "1.5"], WHOLE),
  usage("--lookback 1e3", ["emp-dispute", "--once", "--lookback", "1e3"], WHOLE),
  usage("--retries 21", ["emp-liquidate", "--once", "--retries", "21"], RANGE),
  usage("--liquidation-deadline 0", ["emp-liquidate", "--once", "--liquidation-deadline", "0"], RANGE),
  usage("--max-tokens 1e3", ["emp-liquidate", "--once", "--max-tokens", "1e3"], /at most 18 places/),
  usage("--max-tokens 19 decimals", ["emp-liquidate", "--once", "--max-tokens", "1.1234567890123456789"], /at most 18 places/),
  usage("--defense-activation-percent 101", ["emp-liquidate", "--once", "--defense-activation-percent", "101"], RANGE),
  usage("--cr-threshold 1", ["emp-liquidate", "--once", "--cr-threshold", "1"], /must be at least 0 and below 1/),
  usage("--cr-threshold -0.1", ["emp-dispute", "--once", "--cr-threshold=-0.1"], /at most 18 places/),
  usage("--price abc", ["emp-liquidate", "--once", "--price", "abc"], /at most 18 places/),
  usage("--price 0x1", ["emp-dispute", "--once", "--price", "0x1"], /at most 18 places/),
  usageEnv("KEEPCTL_CHAIN_ID 0x1", { KEEPCTL_CHAIN_ID: "0x1" }, WHOLE),
  usageEnv("KEEPCTL_CHAIN_ID huge", { KEEPCTL_CHAIN_ID: "99999999999999999999" }, RANGE),
  usageEnv("KEEPCTL_RPC_TIMEOUT_MS 1e3", { KEEPCTL_RPC_TIMEOUT_MS: "1e3" }, WHOLE),
  usageEnv("KEEPCTL_RPC_RETRIES 0", { KEEPCTL_RPC_RETRIES: "0" }, RANGE),
  usageEnv("KEEPCTL_BATCH_MAX_COUNT 1001", { KEEPCTL_BATCH_MAX_COUNT: "1001" }, RANGE),
  usageEnv("KEEPCTL_LOG_CHUNK_SIZE 0", { KEEPCTL_LOG_CHUNK_SIZE: "0" }, RANGE),
  usageEnv("KEEPCTL_MAX_HEAD_AGE -1", { KEEPCTL_MAX_HEAD_AGE: "-1" }, WHOLE),
  usageEnv("KEEPCTL_START_BLOCK 1.5", { KEEPCTL_START_BLOCK: "1.5" }, WHOLE),
  usageEnv("MINBLOCK abc", { MINBLOCK: "abc" }, WHOLE),
  usageEnv("KEEPCTL_WARN_THRESHOLD 99", { KEEPCTL_WARN_THRESHOLD: "99" }, RANGE),
  usageEnv("COLLATERALISATION_THRESHOLD 1e3", { COLLATERALISATION_THRESHOLD: "1e3" }, DECIMAL),
  usageEnv("KEEPCTL_REDEEM_BELOW 0x80", { KEEPCTL_REDEEM_BELOW: "0x80" }, DECIMAL),
  usageEnv("KEEPCTL_REDEMPTION_FEE_SATS 1999", { KEEPCTL_REDEMPTION_FEE_SATS: "1999" }, RANGE),
  usageEnv("KEEPCTL_RAI_TWAP_LENGTH 0", { KEEPCTL_RAI_TWAP_LENGTH: "0" }, RANGE),
  usageEnv("KEEPCTL_RAI_LOOKBACK -1", { KEEPCTL_RAI_LOOKBACK: "-1" }, WHOLE),
  usageEnv("KEEPCTL_RAI_UPDATE_RATE_DELAY 1.5", { KEEPCTL_RAI_UPDATE_RATE_DELAY: "1.5" }, WHOLE),
  usageEnv("KEEPCTL_SUBGRAPH_TIMEOUT_MS 99", { KEEPCTL_SUBGRAPH_TIMEOUT_MS: "99" }, RANGE),
  usageEnv("KEEPCTL_MAX_FEE_GWEI 0", { KEEPCTL_MAX_FEE_GWEI: "0" }, RANGE),
  usageEnv("KEEPCTL_RECEIPT_TIMEOUT 86401", { KEEPCTL_RECEIPT_TIMEOUT: "86401" }, RANGE),
  usageEnv("KEEPCTL_TX_POLL_MS 9", { KEEPCTL_TX_POLL_MS: "9" }, RANGE),
  usageEnv("KEEPCTL_REBROADCAST_MS leading space", { KEEPCTL_REBROADCAST_MS: " 100" }, WHOLE),
  usageEnv("KEEPCTL_REPLACE_AFTER +1", { KEEPCTL_REPLACE_AFTER: "+1" }, WHOLE),
  usageEnv("KEEPCTL_REPLACEMENT_PCT 0.5", { KEEPCTL_REPLACEMENT_PCT: "0.5" }, RANGE),
  usageEnv("KEEPCTL_INTERVAL 0", { KEEPCTL_INTERVAL: "0" }, RANGE),
  usageEnv("KEEPCTL_INTERVAL empty", { KEEPCTL_INTERVAL: "" }, /empty value \(from KEEPCTL_INTERVAL\)/),
  usageEnv("KEEPCTL_MAX_FAILED_PASSES 1e3", { KEEPCTL_MAX_FAILED_PASSES: "1e3" }, WHOLE),
  usageEnv("KEEPCTL_MIN_ETH -1", { KEEPCTL_MIN_ETH: "-1" }, /at most 18 places/),
  usageEnv("KEEPCTL_MIN_ETH 19 decimals", { KEEPCTL_MIN_ETH: "0.1234567890123456789" }, /at most 18 places/),
  usageEnv("KEEPCTL_MAX_BLOCK_AGE 0", { KEEPCTL_MAX_BLOCK_AGE: "0" }, RANGE),
  usageEnv("KEEPCTL_CR_THRESHOLD 1", { KEEPCTL_CR_THRESHOLD: "1" }, /must be at least 0 and below 1/),
  usageEnv("CR_THRESHOLD (seed name) abc", { CR_THRESHOLD: "abc" }, /at most 18 places/),
  usageEnv("KEEPCTL_LIQUIDATION_DEADLINE 0", { KEEPCTL_LIQUIDATION_DEADLINE: "0" }, RANGE),
  usageEnv("KEEPCTL_MAX_TOKENS_TO_LIQUIDATE 1e3", { KEEPCTL_MAX_TOKENS_TO_LIQUIDATE: "1e3" }, /at most 18 places/),
  usageEnv("KEEPCTL_DEFENSE_ACTIVATION_PERCENT 101", { KEEPCTL_DEFENSE_ACTIVATION_PERCENT: "101" }, RANGE),
  usageEnv("KEEPCTL_DISPUTE_DELAY 86401", { KEEPCTL_DISPUTE_DELAY: "86401" }, RANGE),
  usageEnv("KEEPCTL_EMP_LOOKBACK -5", { KEEPCTL_EMP_LOOKBACK: "-5" }, WHOLE),
  usageEnv("KEEPCTL_BOT_RETRIES 21", { KEEPCTL_BOT_RETRIES: "21" }, RANGE),
  usageEnv("KEEPCTL_STRICT_PERMS maybe", { KEEPCTL_STRICT_PERMS: "maybe" }, /expected true or false, got "maybe"/),
  usageEnv("KEEPCTL_RAI_SOURCE graph", { KEEPCTL_RAI_SOURCE: "graph" }, /source must be auto, subgraph, events; got "graph"/),
  usageEnv("KEEPCTL_NETWORK goerli", { KEEPCTL_NETWORK: "goerli" }, /unknown network "goerli"/),
  cfgErr("config file: interval as hex text", ["--config", "$DIR/c.json", "config"], /expected a whole number, got "0x10" \(from config file key "interval"\)/, { files: fromFile({ interval: "0x10" }) }),
  cfgErr("config file: feeSats 2500.5", ["--config", "$DIR/c.json", "config"], /expected a whole number, got "2500\.5"/, { files: fromFile({ feeSats: 2500.5 }) }),
  cfgErr("config file: batchMaxCount -1", ["--config", "$DIR/c.json", "config"], /must be between 1 and 1000, got -1 \(from config file key "batchMaxCount"\)/, { files: fromFile({ batchMaxCount: -1 }) }),
  cfgErr("config file: warnThreshold huge", ["--config", "$DIR/c.json", "config"], RANGE, { files: fromFile({ warnThreshold: 1e30 }) }),
];

// ---- URLs ---------------------------------------------------------------------------------------
const KEYED = (scheme: string) => `${scheme}://rpc.example.com/v3/${APIKEY}`;
const noKey = { secrets: [APIKEY] };
const urls: Case[] = [
  usage("--rpc-url ftp:// with a key", ["--rpc-url", KEYED("ftp"), "config"], BADRPCURL, noKey),
  // A ws:// URL is an endpoint like any other: refused on the wire (exit 4), its key never shown.
  { name: "--rpc-url ws:// with a key, nothing listening", backend: "none", argv: ["--rpc-url", "ws://127.0.0.1:1/v3/" + APIKEY, "check", "--operator", GOOD], exit: 4, code: "RPC_UNREACHABLE", error: /^no RPC endpoint answered: ws:\/\/127\.0\.0\.1:1\/\*\*\* \(ECONNREFUSED\)$/, hint: /check --rpc-url/, ...noKey },
  usage("--rpc-url ws:// only", ["--rpc-url", "ws://", "config"], BADRPCURL),
  usage("--rpc-url wss:// with a space", ["--rpc-url", `wss://rpc.example.com/${APIKEY} x`, "config"], BADRPCURL, noKey),
  usage("--rpc-url empty", ["--rpc-url", "", "config"], /empty value/),
  usage("--rpc-url not a URL", ["--rpc-url", "localhost:8545", "config"], BADRPCURL),
  usage("--rpc-url http:// only", ["--rpc-url", "http://", "config"], BADRPCURL),
  usage("--rpc-url with a space", ["--rpc-url", `http://rpc.example.com/${APIKEY} x`, "check", "--operator", GOOD], BADRPCURL, noKey),
  usageEnv("KEEPCTL_RPC_URLS second one bad", { KEEPCTL_RPC_URLS: `http://127.0.0.1:8545, javascript:alert(1)/${APIKEY}` }, BADRPCURL, noKey),
  usage("--rpc-url and --rpc-url-file both", ["--rpc-url", "http://127.0.0.1:1", "--rpc-url-file", "$DIR/u", "config"], /--rpc-url and --rpc-url-file both given; pass only one/, { files: [{ name: "u", text: "http://127.0.0.1:1\n" }] }),
  cfgErr("--rpc-url-file missing", ["--rpc-url-file", "$DIR/none", "config"], /cannot read --rpc-url-file .*: ENOENT/, { hint: /give a readable file/ }),
  cfgErr("--rpc-url-file a directory", ["--rpc-url-file", "$DIR", "list-keeps", "--operator", GOOD], /cannot read --rpc-url-file .*: EISDIR/, { hint: /give a readable file/ }),
  cfgErr("--rpc-url-file under a file (ENOTDIR)", ["--rpc-url-file", "$DIR/u/x", "config"], /cannot read --rpc-url-file .*: ENOTDIR/, { hint: /give a readable file/, files: [{ name: "u", text: "x" }] }),
  cfgErr("--rpc-url-file unreadable (mode 000)", ["--rpc-url-file", "$DIR/u", "config"], /cannot read --rpc-url-file .*: EACCES/, { hint: /give a readable file/, files: [{ name: "u", text: `http://h/${APIKEY}\n`, mode: 0o000 }], needsNonRoot: true, ...noKey }),
  cfgErr("--rpc-url-file empty", ["--rpc-url-file", "$DIR/u", "check", "--operator", GOOD], /--rpc-url-file .* holds no value/, { hint: /one value per line/, files: [{ name: "u", text: "\n# only a comment\n" }] }),
  usage("--rpc-url-file holding a bad URL", ["--rpc-url-file", "$DIR/u", "config"], BADRPCURL, { files: [{ name: "u", text: `ftp://h/${APIKEY}\n` }], ...noKey }),
  cfgErr("KEEPCTL_RPC_URLS_FILE missing", ["config"], /cannot read KEEPCTL_RPC_URLS_FILE=.*: ENOENT/, { env: { KEEPCTL_RPC_URLS_FILE: "$DIR/none" }, hint: /give a readable file/ }),
  usageEnv("KEEPCTL_RPC_URLS_FILE empty value", { KEEPCTL_RPC_URLS_FILE: "" }, /empty value \(from KEEPCTL_RPC_URLS_FILE\)/),
  usageEnv("KEEPCTL_RPC_URL and KEEPCTL_RPC_URLS_FILE both", { KEEPCTL_RPC_URL: "http://127.0.0.1:1", KEEPCTL_RPC_URLS_FILE: "/nonexistent" }, /KEEPCTL_RPC_URL and KEEPCTL_RPC_URLS_FILE both set; set only one/),
  usage("rai-price --subgraph-url gopher://", ["rai-price", "--subgraph-url", `gopher://api.thegraph.com/${APIKEY}`], BADURL, noKey),
  cfgErr("rai-price --subgraph-url-file missing", ["rai-price", "--subgraph-url-file", "$DIR/none"], /cannot read --subgraph-url-file .*: ENOENT/, { hint: /give a readable file/ }),
  cfgErr("--subgraph-url-file two lines", ["emp-liquidate", "--once", "--subgraph-url-file", "$DIR/u"], /--subgraph-url-file .* holds 2 lines, expected one value/, { hint: /exactly one value/, files: [{ name: "u", text: `https://a/${APIKEY}\nhttps://b/${APIKEY}\n` }], ...noKey }),
  usage("watch --heartbeat-url ftp://", ["watch", "--once", "--heartbeat-url", `ftp://hc-ping.com/${APIKEY}`], BADURL, noKey),
  cfgErr("emp --heartbeat-url-file empty", ["emp-dispute", "--once", "--heartbeat-url-file", "$DIR/u"], /--heartbeat-url-file .* holds no value/, { hint: /one value per line/, files: [{ name: "u", text: "" }] }),
  usageEnv("KEEPCTL_SLACK_WEBHOOK_URL not a URL", { KEEPCTL_SLACK_WEBHOOK_URL: `hooks.slack.com/services/${APIKEY}` }, BADURL, noKey),
  cfgErr("KEEPCTL_WEBHOOK_URL_FILE missing", ["config"], /cannot read KEEPCTL_WEBHOOK_URL_FILE=.*: ENOENT/, { env: { KEEPCTL_WEBHOOK_URL_FILE: "$DIR/none" }, hint: /give a readable file/ }),
  usageEnv("Discord URL and its file both", { KEEPCTL_DISCORD_WEBHOOK_URL: `https://discord.com/api/webhooks/${APIKEY}`, KEEPCTL_DISCORD_WEBHOOK_URL_FILE: "/nonexistent" }, /KEEPCTL_DISCORD_WEBHOOK_URL and KEEPCTL_DISCORD_WEBHOOK_URL_FILE both set/, noKey),
  usageEnv("KEEPCTL_PAGERDUTY_ROUTING_KEY two words", { KEEPCTL_PAGERDUTY_ROUTING_KEY: `${APIKEY} ${APIKEY}` }, /^a PagerDuty routing key is one word of printable characters .*\(from KEEPCTL_PAGERDUTY_ROUTING_KEY\)$/, noKey),
  cfgErr("KEEPCTL_PAGERDUTY_ROUTING_KEY_FILE missing", ["config"], /cannot read KEEPCTL_PAGERDUTY_ROUTING_KEY_FILE=.*: ENOENT/, { env: { KEEPCTL_PAGERDUTY_ROUTING_KEY_FILE: "$DIR/none" }, hint: /give a readable file/ }),
  usageEnv("KEEPCTL_PAGERDUTY_URL bad scheme", { KEEPCTL_PAGERDUTY_URL: "ftp://events.pagerduty.com/v2/enqueue" }, BADURL),
  usageEnv("KEEPCTL_HEARTBEAT_URL with a space", { KEEPCTL_HEARTBEAT_URL: `https://hc-ping.com/${APIKEY} now` }, BADURL, noKey),
  usageEnv("KEEPCTL_SUBGRAPH_URL bad scheme", { KEEPCTL_SUBGRAPH_URL: `file:///etc/${APIKEY}` }, BADURL, noKey),
  cfgErr("config file: rpcUrls with a bad scheme", ["--config", "$DIR/c.json", "config"], BADRPCURL, { files: fromFile({ rpcUrls: [`ftp://h/${APIKEY}`] }), ...noKey }),
  cfgErr("config file: rpcUrls empty text", ["--config", "$DIR/c.json", "config"], /empty value \(from config file key "rpcUrls"\)/, { files: fromFile({ rpcUrls: "" }) }),
  usage("--private-tx-url ftp:// with a key", ["buy-tbtc", "--amount", "0.1", "--dry-run", "--private-tx-url", KEYED("ftp")], BADURL, noKey),
  usageEnv("KEEPCTL_PRIVATE_TX_URL not a URL", { KEEPCTL_PRIVATE_TX_URL: `relay.example.com/${APIKEY}` }, BADURL, noKey),
  cfgErr("--private-tx-url-file missing", ["buy-tbtc", "--amount", "0.1", "--dry-run", "--private-tx-url-file", "$DIR/none"], /cannot read --private-tx-url-file .*: ENOENT/, { hint: /give a readable file/ }),
  cfgErr("no RPC URL at all", ["check", "--operator", GOOD], /^no RPC URL configured$/, { hint: /pass --rpc-url-file FILE or --rpc-url/ }),
];

// ---- files ----------------------------------------------------------------------------------------
const CFG_HINT = /fix the path given by --config/;
const DEP_HINT = /fix --deployment \/ KEEPCTL_DEPLOYMENT/;
const files: Case[] = [
  cfgErr("--config missing", ["--config", "$DIR/none.json", "config"], /cannot read config file .*none\.json: ENOENT/, { hint: CFG_HINT }),
  cfgErr("--config a directory", ["--config", "$DIR", "list-keeps"], /cannot read config file .*: EISDIR/, { hint: CFG_HINT }),
  cfgErr("--config unreadable (mode 000)", ["--config", "$DIR/c.json", "config"], /cannot read config file .*: EACCES/, { hint: CFG_HINT, files: [{ name: "c.json", text: "{}", mode: 0o000 }], needsNonRoot: true }),
  cfgErr("--config not JSON", ["--config", "$DIR/c.json", "check"], /config file .*c\.json is not a valid JSON object: /, { hint: CFG_HINT, files: [{ name: "c.json", text: "nope\nnot json\n" }] }),
  cfgErr("--config a JSON array", ["--config", "$DIR/c.json", "config"], /config file .* is not a valid JSON object: not a JSON object/, { hint: CFG_HINT, files: [{ name: "c.json", text: "[1,2]" }] }),
  cfgErr("--config empty file", ["--config", "$DIR/c.json", "config"], /config file .* is not a valid JSON object/, { hint: CFG_HINT, files: [{ name: "c.json", text: "" }] }),
  usage("--config empty value", ["--config", "", "config"], /^empty value \(from --config\)$/),
  cfgErr("KEEPCTL_CONFIG missing", ["watch", "--once"], /cannot read config file .*: ENOENT/, { hint: CFG_HINT, env: { KEEPCTL_CONFIG: "$DIR/none.json" } }),
  cfgErr("--deployment missing", ["--deployment", "$DIR/none.json", "list-keeps"], /cannot read deployment file .*: ENOENT/, { hint: DEP_HINT }),
  cfgErr("--deployment a directory", ["--deployment", "$DIR", "check"], /cannot read deployment file .*: EISDIR/, { hint: DEP_HINT }),
  cfgErr("--deployment not JSON", ["--deployment", "$DIR/d.json", "config"], /deployment file .* is not a valid JSON object/, { hint: DEP_HINT, files: [{ name: "d.json", text: "chainId: 31337" }] }),
  cfgErr("--deployment chainId not a number", ["--deployment", "$DIR/d.json", "list-keeps"], /expected a whole number, got "abc" \(from deployment file key "chainId"\)/, { files: [{ name: "d.json", text: '{"chainId":"abc"}' }] }),
  cfgErr("--deployment contracts a string", ["--deployment", "$DIR/d.json", "config"], /from deployment file key "contracts"/, { files: [{ name: "d.json", text: '{"chainId":31337,"contracts":"x"}' }] }),
  cfgErr("--deployment a short contract address", ["--deployment", "$DIR/d.json", "check"], /invalid address "0x12" for contract TBTCSystem \(from deployment file key "contracts"\)/, { files: [{ name: "d.json", text: '{"chainId":31337,"contracts":{"TBTCSystem":"0x12"}}' }] }),
  cfgErr("--deployment rpcUrl bad scheme", ["--deployment", "$DIR/d.json", "config"], BADRPCURL, { files: [{ name: "d.json", text: `{"chainId":31337,"rpcUrl":"ftp://h/${APIKEY}"}` }], ...noKey }),
  cfgErr("--deployment without a chain id", ["--deployment", "$DIR/d.json", "config"], /^no chain id known for this network$/, { hint: /set KEEPCTL_CHAIN_ID/, files: [{ name: "d.json", text: '{"contracts":{}}' }] }),
  cfgErr("--deployment deploymentBlock negative", ["--deployment", "$DIR/d.json", "config"], /from deployment file key "deploymentBlock"/, { files: [{ name: "d.json", text: '{"chainId":31337,"deploymentBlock":-1}' }] }),
  usageEnv("KEEPCTL_DEPLOYMENT empty", { KEEPCTL_DEPLOYMENT: "" }, /^empty value \(from KEEPCTL_DEPLOYMENT\)$/),
  cfgErr("config file deployment missing (relative to the file)", ["--config", "$DIR/c.json", "config"], /cannot read deployment file .*gone\.json: ENOENT/, { hint: DEP_HINT, files: fromFile({ deployment: "gone.json" }) }),
  usage(".env: a bad number", ["config"], /expected a whole number, got "abc" \(from KEEPCTL_INTERVAL in \.env\)/, { files: [{ name: ".env", text: "KEEPCTL_INTERVAL=abc\n" }] }),
  cfgErr(".env: an unknown KEEPCTL_ variable", ["config"], /unknown variable in \.env "KEEPCTL_INTERVALL" \(did you mean "KEEPCTL_INTERVAL"\?\)/, { hint: /docs\/configuration\.md/, files: [{ name: ".env", text: "KEEPCTL_INTERVALL=5\n" }] }),
];

// ---- keys and key files ------------------------------------------------------------------------
const KEYHINT = /use 64 hex characters/;
const keyRow = (name: string, key: string, argv: string[], more: Partial<Case> = {}): Case =>
  dev(name, argv, { KEEPCTL_PRIVATE_KEY: key, ...BTC }, 3, "CONFIG", /^KEEPCTL_PRIVATE_KEY is not a (valid|32-byte)/, { hint: KEYHINT, secrets: [key], ...more });
const redeemDry = ["redeem", "--dry-run", "--operator", "$OP"];
const redeemYes = ["redeem", "--yes", "--operator", "$OP"];
const ks = (password: string, mode = 0o600): FileSpec => ({ name: "key.json", keystorePassword: password, mode });
const pw = (text: string, mode = 0o600): FileSpec => ({ name: "pw", text, mode });
const keys: Case[] = [
  keyRow("key too short", "0x1234", redeemDry),
  keyRow("key 63 hex digits", "0x" + "1".repeat(63), redeemYes),
  keyRow("key 66 hex digits", "0x" + "1".repeat(66), emp("emp-liquidate", "--price", "1")),
  keyRow("key not hex", "0x" + "zz".repeat(32), redeemYes),
  keyRow("key all zero", "0x" + "0".repeat(64), redeemYes),
  keyRow("key all zero without 0x", "0".repeat(64), emp("emp-dispute", "--price", "1")),
  keyRow("key equal to secp256k1 n", "0x" + SECP_N, redeemDry),
  keyRow("key above secp256k1 n", "0x" + "f".repeat(64), emp("emp-liquidate", "--price", "1")),
  keyRow("key above n, watch", "0x" + "f".repeat(64), ["watch", "--once", "--operator", "$OP"], { shape: "error" }),
  keyRow("key a mnemonic", MNEMONIC, redeemYes),
  keyRow("key a mnemonic, emp", "test test test test test test test test test test test junk", emp("emp-dispute", "--price", "1")),
  keyRow("key with a quote", `"$KEY"`, redeemYes, { secrets: ["$KEY", "$KEYHEX"] }),
  usage("KEEPCTL_KEYSTORE and KEEPCTL_PRIVATE_KEY both", ["redeem", "--dry-run"], /KEEPCTL_KEYSTORE and KEEPCTL_PRIVATE_KEY both name a signing key; set only one/, { env: { KEEPCTL_KEYSTORE: "$DIR/key.json", KEEPCTL_PRIVATE_KEY: "$KEY" }, hint: /unset KEEPCTL_PRIVATE_KEY/, secrets: ["$KEY", "$KEYHEX"] }),
  usage("both key sources, .env and env", ["emp-liquidate", "--once"], /both name a signing key/, { env: { KEEPCTL_KEYSTORE: "$DIR/key.json" }, files: [{ name: ".env", text: "KEEPCTL_PRIVATE_KEY=$KEY\n" }], hint: /unset KEEPCTL_PRIVATE_KEY/, secrets: ["$KEY", "$KEYHEX"] }),
  cfgErr("config file with privateKey", ["--config", "$DIR/c.json", "redeem", "--dry-run"], /"privateKey" is not allowed in a config file/, { hint: /use a keystore/, files: [{ name: "c.json", text: '{"privateKey":"$KEY"}' }], secrets: ["$KEY", "$KEYHEX"] }),
  dev("keystore missing", [...redeemDry, "--keystore", "$DIR/none.json", "--password-file", "$DIR/pw"], BTC, 3, "CONFIG", /keystore .*none\.json does not exist/, { hint: /pass --keystore/, files: [pw("pw-right")], secrets: ["pw-right"] }),
  dev("keystore a directory", [...redeemYes, "--keystore", "$DIR", "--password-file", "$DIR/pw"], BTC, 3, "CONFIG", /keystore .* cannot be read/, { hint: /pass --keystore/, files: [pw("pw-right")], secrets: ["pw-right"] }),
  dev("keystore not a keystore", [...redeemYes, "--keystore", "$DIR/key.json", "--password-file", "$DIR/pw"], BTC, 3, "CONFIG", /cannot decrypt keystore .*: not a valid encrypted JSON keystore/, { hint: /point --keystore at the right file/, files: [{ name: "key.json", text: '{"hello":"world"}', mode: 0o600 }, pw("pw-right")], secrets: ["pw-right"] }),
  dev("keystore wrong password", [...redeemYes, "--keystore", "$DIR/key.json", "--password-file", "$DIR/pw"], BTC, 3, "CONFIG", /^wrong password for keystore .*key\.json$/, { hint: /check the password file/, files: [ks("pw-right-Xy7"), pw("pw-wrong-Qz9\n")], secrets: ["pw-right-Xy7", "pw-wrong-Qz9", "$KEY", "$KEYHEX"] }),
  dev("keystore wrong password, emp", emp("emp-liquidate", "--price", "1", "--keystore", "$DIR/key.json", "--password-file", "$DIR/pw"), {}, 3, "CONFIG", /^wrong password for keystore/, { hint: /check the password file/, files: [ks("pw-right-Ab1"), pw("pw-wrong-Cd2")], secrets: ["pw-right-Ab1", "pw-wrong-Cd2", "$KEY", "$KEYHEX"] }),
  dev("keystore without a password off a terminal", [...redeemYes, "--keystore", "$DIR/key.json"], BTC, 3, "CONFIG", /the keystore needs a password and there is no terminal/, { hint: /pass --password-file/, files: [ks("pw-right-Ef3")], secrets: ["pw-right-Ef3"] }),
  dev("password file missing", [...redeemYes, "--keystore", "$DIR/key.json", "--password-file", "$DIR/none"], BTC, 3, "CONFIG", /password file .*none cannot be read/, { hint: /check --password-file/, files: [ks("pw-right-Gh4")], secrets: ["pw-right-Gh4"] }),
  dev("keystore world-readable with --strict-perms", [...redeemYes, "--strict-perms", "--keystore", "$DIR/key.json", "--password-file", "$DIR/pw"], BTC, 3, "CONFIG", /^keystore .*key\.json is open to group\/others \(mode 0644\); run chmod 600 on it$/, { hint: /chmod 600 the file/, files: [ks("pw-right-Ij5", 0o644), pw("pw-right-Ij5")], secrets: ["pw-right-Ij5", "$KEY", "$KEYHEX"] }),
  dev("password file world-readable with KEEPCTL_STRICT_PERMS", emp("emp-dispute", "--price", "1", "--keystore", "$DIR/key.json", "--password-file", "$DIR/pw"), { KEEPCTL_STRICT_PERMS: "1" }, 3, "CONFIG", /^password file .*pw is open to group\/others \(mode 0604\)/, { hint: /chmod 600 the file/, files: [ks("pw-right-Kl6"), pw("pw-right-Kl6", 0o604)], secrets: ["pw-right-Kl6", "$KEY", "$KEYHEX"] }),
  dev("keystore group-writable, watch --strict-perms", ["watch", "--once", "--operator", "$OP", "--strict-perms", "--keystore", "$DIR/key.json", "--password-file", "$DIR/pw"], BTC, 3, "CONFIG", /^keystore .* is open to group\/others \(mode 0620\)/, { hint: /chmod 600 the file/, files: [ks("pw-right-Mn7", 0o620), pw("pw-right-Mn7")], secrets: ["pw-right-Mn7"] }),
  dev("no signing key for redeem --yes", redeemYes, BTC, 3, "CONFIG", /^no signing key configured$/, { hint: /pass --keystore/ }),
  dev("no signing key for emp-liquidate", emp("emp-liquidate", "--price", "1"), {}, 3, "CONFIG", /^no signing key configured$/, { hint: /pass --keystore/ }),
];

// ---- unknown names ---------------------------------------------------------------------------------
const UNKNOWN_ENV_HINT = /docs\/configuration\.md lists every KEEPCTL_ variable/;
const UNKNOWN_KEY_HINT = /docs\/configuration\.md lists every key/;
const names: Case[] = [
  cfgErr("KEEPCTL_RPC_URL_FILE (typo)", ["config"], /unknown environment variable "KEEPCTL_RPC_URL_FILE" \(did you mean "KEEPCTL_RPC_URLS_FILE"\?\)/, { env: { KEEPCTL_RPC_URL_FILE: "/x" }, hint: UNKNOWN_ENV_HINT }),
  cfgErr("KEEPCTL_OPERATOR (typo)", ["list-keeps"], /unknown environment variable "KEEPCTL_OPERATOR" \(did you mean "KEEPCTL_OPERATORS"\?\)/, { env: { KEEPCTL_OPERATOR: GOOD }, hint: UNKNOWN_ENV_HINT }),
  cfgErr("KEEPCTL_WARN_TRESHOLD (typo)", ["check"], /did you mean "KEEPCTL_WARN_THRESHOLD"\?/, { env: { KEEPCTL_WARN_TRESHOLD: "140" }, hint: UNKNOWN_ENV_HINT }),
  cfgErr("KEEPCTL_PRIVKEY holding a key", ["redeem", "--dry-run"], /unknown environment variable "KEEPCTL_PRIVKEY"/, { env: { KEEPCTL_PRIVKEY: PASTED_KEY }, hint: UNKNOWN_ENV_HINT, secrets: [PASTED_KEY, PASTED_KEY.slice(2)] }),
  cfgErr("KEEPCTL_ZZZ (no suggestion)", ["rai-price"], /^unknown environment variable "KEEPCTL_ZZZ"$/, { env: { KEEPCTL_ZZZ: "1" }, hint: UNKNOWN_ENV_HINT }),
  cfgErr("KEEPCTL_EMP (typo) for emp-dispute", ["emp-dispute", "--once"], /unknown environment variable "KEEPCTL_EMP"/, { env: { KEEPCTL_EMP: GOOD }, hint: UNKNOWN_ENV_HINT }),
  cfgErr("config key rpcUrl", ["--config", "$DIR/c.json", "config"], /unknown key in config file .*: "rpcUrl" \(did you mean "rpcUrls"\?\)/, { hint: UNKNOWN_KEY_HINT, files: fromFile({ rpcUrl: "http://h" }) }),
  cfgErr("config key operator", ["--config", "$DIR/c.json", "list-keeps"], /"operator" \(did you mean "operators"\?\)/, { hint: UNKNOWN_KEY_HINT, files: fromFile({ operator: GOOD }) }),
  cfgErr("config key startblock (case)", ["--config", "$DIR/c.json", "check"], /"startblock" \(did you mean "startBlock"\?\)/, { hint: UNKNOWN_KEY_HINT, files: fromFile({ startblock: 1 }) }),
  cfgErr("config key foo", ["--config", "$DIR/c.json", "watch", "--once"], /unknown key in config file .*: "foo"$/, { hint: UNKNOWN_KEY_HINT, files: fromFile({ foo: 1 }) }),
  cfgErr("config key private_key holding a key", ["--config", "$DIR/c.json", "redeem", "--dry-run"], /unknown key in config file .*: "private_key"/, { hint: UNKNOWN_KEY_HINT, files: fromFile({ private_key: PASTED_KEY }), secrets: [PASTED_KEY, PASTED_KEY.slice(2)] }),
  usage("unknown option", ["list-keeps", "--operater", GOOD], /^unknown option '--operater'/, { ...cmdr, hint: /^\(Did you mean --operator\?\)$/ }),
  usage("unknown command", ["lsit-keeps"], /^unknown command 'lsit-keeps'/, { ...cmdr, hint: /^\(Did you mean list-keeps\?\)$/ }),
  usage("missing option argument", ["check", "--operator"], /^option '--operator <address>' argument missing$/, cmdr),
  usage("bad --network choice", ["--network", "goerli", "config"], /^option '--network <name>' argument 'goerli' is invalid/, cmdr),
  usage("bad --source choice", ["rai-price", "--source", "graph"], /^option '--source <source>' argument 'graph' is invalid/, cmdr),
  usage("--private-key does not exist", ["redeem", "--private-key", PASTED_KEY], /^unknown option '--private-key'/, { ...cmdr, secrets: [PASTED_KEY, PASTED_KEY.slice(2)] }),
  usage("excess argument", ["check", "extra"], /too many arguments/, cmdr),
];

// ---- BTC addresses ------------------------------------------------------------------------------------
const WRONG_NET = /is a Bitcoin mainnet address but this chain redeems to Bitcoin testnet\/regtest/;
const btc: Case[] = [
  dev("redeem: bech32 mainnet address on the devnet", [...redeemDry, "--btc-address", BC1], keyEnv, 2, "USAGE", WRONG_NET, { hint: /matching Bitcoin network/ }),
  dev("redeem --yes: P2PKH mainnet address on the devnet", [...redeemYes, "--btc-address", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"], keyEnv, 2, "USAGE", WRONG_NET, { hint: /matching Bitcoin network/ }),
  dev("redeem --yes: P2SH mainnet address on the devnet", [...redeemYes, "--btc-address", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"], keyEnv, 2, "USAGE", WRONG_NET, { hint: /matching Bitcoin network/ }),
  dev("redeem: bech32 with a bad checksum", [...redeemYes, "--btc-address", TB1.slice(0, -1) + "y"], keyEnv, 2, "USAGE", /is not valid bech32 \(bad checksum, character or case\)/),
  dev("redeem: base58 with a bad checksum", [...redeemYes, "--btc-address", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfm"], keyEnv, 2, "USAGE", /BTC address "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfm"/),
  dev("redeem: garbage", [...redeemYes, "--btc-address", "garbage!!"], keyEnv, 2, "USAGE", /"garbage!!" does not look like a BTC address \(from --btc-address\)/),
  dev("redeem: mixed-case bech32", [...redeemDry, "--btc-address", "tb1QW508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"], keyEnv, 2, "USAGE", /is not valid bech32/),
  dev("watch --once: bech32 with a bad checksum", ["watch", "--once", "--operator", "$OP", "--btc-address", TB1.slice(0, -1) + "y"], keyEnv, 2, "USAGE", /is not valid bech32/),
  dev("watch --once: mainnet address on the devnet", ["watch", "--once", "--operator", "$OP"], { ...keyEnv, KEEPCTL_BTC_ADDRESS: BC1 }, 2, "USAGE", WRONG_NET, { hint: /matching Bitcoin network/ }),
  dev("redeem: BTC_ADDRESS (seed name) too short", redeemYes, { ...keyEnv, BTC_ADDRESS: "tb1q" }, 2, "USAGE", /"tb1q" does not look like a BTC address \(from BTC_ADDRESS\)/),
  dev("redeem --yes: no BTC address", redeemYes, keyEnv, 3, "CONFIG", /^no BTC address to redeem to$/, { hint: /pass --btc-address/ }),
  { ...usage("redeem on mainnet: a testnet address", [...redeemDry, "--btc-address", TB1], /testnet/, { env: keyEnv }), backend: "dead", hint: /matching Bitcoin network/ },
  // Following a redemption on Bitcoin (redeem --follow, watch, redemptions).
  usage("--btc-confirmations 0", ["redeem", "--dry-run", "--btc-confirmations", "0"], /^must be between 1 and 100, got 0 \(from --btc-confirmations\)$/),
  usage("--btc-confirmations 1.5", ["watch", "--once", "--btc-confirmations", "1.5"], WHOLE),
  usageEnv("KEEPCTL_BTC_CONFIRMATIONS 101", { KEEPCTL_BTC_CONFIRMATIONS: "101" }, /must be between 1 and 100, got 101 \(from KEEPCTL_BTC_CONFIRMATIONS\)/),
  usage("--max-btc-fee-sats 1999 (below the contract's 2 000 sat floor)", ["redemptions", "--max-btc-fee-sats", "1999"], RANGE),
  usageEnv("KEEPCTL_MAX_BTC_FEE_SATS 1e5", { KEEPCTL_MAX_BTC_FEE_SATS: "1e5" }, /^expected a whole number, got "1e5" \(from KEEPCTL_MAX_BTC_FEE_SATS\)$/),
  cfgErr("redeem --yes --follow with no Bitcoin server", ["--rpc-url", "http://127.0.0.1:9", "--deployment", "$DIR/d.json", ...redeemYes.slice(0, 2), "--follow", "--operator", GOOD, "--btc-address", TB1], /^--follow needs a Bitcoin server to broadcast and prove the redemption$/, { env: keyEnv, files: [{ name: "d.json", text: JSON.stringify({ chainId: 31337 }) }], hint: /set --btc-electrum-url or --btc-esplora-url/ }),
  usage("devnet --btc-block-interval 1.5", ["devnet", "--btc-block-interval", "1.5"], /^--btc-block-interval must be a whole number, got "1\.5"$/),
  usage("devnet --btc-esplora-port 0", ["devnet", "--btc-esplora-port", "0"], /^--btc-esplora-port must be between 1 and 65535, got 0$/),
  usage("devnet --btc-electrum-port 70000", ["devnet", "--btc-electrum-port", "70000"], /^--btc-electrum-port must be between 1 and 65535, got 70000$/),
];

// ---- Bitcoin network and servers (lib/btc settings; `keepctl config` resolves them) ----------------
const ELECTRUM_SCHEME = /^unsupported Electrum URL scheme "(https|udp):\/\/" \(accepted: tcp:\/\/, tls:\/\/ \(or ssl:\/\/\), ws:\/\/, wss:\/\/\)/;
const ESPLORA_URL = /^invalid Esplora URL \(must start with http:\/\/ or https:\/\/\)/;
const SEED_HINT = /^or give the whole URL in KEEPCTL_BTC_ELECTRUM_URLS \(e\.g\. tls:\/\/electrum\.example:50002\)$/;
const depFile = (bitcoin: unknown): FileSpec[] => [{ name: "d.json", text: JSON.stringify({ chainId: 31337, bitcoin }) }];
const bitcoin: Case[] = [
  usageEnv("KEEPCTL_BTC_NETWORK unknown", { KEEPCTL_BTC_NETWORK: "testnet3" }, /^Bitcoin network must be mainnet, testnet, testnet4, signet, regtest; got "testnet3" \(from KEEPCTL_BTC_NETWORK\)$/),
  usageEnv("KEEPCTL_BTC_NETWORK empty", { KEEPCTL_BTC_NETWORK: "" }, /^empty value \(from KEEPCTL_BTC_NETWORK\)$/),
  usageEnv("KEEPCTL_BTC_ELECTRUM_URLS https:// with an API key", { KEEPCTL_BTC_ELECTRUM_URLS: `https://electrum.example/${APIKEY}` }, new RegExp(ELECTRUM_SCHEME.source + / \(from KEEPCTL_BTC_ELECTRUM_URLS\)$/.source), { secrets: [APIKEY] }),
  usageEnv("KEEPCTL_BTC_ELECTRUM_URLS tcp:// without a port", { KEEPCTL_BTC_ELECTRUM_URLS: "tcp://electrum.example" }, /^an Electrum tcp:\/\/ URL needs a port \(e\.g\. tcp:\/\/electrum\.example:50001\) \(from KEEPCTL_BTC_ELECTRUM_URLS\)$/),
  usageEnv("KEEPCTL_BTC_ELECTRUM_URLS insecure=1 on tcp://", { KEEPCTL_BTC_ELECTRUM_URLS: "tcp://electrum.example:50001?insecure=1" }, /\?insecure=1 applies to tls:\/\/ and wss:\/\/ only/),
  usageEnv("KEEPCTL_BTC_ELECTRUM_URLS a path on tls://", { KEEPCTL_BTC_ELECTRUM_URLS: `tls://electrum.example:50002/${APIKEY}` }, /is host:port only/, { secrets: [APIKEY] }),
  usageEnv("KEEPCTL_BTC_ELECTRUM_URLS empty item", { KEEPCTL_BTC_ELECTRUM_URLS: "tcp://a.example:1,,tls://b.example:2" }, /empty item/),
  usageEnv("KEEPCTL_BTC_ELECTRUM_URLS and its file both", { KEEPCTL_BTC_ELECTRUM_URLS: "tcp://a.example:1", KEEPCTL_BTC_ELECTRUM_URLS_FILE: "/nonexistent" }, /^KEEPCTL_BTC_ELECTRUM_URLS and KEEPCTL_BTC_ELECTRUM_URLS_FILE both set; set only one$/),
  cfgErr("KEEPCTL_BTC_ELECTRUM_URLS_FILE missing", ["config"], /cannot read KEEPCTL_BTC_ELECTRUM_URLS_FILE=.*: ENOENT/, { env: { KEEPCTL_BTC_ELECTRUM_URLS_FILE: "$DIR/none" }, hint: /give a readable file/ }),
  usage("KEEPCTL_BTC_ELECTRUM_URLS_FILE holds a bad scheme", ["config"], /^unsupported Electrum URL scheme "udp:\/\/" .*\(from KEEPCTL_BTC_ELECTRUM_URLS_FILE=/, { env: { KEEPCTL_BTC_ELECTRUM_URLS_FILE: "$DIR/urls" }, files: [{ name: "urls", text: `tls://ok.example:50002\nudp://electrum.example/${APIKEY}\n` }], secrets: [APIKEY] }),
  usageEnv("KEEPCTL_BTC_ESPLORA_URLS ws:// with an API key", { KEEPCTL_BTC_ESPLORA_URLS: `ws://esplora.example/${APIKEY}` }, new RegExp(ESPLORA_URL.source + / \(from KEEPCTL_BTC_ESPLORA_URLS\)$/.source), { secrets: [APIKEY] }),
  cfgErr("KEEPCTL_BTC_ESPLORA_URLS_FILE missing", ["config"], /cannot read KEEPCTL_BTC_ESPLORA_URLS_FILE=.*: ENOENT/, { env: { KEEPCTL_BTC_ESPLORA_URLS_FILE: "$DIR/none" }, hint: /give a readable file/ }),
  usageEnv("KEEPCTL_BTC_TIMEOUT_MS 1e3", { KEEPCTL_BTC_TIMEOUT_MS: "1e3" }, WHOLE),
  usageEnv("KEEPCTL_BTC_TIMEOUT_MS 50 (below 100)", { KEEPCTL_BTC_TIMEOUT_MS: "50" }, RANGE),
  usageEnv("KEEPCTL_BTC_RETRIES 0", { KEEPCTL_BTC_RETRIES: "0" }, RANGE),
  usageEnv("BTC_ELECTRUM_SERVER (seed name) without a port", { BTC_ELECTRUM_SERVER: "electrum.example" }, /^BTC_ELECTRUM_SERVER needs BTC_ELECTRUM_PORT/, { hint: SEED_HINT }),
  usageEnv("BTC_ELECTRUM_PORT (seed name) not a port", { BTC_ELECTRUM_SERVER: "electrum.example", BTC_ELECTRUM_PORT: "70000" }, /^BTC_ELECTRUM_PORT must be a port number 1\.\.65535, got "70000"$/, { hint: SEED_HINT }),
  usageEnv("BTC_ELECTRUM_PROTOCOL (seed name) http", { BTC_ELECTRUM_SERVER: "electrum.example", BTC_ELECTRUM_PORT: "50002", BTC_ELECTRUM_PROTOCOL: "http" }, /^BTC_ELECTRUM_PROTOCOL must be tcp, ssl, tls, ws or wss; got "http"$/, { hint: SEED_HINT }),
  usageEnv("BTC_ELECTRUM_SERVER (seed name) a URL, not a host", { BTC_ELECTRUM_SERVER: "tls://electrum.example", BTC_ELECTRUM_PORT: "50002" }, /^BTC_ELECTRUM_SERVER must be a host name or IP address/, { hint: SEED_HINT }),
  usageEnv("BTC_ELECTRUM_PORT (seed name) without a server", { BTC_ELECTRUM_PORT: "50002" }, /^BTC_ELECTRUM_PORT is set but BTC_ELECTRUM_SERVER is not$/, { hint: /set BTC_ELECTRUM_SERVER too/ }),
  cfgErr("config file: btcNetwork unknown", ["--config", "$DIR/c.json", "config"], /^Bitcoin network must be .*; got "bitcoin" \(from config file key "btcNetwork"\)$/, { files: fromFile({ btcNetwork: "bitcoin" }) }),
  cfgErr("config file: btcElectrumUrls a bad scheme", ["--config", "$DIR/c.json", "config"], new RegExp(ELECTRUM_SCHEME.source + / \(from config file key "btcElectrumUrls"\)$/.source), { files: fromFile({ btcElectrumUrls: ["udp://electrum.example:1"] }) }),
  cfgErr("config file: btcRetries 2.5", ["--config", "$DIR/c.json", "config"], /expected a whole number, got "2\.5" \(from config file key "btcRetries"\)/, { files: fromFile({ btcRetries: 2.5 }) }),
  cfgErr("--deployment bitcoin.network unknown", ["--deployment", "$DIR/d.json", "config"], /^Bitcoin network must be .*; got "main" \(from deployment file key "bitcoin\.network"\)$/, { files: depFile({ network: "main" }) }),
  cfgErr("--deployment bitcoin.esploraUrls a bad URL", ["--deployment", "$DIR/d.json", "config"], new RegExp(ESPLORA_URL.source + / \(from deployment file key "bitcoin\.esploraUrls"\)$/.source), { files: depFile({ esploraUrls: [`tcp://esplora.example/${APIKEY}`] }), secrets: [APIKEY] }),
  cfgErr("--deployment bitcoin not an object", ["--deployment", "$DIR/d.json", "config"], /^deployment file .*: "bitcoin" must be an object \(the Bitcoin side: network and servers\)$/, { hint: /^see docs\/configuration\.md#deployment-files$/, files: depFile("regtest") }),
  cfgErr("--deployment bitcoin with an unknown key", ["--deployment", "$DIR/d.json", "config"], /^deployment file .*: unknown key "bitcoin\.electrumUrl" \(did you mean "bitcoin\.electrumUrls"\?\)$/, { hint: /keys of your own must start with "x-"/, files: depFile({ electrumUrl: ["tcp://h:1"] }) }),
  cfgErr("KEEPCTL_BTC_ELECTRUM_URL (typo)", ["config"], /unknown environment variable "KEEPCTL_BTC_ELECTRUM_URL" \(did you mean "KEEPCTL_BTC_ELECTRUM_URLS"\?\)/, { env: { KEEPCTL_BTC_ELECTRUM_URL: "tcp://h:1" }, hint: /docs\/configuration\.md lists every KEEPCTL_ variable/ }),
];

// ---- RPC doubles and a dead endpoint ---------------------------------------------------------------
const rpc = (name: string, backend: Backend, argv: string[], exit: number, code: string, error: RegExp, more: Partial<Case> = {}): Case =>
  ({ name, backend, argv, exit, code, error, secrets: [APIKEY], ...more });
const OP_ARGS = ["--operator", GOOD];
const JUNK = /^the RPC node returned "block NaN" for the latest block\.number, which is not valid$/;
const HDR = /^the RPC node answered eth_getBlockByNumber with an error: header not found \(code -32000\)$/;
const TRIE = /^the RPC node answered eth_call with an error: missing trie node 1234 \(code -32000\)$/;
const STALE = /^the RPC node's latest block 20000000 is \d+ s old \(.*; limit 600 s\): the node is stuck or not synced \(the RPC server's clock agrees with this machine's\)$/;
const STALE_HINT = /^point --rpc-url at a synced node, or raise KEEPCTL_MAX_HEAD_AGE/;
const CHAIN = /^RPC endpoint serves chain 5, expected chain (1|31337)$/;
const CHAIN_HINT = /point --rpc-url at the right network/;
const UNREACH = /^no RPC endpoint answered: http:\/\/127\.0\.0\.1:\d+\/\*\*\*/;
const bot = (b: string) => [b, "--once", "--dry-run", "--price", "1", "--emp", GOOD];
const doubles: Case[] = [
  rpc("list-keeps: junk head", "junk", ["list-keeps", ...OP_ARGS], 4, "BAD_RESPONSE", JUNK, { hint: /malformed data/ }),
  rpc("check: junk head", "junk", ["check", ...OP_ARGS], 4, "BAD_RESPONSE", JUNK, { hint: /malformed data/ }),
  rpc("watch --once: junk head", "junk", ["watch", "--once", ...OP_ARGS], 4, "BAD_RESPONSE", JUNK, { shape: "loop", noJson: true, hint: /malformed data/ }),
  rpc("redeem --dry-run: junk head", "junk", ["redeem", "--dry-run", ...OP_ARGS, "--btc-address", BC1], 4, "BAD_RESPONSE", JUNK, { env: keyEnv, hint: /malformed data/ }),
  rpc("rai-price: junk head", "junk", ["rai-price", "--source", "events"], 4, "BAD_RESPONSE", JUNK, { hint: /malformed data/ }),
  rpc("emp-liquidate: junk head", "junk", bot("emp-liquidate"), 4, "BAD_RESPONSE", JUNK, { env: keyEnv, hint: /malformed data/ }),
  rpc("list-keeps: node error", "nodeError", ["list-keeps", ...OP_ARGS], 4, "NODE_ERROR", HDR, { hint: NODE_HINT }),
  rpc("check: node error", "nodeError", ["check", ...OP_ARGS], 4, "NODE_ERROR", HDR, { hint: NODE_HINT }),
  rpc("redeem --yes: node error", "nodeError", ["redeem", "--yes", ...OP_ARGS, "--btc-address", BC1], 4, "NODE_ERROR", HDR, { env: keyEnv, hint: NODE_HINT }),
  rpc("emp-dispute: node error", "nodeError", bot("emp-dispute"), 4, "NODE_ERROR", HDR, { env: keyEnv, hint: NODE_HINT }),
  rpc("rai-price: node error", "nodeError", ["rai-price", "--source", "events"], 4, "NODE_ERROR", HDR, { hint: NODE_HINT }),
  rpc("watch --once: node error", "nodeError", ["watch", "--once", ...OP_ARGS], 4, "NODE_ERROR", HDR, { shape: "loop", noJson: true, hint: NODE_HINT }),
  rpc("check: eth_call fails at the node", "callError", ["check", ...OP_ARGS], 4, "NODE_ERROR", TRIE, { hint: NODE_HINT }),
  rpc("list-keeps: eth_call fails at the node", "callError", ["list-keeps", ...OP_ARGS], 4, "NODE_ERROR", TRIE, { hint: NODE_HINT }),
  rpc("emp-liquidate: eth_call fails at the node", "callError", bot("emp-liquidate"), 4, "NODE_ERROR", TRIE, { env: keyEnv, hint: NODE_HINT }),
  rpc("rai-price: eth_call fails at the node", "callError", ["rai-price", "--source", "events"], 4, "NODE_ERROR", TRIE, { hint: NODE_HINT }),
  rpc("check: wrong chain", "wrongChain", ["check", ...OP_ARGS], 4, "CHAIN_MISMATCH", CHAIN, { hint: CHAIN_HINT }),
  rpc("redeem --yes: wrong chain", "wrongChain", ["redeem", "--yes", ...OP_ARGS, "--btc-address", BC1], 4, "CHAIN_MISMATCH", CHAIN, { env: keyEnv, hint: CHAIN_HINT }),
  rpc("emp-liquidate: wrong chain", "wrongChain", bot("emp-liquidate"), 4, "CHAIN_MISMATCH", CHAIN, { env: keyEnv, hint: CHAIN_HINT }),
  rpc("config --check-rpc: wrong chain", "wrongChain", ["config", "--check-rpc"], 4, "CHAIN_MISMATCH", CHAIN, { hint: CHAIN_HINT }),
  rpc("devnet deployment, mainnet node", "wrongChain", ["--deployment", "$DEP", "list-keeps", "--operator", "$OP"], 4, "CHAIN_MISMATCH", CHAIN, { hint: CHAIN_HINT }),
  rpc("list-keeps: chain id not a number", "badChainId", ["list-keeps", ...OP_ARGS], 4, "BAD_RESPONSE", /^the RPC node returned "banana" for eth_chainId, which is not valid$/, { hint: /malformed data/ }),
  rpc("check: stale head", "stale", ["check", ...OP_ARGS], 4, "STALE_HEAD", STALE, { hint: STALE_HINT }),
  rpc("redeem --yes: stale head", "stale", ["redeem", "--yes", ...OP_ARGS, "--btc-address", BC1], 4, "STALE_HEAD", STALE, { env: keyEnv, hint: STALE_HINT }),
  rpc("emp-dispute: stale head", "stale", bot("emp-dispute"), 4, "STALE_HEAD", STALE, { env: keyEnv, hint: STALE_HINT }),
  rpc("watch --once: stale head", "stale", ["watch", "--once", ...OP_ARGS], 4, "STALE_HEAD", STALE, { shape: "loop", noJson: true, hint: STALE_HINT }),
  rpc("check: head from the future", "future", ["check", ...OP_ARGS], 4, "BAD_RESPONSE", /^the RPC node's latest block 20000000 is dated .* s in the future: the endpoint answers junk \(the RPC server's clock agrees with this machine's\)$/, { hint: /^check this machine's clock/ }),
  rpc("list-keeps: HTTP 500", "http500", ["list-keeps", ...OP_ARGS], 4, "RPC_UNREACHABLE", UNREACH, { hint: /check --rpc-url/ }),
  rpc("emp-liquidate: HTTP 500", "http500", bot("emp-liquidate"), 4, "RPC_UNREACHABLE", UNREACH, { env: keyEnv, hint: /check --rpc-url/ }),
  rpc("check: HTTP 401", "http401", ["check", ...OP_ARGS], 4, "RPC_UNREACHABLE", UNREACH, { hint: /check --rpc-url/ }),
  rpc("redeem --yes: HTTP 401", "http401", ["redeem", "--yes", ...OP_ARGS, "--btc-address", BC1], 4, "RPC_UNREACHABLE", UNREACH, { env: keyEnv, hint: /check --rpc-url/ }),
  rpc("config --check-rpc: HTTP 401", "http401", ["config", "--check-rpc"], 4, "RPC_UNREACHABLE", UNREACH, { hint: /check --rpc-url/ }),
  rpc("rai-price: refused", "dead", ["rai-price", "--source", "events"], 4, "RPC_UNREACHABLE", UNREACH, { hint: /check --rpc-url/ }),
  rpc("watch --once: refused", "dead", ["watch", "--once", ...OP_ARGS], 4, "RPC_UNREACHABLE", UNREACH, { hint: /check --rpc-url/ }),
  rpc("devnet via a keyed URL: TBTCSystem is an account", "devnetProxy", ["--deployment", "$DEP", "check", "--operator", "$OP"], 3, "NO_CONTRACT", NO_CONTRACT("TBTCSystem"), { env: { KEEPCTL_CONTRACTS: "TBTCSystem=$EOA" }, hint: WRONG_DEP_HINT }),
  rpc("devnet via a keyed URL: wrong key password", "devnetProxy", ["--deployment", "$DEP", ...redeemYes, "--keystore", "$DIR/key.json", "--password-file", "$DIR/pw"], 3, "CONFIG", /^wrong password for keystore/, { env: BTC, hint: /check the password file/, files: [ks("pw-right-Op8"), pw("pw-wrong-Qr9")], secrets: [APIKEY, "pw-right-Op8", "pw-wrong-Qr9", "$KEY", "$KEYHEX"] }),
];

// ---- no silent guess: duplicates, unknown names, the deployment schema and cap, explicit times ------
const TWICE = (a: string, b: string) => new RegExp(`^contract "TBTCSystem"${a === b ? "" : ` and "${b}"`} given twice: 0x[0-9a-fA-F]{40} and 0x[0-9a-fA-F]{40}; give each name once \\(from KEEPCTL_CONTRACTS\\)$`);
const DEP_SCHEMA_HINT = /keys of your own must start with "x-"/;
const TWICE_HINT = /^give each key once: JSON keeps only the last, silently$/;
const depText = (text: string): FileSpec[] => [{ name: "d.json", text }];
const watchKeyed = ["watch", "--once", "--operator", "$OP"];
const strict: Case[] = [
  // With a key set and a chain that answers: refused before anything is sent (the nonce is counted).
  dev("KEEPCTL_CONTRACTS the same name twice (watch, key set)", watchKeyed, { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: "TBTCSystem=$A:TBTCToken,TBTCSystem=$A:TBTCSystem" }, 2, "USAGE", TWICE("TBTCSystem", "TBTCSystem"), { shape: "error" }),
  dev("KEEPCTL_CONTRACTS twice, the other order (redeem --yes, key set)", ["redeem", "--yes", "--operator", "$OP"], { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: "TBTCSystem=$A:TBTCSystem,TBTCSystem=$A:TBTCToken" }, 2, "USAGE", TWICE("TBTCSystem", "TBTCSystem")),
  dev("KEEPCTL_CONTRACTS twice in another case", watchKeyed, { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: "TBTCSystem=$A:TBTCSystem,tbtcsystem=$A:TBTCToken" }, 2, "USAGE", TWICE("TBTCSystem", "tbtcsystem")),
  dev("KEEPCTL_CONTRACTS JSON with a duplicate key", watchKeyed, { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: '{"TBTCSystem": "$A:TBTCToken", "TBTCSystem": "$A:TBTCSystem"}' }, 2, "USAGE", TWICE("TBTCSystem", "TBTCSystem")),
  dev("KEEPCTL_CONTRACTS a misspelt name", watchKeyed, { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: "TBTCSytem=$A:TBTCSystem" }, 2, "USAGE", /^unknown contract name "TBTCSytem" \(did you mean "TBTCSystem"\?\); names of your own must start with "x-" \(from KEEPCTL_CONTRACTS\)$/),
  dev("KEEPCTL_CONTRACTS a name in another case", watchKeyed, { ...keyEnv, ...BTC, KEEPCTL_CONTRACTS: "tbtcsystem=$A:TBTCSystem" }, 2, "USAGE", /^unknown contract name "tbtcsystem" \(did you mean "TBTCSystem"\?\)/),
  usageEnv("KEEPCTL_CONTRACTS an unknown name", { KEEPCTL_CONTRACTS: `Vault=${GOOD}` }, /^unknown contract name "Vault"; names of your own must start with "x-" \(from KEEPCTL_CONTRACTS\)$/),
  cfgErr("deployment file: an unknown key", ["--deployment", "$DIR/d.json", "config"], /^deployment file .*d\.json: unknown key "deploymentBlok" \(did you mean "deploymentBlock"\?\)$/, { hint: DEP_SCHEMA_HINT, files: depText('{"chainId":31337,"deploymentBlok":5}') }),
  cfgErr("deployment file: an unknown key in bitcoin", ["--deployment", "$DIR/d.json", "config"], /^deployment file .*: unknown key "bitcoin\.esploraUrl" \(did you mean "bitcoin\.esploraUrls"\?\)$/, { hint: DEP_SCHEMA_HINT, files: depText('{"chainId":31337,"bitcoin":{"esploraUrl":"https://e"}}') }),
  { ...cfgErr("deployment file: a contract name twice (key set)", ["--deployment", "$DIR/d.json", ...watchKeyed], /^deployment file .*d\.json: key "contracts\.TBTCSystem" given twice: 0x[0-9a-fA-F]{40} and 0x[0-9a-fA-F]{40}$/, { env: { ...keyEnv, ...BTC }, hint: TWICE_HINT, files: depText('{"chainId":31337,"rpcUrl":"http://127.0.0.1:1","contracts":{"TBTCSystem":"$A:TBTCToken","TBTCSystem":"$A:TBTCSystem"}}') }), code: "DUPLICATE_KEY" },
  { ...cfgErr("deployment file: a key twice", ["--deployment", "$DIR/d.json", "config"], /^deployment file .*: key "chainId" given twice$/, { hint: TWICE_HINT, files: depText('{"chainId":1,"chainId":31337}') }), code: "DUPLICATE_KEY" },
  cfgErr("deployment file: a misspelt contract name", ["--deployment", "$DIR/d.json", "config"], /^unknown contract name "VendingMachne" \(did you mean "VendingMachine"\?\).*\(from deployment file key "contracts"\)$/, { files: depText(`{"chainId":31337,"contracts":{"VendingMachne":"${GOOD}"}}`) }),
  { ...cfgErr("deployment file over 1 MiB", ["--deployment", "$DIR/d.json", "check", "--operator", GOOD], /^deployment file .*d\.json is \d+ bytes, over the 1 MiB cap: not a deployment file$/, { hint: DEP_HINT, files: depText(`{"chainId":31337,"x-pad":"${"x".repeat(1024 * 1024)}"}`) }), code: "FILE_TOO_BIG" },
  { ...cfgErr("config file over 1 MiB", ["--config", "$DIR/c.json", "config"], /^config file .*c\.json is \d+ bytes, over the 1 MiB cap: not a config file$/, { hint: CFG_HINT, files: [{ name: "c.json", text: `{"network":"mainnet"${" ".repeat(1024 * 1024)}}` }] }), code: "FILE_TOO_BIG" },
  { ...cfgErr("config file: a key twice", ["--config", "$DIR/c.json", "config"], /^config file .*: key "interval" given twice$/, { hint: TWICE_HINT, files: [{ name: "c.json", text: '{"interval":5,"interval":600}' }] }), code: "DUPLICATE_KEY" },
  usage("--at without a zone", ["rai-price", "--at", "2027-02-09T15:00:00"], /^--at: "2027-02-09T15:00:00" is a time without a zone \(it would be read in this machine's local time\)$/, { hint: TIME_HINT }),
  usage("--at an impossible date", ["rai-price", "--at", "2026-02-29T00:00:00Z"], /^--at: "2026-02-29T00:00:00Z" is an impossible date \(2026-02 has no day 29\)$/, { hint: TIME_HINT }),
  usage("--at a bare date", ["rai-price", "--at", "2021-06-01"], /^--at: "2021-06-01" is a date without a time and zone$/, { hint: TIME_HINT }),
  usage("--at an impossible zone", ["rai-price", "--at", "2021-06-01T00:00:00+15:00"], /is an impossible zone \(\+15:00\)$/, { hint: TIME_HINT }),
  usage("--confirmations not a number", ["watch", "--once", "--operator", GOOD, "--confirmations", "finalized"], /^expected a whole number, got "finalized"; or "auto" \(from --confirmations\)$/),
  usageEnv("KEEPCTL_CONFIRMATIONS too deep", { KEEPCTL_CONFIRMATIONS: "20000" }, /must be between 0 and 10000, got 20000.*\(from KEEPCTL_CONFIRMATIONS\)$/),
  usageEnv("KEEPCTL_MAX_LAG negative", { KEEPCTL_MAX_LAG: "-3" }, /expected a whole number, got "-3" \(from KEEPCTL_MAX_LAG\)/),
  usage("--max-lag 1e3", ["--max-lag", "1e3", "config"], /expected a whole number, got "1e3" \(from --max-lag\)/),
  usage("--operators-file with a bad line", ["check", "--operators-file", "$DIR/ops.txt"], /^invalid address "0x80" \(from --operators-file .*ops\.txt\)$/, { files: [{ name: "ops.txt", text: `# ops\n${GOOD}\n0x80\n` }] }),
  usage("--operators-file and --operator", ["check", "--operators-file", "$DIR/ops.txt", "--operator", GOOD], /^--operator and --operators-file both given; pass only one$/, { files: [{ name: "ops.txt", text: `${GOOD}\n` }] }),
  usageEnv("KEEPCTL_OPERATORS and KEEPCTL_OPERATORS_FILE", { KEEPCTL_OPERATORS: GOOD, KEEPCTL_OPERATORS_FILE: "$DIR/ops.txt" }, /^KEEPCTL_OPERATORS and KEEPCTL_OPERATORS_FILE both set; set only one$/, { files: [{ name: "ops.txt", text: `${GOOD}\n` }] }),
  cfgErr("--operators-file missing", ["list-keeps", "--operators-file", "$DIR/none.txt"], /^cannot read --operators-file .*none\.txt: ENOENT$/, { hint: /give a readable file/ }),
  cfgErr("KEEPCTL_OPERATORS_FILE only comments", ["check"], /^KEEPCTL_OPERATORS_FILE=.*ops\.txt holds no value$/, { env: { KEEPCTL_OPERATORS_FILE: "$DIR/ops.txt" }, hint: /one value per line/, files: [{ name: "ops.txt", text: "# nobody yet\n\n" }] }),
  usage("devnet --subgraph-port 0", ["devnet", "--subgraph-port", "0"], /--subgraph-port must be between 1 and 65535, got 0/),
  usage("devnet --subgraph-port abc", ["devnet", "--subgraph-port", "abc"], /--subgraph-port must be a whole number/),
];

// ---- the operator's Bitcoin wallet (keepctl btc-wallet) ------------------------------------------
const ABANDON = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const ZPUB = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs";
const VPUB = "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc";
const MAIN_DESCRIPTOR = "wpkh([73c5da0a/84h/0h/0h]xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V/<0;1>/*)#qf45pmyh";
const TPRV = "tprv8ZgxMBicQKsPd7Uf69XL1XwhmjHopUGep8GuEiJDZmbQz6o58LninorQAfcKZWARbtRtfnLcJ5MQ2AtHcQJCCRUcMRvmDUjyEmNUWwx8UbK";
const BTC_PW = "btc-pw-Xy7-right";
const btcKs = (more: Partial<NonNullable<FileSpec["btcKeystore"]>> = {}): FileSpec => ({ name: "btc.json", btcKeystore: { mnemonic: ABANDON, password: BTC_PW, network: "mainnet", ...more }, mode: 0o600 });
const btcPw = (text: string, mode = 0o600): FileSpec => ({ name: "btcpw", text, mode });
const words = (text: string): FileSpec => ({ name: "m.txt", text, mode: 0o600 });
const BTC_FILES = ["--btc-keystore", "$DIR/btc.json", "--btc-password-file", "$DIR/btcpw"];
const MISMATCH_TO_TEST = /^give the tpub\/vpub of m\/84'\/1'\/0' for a test network, or run against mainnet$/;
const btcWallet: Case[] = [
  { ...cfgErr("btc-wallet: a testnet vpub on mainnet", ["btc-wallet", "address", "--btc-xpub", VPUB], /^--btc-xpub is a test-network key \(vpub\), but the Bitcoin network is mainnet$/), code: "BTC_NETWORK_MISMATCH", hint: /give the xpub\/zpub of m\/84'\/0'\/0' for mainnet/ },
  { ...cfgErr("btc-wallet: a mainnet zpub on the devnet (regtest)", ["btc-wallet", "address", "--btc-xpub", ZPUB], /^--btc-xpub is a mainnet key \(zpub\), but the Bitcoin network is regtest$/), backend: "devnet", code: "BTC_NETWORK_MISMATCH", hint: MISMATCH_TO_TEST },
  { ...cfgErr("btc-wallet: a mainnet descriptor on the devnet", ["btc-wallet", "xpub", "--btc-xpub", MAIN_DESCRIPTOR], /^--btc-xpub is a mainnet key \(xpub\), but the Bitcoin network is regtest$/), backend: "devnet", code: "BTC_NETWORK_MISMATCH", hint: MISMATCH_TO_TEST },
  { ...cfgErr("btc-wallet: KEEPCTL_BTC_XPUB mainnet on the devnet", ["btc-wallet", "address"], /^KEEPCTL_BTC_XPUB is a mainnet key \(zpub\), but the Bitcoin network is regtest$/), backend: "devnet", env: { KEEPCTL_BTC_XPUB: ZPUB }, code: "BTC_NETWORK_MISMATCH", hint: MISMATCH_TO_TEST },
  { ...cfgErr("btc-wallet: a mainnet keystore on the devnet", ["btc-wallet", "address", "--btc-keystore", "$DIR/btc.json"], /^Bitcoin keystore \S+btc\.json is a mainnet key \(xpub\), but the Bitcoin network is regtest$/), backend: "devnet", files: [btcKs()], code: "BTC_NETWORK_MISMATCH", hint: MISMATCH_TO_TEST },
  usage("btc-wallet: a descriptor with a bad checksum", ["btc-wallet", "address", "--btc-xpub", MAIN_DESCRIPTOR.replace(/#.*$/, "#qf45pmyx")], /^the descriptor checksum #qf45pmyx does not match the descriptor \(a character is wrong or missing\) \(from --btc-xpub\)$/),
  usageEnv("KEEPCTL_BTC_XPUB a descriptor with a bad checksum", { KEEPCTL_BTC_XPUB: MAIN_DESCRIPTOR.replace("73c5da0a", "73c5da0b") }, /^the descriptor checksum #qf45pmyh does not match the descriptor .*\(from KEEPCTL_BTC_XPUB\)$/),
  usage("btc-wallet: a taproot descriptor", ["btc-wallet", "xpub", "--btc-xpub", "tr(xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3rAPshWcMLoP2fMFMKHPJ4ZeZXYVUhLv1VMrjPC7PW6V/0/*)"], /^only wpkh\(\.\.\.\) descriptors are supported \(BIP84 native segwit\); this one is taproot \(tr\(\.\.\.\)\) \(from --btc-xpub\)$/),
  usage("btc-wallet: a private key pasted as --btc-xpub", ["btc-wallet", "address", "--btc-xpub", TPRV], /^that is an extended PRIVATE key; a watch-only wallet takes the account's public key \(from --btc-xpub\)$/, { secrets: [TPRV] }),
  usage("btc-wallet: a damaged xpub", ["btc-wallet", "address", "--btc-xpub", ZPUB.slice(0, -2)], /^not an extended public key: its base58 checksum does not match .*\(from --btc-xpub\)$/),
  usage("btc-wallet: both a keystore and an xpub", ["btc-wallet", "address", "--btc-keystore", "$DIR/btc.json", "--btc-xpub", ZPUB], /^both a Bitcoin keystore and a watch-only key \(--btc-xpub\) were given; refusing to guess which wallet is meant$/, { files: [btcKs()], hint: /set only one of --btc-keystore/ }),
  cfgErr("btc-wallet: no wallet configured", ["btc-wallet", "address"], /^no Bitcoin wallet configured$/, { hint: /pass --btc-keystore <file>.*or --btc-xpub/ }),
  { ...cfgErr("btc-wallet: a wrong keystore password", ["btc-wallet", "xpub", "--verify", ...BTC_FILES], /^wrong password for Bitcoin keystore \S+btc\.json$/, { files: [btcKs(), btcPw("btc-pw-Zq2-wrong\n")], hint: /^check the password file/, secrets: [BTC_PW, "btc-pw-Zq2-wrong", ABANDON] }), code: "WRONG_PASSWORD" },
  { ...cfgErr("btc-wallet: a keystore altered after it was written", ["btc-wallet", "xpub", "--verify", ...BTC_FILES], /^Bitcoin keystore \S+btc\.json was altered after it was written: its contents do not authenticate$/, { files: [btcKs({ tamper: true }), btcPw(BTC_PW)], hint: /restore it from a backup/, secrets: [BTC_PW] }), code: "BTC_KEYSTORE_CORRUPT" },
  { ...cfgErr("btc-wallet: an Ethereum keystore as --btc-keystore", ["btc-wallet", "address", "--btc-keystore", "$DIR/key.json"], /^\S+key\.json is not a keepctl Bitcoin keystore \(it looks like an Ethereum keystore\)$/, { files: [ks("eth-pw-Wq3")], hint: /goes to --keystore/ }), code: "BTC_KEYSTORE_INVALID" },
  { ...cfgErr("btc-wallet: a keystore that is not JSON", ["btc-wallet", "xpub", "--btc-keystore", "$DIR/k.txt"], /^\S+k\.txt is not a keepctl Bitcoin keystore \(not JSON\)$/, { files: [{ name: "k.txt", text: "hello", mode: 0o600 }], hint: /btc-wallet create/ }), code: "BTC_KEYSTORE_INVALID" },
  cfgErr("btc-wallet: a missing keystore", ["btc-wallet", "address", "--btc-keystore", "$DIR/none.json"], /^Bitcoin keystore \S+none\.json does not exist$/, { hint: /btc-wallet create/ }),
  cfgErr("btc-wallet: keystore open to others, --strict-perms", ["btc-wallet", "address", "--strict-perms", "--btc-keystore", "$DIR/btc.json"], /^Bitcoin keystore \S+btc\.json is open to group\/others \(mode 0644\); run chmod 600 on it$/, { files: [{ ...btcKs(), mode: 0o644 }], hint: /chmod 600 the file/ }),
  cfgErr("btc-wallet: xpub --verify on a watch-only wallet", ["btc-wallet", "xpub", "--verify", "--btc-xpub", ZPUB], /^the Bitcoin wallet is watch-only: it has no key to sign with$/, { hint: /PSBT/ }),
  { ...usage("btc-wallet import: a word not in the BIP39 list", ["btc-wallet", "import", ...BTC_FILES, "--mnemonic-file", "$DIR/m.txt"], /^word 3 of 12 is not in the BIP39 English word list$/, { files: [btcPw(BTC_PW), words(ABANDON.replace(/^(\w+ \w+) abandon/, "$1 abandonn"))], hint: /check the words against the written copy/, secrets: ["abandonn", BTC_PW] }), code: "BAD_MNEMONIC" },
  { ...usage("btc-wallet import: a mnemonic with a bad checksum", ["btc-wallet", "import", ...BTC_FILES, "--mnemonic-file", "$DIR/m.txt"], /^the mnemonic's checksum does not match: a word is wrong or the words are out of order$/, { files: [btcPw(BTC_PW), words(ABANDON.replace(/about$/, "able"))], hint: /check the words/, secrets: ["abandon abandon abandon abandon", BTC_PW] }), code: "BAD_MNEMONIC" },
  { ...usage("btc-wallet import: 11 words", ["btc-wallet", "import", ...BTC_FILES, "--mnemonic-file", "$DIR/m.txt"], /^a BIP39 mnemonic has 12, 15, 18, 21 or 24 words; this one has 11$/, { files: [btcPw(BTC_PW), words(ABANDON.replace(/ about$/, ""))], hint: /check the words/ }), code: "BAD_MNEMONIC" },
  usage("btc-wallet import: no mnemonic file off a terminal", ["btc-wallet", "import", ...BTC_FILES], /^the mnemonic to import is read from a file or typed on a terminal, and there is no terminal$/, { files: [btcPw(BTC_PW)], hint: /--mnemonic-file/ }),
  usage("btc-wallet import: over an existing keystore", ["btc-wallet", "import", ...BTC_FILES, "--mnemonic-file", "$DIR/m.txt"], /^Bitcoin keystore \S+btc\.json already exists; keepctl never writes over it$/, { files: [btcKs(), btcPw(BTC_PW), words(ABANDON)], hint: /choose another path/ }),
  usage("btc-wallet create: off a terminal without --mnemonic-out", ["btc-wallet", "create", ...BTC_FILES], /^keepctl btc-wallet create shows the new mnemonic only on a terminal, and there is none$/, { files: [btcPw(BTC_PW)], hint: /--mnemonic-out/ }),
  usage("btc-wallet create: no --btc-keystore", ["btc-wallet", "create", "--mnemonic-out", "$DIR/w.txt", "--btc-password-file", "$DIR/btcpw"], /^keepctl btc-wallet create needs the path of the keystore to write$/, { files: [btcPw(BTC_PW)], hint: /--btc-keystore <file>/ }),
  usage("btc-wallet create: a short password", ["btc-wallet", "create", ...BTC_FILES, "--mnemonic-out", "$DIR/w.txt"], /^the keystore password must have at least 8 characters; nothing was written$/, { files: [btcPw("short7!\n")], hint: /long passphrase/ }),
  usage("btc-wallet create: --words 13", ["btc-wallet", "create", "--words", "13", ...BTC_FILES, "--mnemonic-out", "$DIR/w.txt"], /^--words must be 12 or 24, got "13"$/, { files: [btcPw(BTC_PW)] }),
  cfgErr("btc-wallet create: password file unreadable", ["btc-wallet", "create", "--btc-keystore", "$DIR/btc.json", "--btc-password-file", "$DIR/nope", "--mnemonic-out", "$DIR/w.txt"], /^Bitcoin password file \S+nope cannot be read$/, { hint: /--btc-password-file/ }),
  cfgErr("btc-wallet balance: no Bitcoin server configured", ["btc-wallet", "balance", "--btc-xpub", ZPUB], /^no Bitcoin server configured$/, { hint: /the coins are read from Bitcoin servers: set --btc-electrum-url or --btc-esplora-url/ }),
  { name: "btc-wallet utxos: the only Bitcoin server refuses connections", backend: "none", argv: ["btc-wallet", "utxos", "--btc-xpub", ZPUB, "--btc-electrum-url", "tcp://127.0.0.1:1"], exit: 4, code: "BTC_UNREACHABLE", error: /^no Bitcoin server gave the chain tip: tcp:\/\/127\.0\.0\.1:1 \(cannot connect \(ECONNREFUSED\)\)$/, hint: /check the Bitcoin server URLs/ },
  usage("btc-wallet balance: --btc-network unknown", ["btc-wallet", "balance", "--btc-xpub", ZPUB, "--btc-network", "bitcoin"], /^Bitcoin network must be mainnet, testnet, testnet4, signet, regtest; got "bitcoin" \(from --btc-network\)$/),
  { ...cfgErr("btc-wallet address: a mainnet zpub with --btc-network regtest", ["btc-wallet", "address", "--btc-xpub", ZPUB, "--btc-network", "regtest"], /^--btc-xpub is a mainnet key \(zpub\), but the Bitcoin network is regtest$/), code: "BTC_NETWORK_MISMATCH", hint: MISMATCH_TO_TEST },
  usageEnv("KEEPCTL_MAX_BTC_FEE_RATE 0", { KEEPCTL_MAX_BTC_FEE_RATE: "0" }, /^must be between 1 and 100000, got 0 \(from KEEPCTL_MAX_BTC_FEE_RATE\)$/),
  usageEnv("KEEPCTL_MAX_BTC_FEE_RATE not a number", { KEEPCTL_MAX_BTC_FEE_RATE: "10sat" }, /^expected a decimal number, got "10sat" \(from KEEPCTL_MAX_BTC_FEE_RATE\)$/),
];

// ---- the sponsor's side: emp-position, emp-sponsor, emp-guard, emp-launch ---------------------
const AT_MOST_18 = (name: string, got: string) => new RegExp(`^${name} must be a decimal number with at most 18 places, got "${got.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"$`);
const LAUNCH = ["emp-launch", "--preset", "rr-rai"];
const sponsorSide: Case[] = [
  usage("emp-position --sponsor 0x12", ["emp-position", "--sponsor", "0x12"], /^--sponsor: invalid address "0x12"$/),
  usage("emp-position --threshold 1e3", ["emp-position", "--threshold", "1e3"], AT_MOST_18("--threshold", "1e3")),
  usageEnv("KEEPCTL_EMP_THRESHOLD -1", { KEEPCTL_EMP_THRESHOLD: "-1" }, /^expected a decimal number with at most 18 places, got "-1" \(from KEEPCTL_EMP_THRESHOLD\)$/),
  usage("emp-sponsor deposit abc", ["emp-sponsor", "deposit", "abc", "--yes"], AT_MOST_18("collateral", "abc")),
  usage("emp-sponsor create: 19 decimals", ["emp-sponsor", "create", "1.1234567890123456789", "1", "--yes"], AT_MOST_18("collateral", "1.1234567890123456789")),
  usage("emp-sponsor repay 1e3", ["emp-sponsor", "repay", "1e3", "--yes"], AT_MOST_18("tokens", "1e3")),
  usage("emp-sponsor redeem: no --yes off a terminal", ["emp-sponsor", "redeem", "5"], /^keepctl emp-sponsor redeem sends transactions and needs --yes when not run on a terminal$/, { hint: /add --yes, or --dry-run/ }),
  usage("emp-sponsor withdraw: no amount", ["emp-sponsor", "withdraw", "--yes"], /^withdraw needs an amount of collateral \(or --passed\)$/),
  usage("emp-sponsor withdraw 5 --passed", ["emp-sponsor", "withdraw", "5", "--passed", "--yes"], /^--passed takes no amount and no --request/),
  usage("emp-sponsor settle --wait 1.5", ["emp-sponsor", "settle", "--yes", "--wait", "1.5"], /^--wait must be a whole number, got "1\.5"$/),
  usage("emp-sponsor withdraw-liquidation --id x", ["emp-sponsor", "withdraw-liquidation", "--yes", "--id", "x"], /^--id must be a whole number, got "x"$/),
  usage("emp-guard --target abc", ["emp-guard", "--once", "--target", "abc"], AT_MOST_18("--target", "abc")),
  usage("emp-guard --prefer sideways", ["emp-guard", "--once", "--target", "1.5", "--prefer", "sideways"], /^prefer must be deposit, repay; got "sideways" \(from --prefer\)$/),
  usage("emp-guard --margin 1", ["emp-guard", "--once", "--target", "1.5", "--margin", "1"], /^must be at least 0 and below 1, got 1 \(from --margin\)$/),
  usage("emp-guard --alert-runway 0x1", ["emp-guard", "--once", "--target", "1.5", "--alert-runway", "0x1"], /at most 18 places, got "0x1" \(from --alert-runway\)$/),
  usageEnv("KEEPCTL_GUARD_PREFER empty", { KEEPCTL_GUARD_PREFER: "" }, /^empty value \(from KEEPCTL_GUARD_PREFER\)$/),
  usageEnv("KEEPCTL_GUARD_TARGET 1,5", { KEEPCTL_GUARD_TARGET: "1,5" }, /at most 18 places, got "1,5" \(from KEEPCTL_GUARD_TARGET\)$/),
  usage("emp-launch --preset nope", ["emp-launch", "--preset", "nope", "--expiry", "1900000000"], /^option '--preset <name>' argument 'nope' is invalid/, cmdr),
  usage("emp-launch without --preset", ["emp-launch", "--expiry", "1900000000"], /^required option '--preset <name>' not specified$/, cmdr),
  usage("emp-launch --expiry tomorrow", [...LAUNCH, "--expiry", "tomorrow"], /^--expiry must be an ISO time with a zone \(2021-04-30T22:00:00Z\) or unix seconds, got "tomorrow"$/),
  usage("emp-launch --expiry without a zone", [...LAUNCH, "--expiry", "2030-01-01T00:00:00"], /^--expiry must be an ISO time with a zone/),
  usage("emp-launch --collateral 0x1", [...LAUNCH, "--expiry", "1900000000", "--collateral", "0x1"], /^--collateral: invalid address "0x1"$/),
  usage("emp-launch --creator x", [...LAUNCH, "--expiry", "1900000000", "--yes", "--creator", "x"], /^invalid address "x" \(from --creator\)$/),
  usage("emp-sponsor create: tokens 1.5e2", ["emp-sponsor", "create", "200", "1.5e2", "--yes"], AT_MOST_18("tokens", "1.5e2")),
  usage("emp-sponsor create: no tokens", ["emp-sponsor", "create", "200", "--yes"], /^missing required argument 'tokens'$/, cmdr),
  usage("emp-sponsor redeem half", ["emp-sponsor", "redeem", "half", "--yes"], AT_MOST_18("tokens", "half")),
  usage("emp-sponsor withdraw --request 1,5", ["emp-sponsor", "withdraw", "1,5", "--request", "--yes"], AT_MOST_18("collateral", "1,5")),
  usage("emp-sponsor withdraw --passed --request", ["emp-sponsor", "withdraw", "--passed", "--request", "--yes"], /^--passed takes no amount and no --request: it withdraws the amount of the passed request$/),
  usage("emp-sponsor settle --wait beyond a week", ["emp-sponsor", "settle", "--yes", "--wait", "604801"], /^--wait must be between 0 and 604800, got 604801$/),
  usage("emp-sponsor deposit --emp 0x80", ["emp-sponsor", "deposit", "1", "--yes", "--emp", "0x80"], /^invalid address "0x80" \(from --emp\)$/),
  usage("emp-position --cr-threshold 1", ["emp-position", "--sponsor", GOOD, "--cr-threshold", "1"], /^must be at least 0 and below 1, got 1 \(from --cr-threshold\)$/),
  usage("emp-guard --target empty", ["emp-guard", "--once", "--target", ""], AT_MOST_18("--target", "")),
  usageEnv("KEEPCTL_GUARD_MARGIN 1.5", { KEEPCTL_GUARD_MARGIN: "1.5" }, /^must be at least 0 and below 1, got 1\.5 \(from KEEPCTL_GUARD_MARGIN\)$/),
  usageEnv("KEEPCTL_GUARD_ALERT_RUNWAY abc", { KEEPCTL_GUARD_ALERT_RUNWAY: "abc" }, /at most 18 places, got "abc" \(from KEEPCTL_GUARD_ALERT_RUNWAY\)$/),
  usage("emp-launch --expiry on 30 February", [...LAUNCH, "--expiry", "2030-02-30T22:00:00Z"], /^--expiry must be an ISO time with a zone \(2021-04-30T22:00:00Z\) or unix seconds, got "2030-02-30T22:00:00Z": there is no 2030-02-30$/),
  usage("emp-launch --finder x", [...LAUNCH, "--expiry", "1900000000", "--yes", "--finder", "x"], /^invalid address "x" \(from --finder\)$/),
  usageEnv("KEEPCTL_EMP_CREATOR garbage", { KEEPCTL_EMP_CREATOR: "creator" }, /^invalid address "creator" \(from KEEPCTL_EMP_CREATOR\)$/),
  usageEnv("KEEPCTL_UMA_FINDER garbage", { KEEPCTL_UMA_FINDER: "finder" }, /^invalid address "finder" \(from KEEPCTL_UMA_FINDER\)$/),
  dev("emp-sponsor deposit: no position", ["emp-sponsor", "deposit", "1", "--yes", "--price", "1"], keyEnv, 5, "WOULD_REVERT", /^this account has no position in the EMP$/, { hint: /emp-sponsor create COLLATERAL TOKENS/ }),
  dev("emp-sponsor create: more collateral than the wallet holds", ["emp-sponsor", "create", "2000", "500", "--yes"], keyEnv, 6, "INSUFFICIENT_FUNDS", /^the wallet holds 0 collateral; create: 2000 collateral for 500 new tokens needs 2000$/, { hint: /fund the wallet/ }),
  dev("emp-sponsor create: below the GCR", ["emp-sponsor", "create", "100", "100", "--yes"], keyEnv, 5, "WOULD_REVERT", /^collateral per token after this mint 1\.00 is below the GCR 2\.30 .*: the contract would revert$/, { hint: /^minting 100 tokens needs at least 230 collateral$/ }),
  dev("emp-sponsor settle: not expired yet", ["emp-sponsor", "settle", "--yes"], keyEnv, 5, "WOULD_REVERT", /^the EMP expires at \S+Z, in \d+ d( \d+ h)?: it cannot be settled yet$/),
  dev("emp-sponsor withdraw-liquidation --id 7: no such liquidation", ["emp-sponsor", "withdraw-liquidation", "--id", "7", "--yes"], keyEnv, 5, "WOULD_REVERT", /^the position has no liquidation 7 to withdraw \(none, or already withdrawn\)$/),
  dev("emp-sponsor deposit: --emp is an account", ["emp-sponsor", "deposit", "1", "--yes", "--emp", "$EOA"], keyEnv, 3, "NO_CONTRACT", NO_CONTRACT("EMP"), { hint: /check --emp/ }),
  dev("emp-position: --emp is the TBTCToken", ["emp-position", "--price", "1", "--sponsor", GOOD, "--emp", "$A:TBTCToken"], {}, 3, "WRONG_CONTRACT", /^EMP address 0x[0-9a-fA-F]{40} is not an EMP contract: /, { hint: /check --emp/ }),
  dev("emp-position: no key and no --sponsor", ["emp-position", "--price", "1"], {}, 3, "CONFIG", /^no signing key configured/, { hint: /./ }),
  dev("emp-guard: no --target", ["emp-guard", "--once", "--dry-run", "--price", "1"], keyEnv, 3, "CONFIG", /^emp-guard needs a target ratio: pass --target RATIO$/, { hint: /KEEPCTL_GUARD_TARGET/ }),
  dev("emp-guard: --target below the floor", ["emp-guard", "--once", "--dry-run", "--price", "1", "--target", "1.3"], keyEnv, 2, "USAGE", /^--target 1\.3 is below the floor 1\.3125 \(the EMP's collateral requirement 1\.25 × \(1 \+ margin 0\.05\)\)/, { hint: /^pass --target 1\.3125 or more$/ }),
  dev("emp-launch: an expiry in the past", [...LAUNCH, "--expiry", "1600000000", "--yes"], keyEnv, 2, "USAGE", /^the Creator would refuse these parameters: the expiry 2020-09-13T12:26:40\.000Z is not after the chain's time /),
  dev("emp-launch: --creator is an account", [...LAUNCH, "--expiry", "2000000000", "--yes", "--creator", "$EOA"], keyEnv, 3, "NO_CONTRACT", NO_CONTRACT("ExpiringMultiPartyCreator"), { hint: /check --creator/ }),
  dev("emp-launch: --finder is an account", [...LAUNCH, "--expiry", "2000000000", "--yes", "--finder", "$EOA"], keyEnv, 3, "NO_CONTRACT", NO_CONTRACT("Finder"), { hint: /check --finder/ }),
  dev("emp-launch: an empty --name", [...LAUNCH, "--expiry", "2000000000", "--yes", "--name", ""], keyEnv, 2, "USAGE", /^the Creator would refuse these parameters: the synthetic token needs a name$/),
  dev("emp-launch: a blank --symbol", [...LAUNCH, "--expiry", "2000000000", "--yes", "--symbol", " "], keyEnv, 2, "USAGE", /^the Creator would refuse these parameters: the synthetic token needs a symbol$/),
  dev("emp-launch: the collateral is not whitelisted", [...LAUNCH, "--expiry", "2000000000", "--yes", "--collateral", "$A:TBTCToken"], keyEnv, 3, "GOVERNANCE_STEP_MISSING", /^this chain is not ready for the EMP: the collateral 0x[0-9a-fA-F]{40} is not on UMA's CollateralWhitelist 0x[0-9a-fA-F]{40}: it must be approved by a UMIP vote \(with a Store final fee\) first$/, { hint: /docs\/emp-sponsor\.md/ }),
];

// ---- keepctl mint ---------------------------------------------------------------------------------
const MINT_WALLET = { KEEPCTL_BTC_KEYSTORE: "$DIR/btc.json", KEEPCTL_BTC_PASSWORD_FILE: "$DIR/btcpw" };
const mintFiles = (pw = BTC_PW): FileSpec[] => [btcKs({ network: "regtest" }), btcPw(pw + "\n")];
const mint: Case[] = [
  usage("mint --lot abc", ["mint", "--yes", "--lot", "abc"], /^--lot must be a positive amount of BTC with at most 8 decimals, got "abc"$/, { hint: /e\.g\. --lot 1/ }),
  usage("mint --lot with 9 decimals", ["mint", "--yes", "--lot", "0.123456789"], /^--lot must be a positive amount of BTC with at most 8 decimals, got "0\.123456789"$/, { hint: /--lot 1/ }),
  usage("mint --lot 0", ["mint", "--yes", "--lot", "0"], /^--lot must be a positive amount of BTC/, { hint: /--lot 1/ }),
  usage("mint --count 0", ["mint", "--yes", "--lot", "1", "--count", "0"], /^--count must be between 1 and 50, got 0$/),
  usage("mint --count without --lot", ["mint", "--yes", "--count", "2"], /^--count needs --lot$/, { hint: /give --lot <btc>/ }),
  usage("mint off a terminal without --yes", ["mint", "--lot", "1"], /^keepctl mint sends transactions and needs --yes when not run on a terminal$/, { hint: /add --yes/ }),
  { ...usage("mint --abort 0x12", ["mint", "--yes", "--abort", "0x12"], /^--abort: invalid deposit address "0x12"$/), backend: "dead" },
  { ...usage("mint --abort without --btc-address", ["mint", "--yes", "--abort", GOOD], /^--abort needs --btc-address: where the signers should return the BTC$/), backend: "dead" },
  usage("watch --replenish-to abc", ["watch", "--once", "--replenish-to", "abc"], /^expected a decimal number with at most 18 places, got "abc" \(from --replenish-to\)$/),
  usageEnv("KEEPCTL_REPLENISH_TO -1", { KEEPCTL_REPLENISH_TO: "-1" }, /^expected a decimal number with at most 18 places, got "-1" \(from KEEPCTL_REPLENISH_TO\)$/),
  dev("watch --replenish-to without a signing key", ["watch", "--once", "--operator", "$OP", "--replenish-to", "5"], {}, 3, "CONFIG", /^--replenish-to needs a signing key: minting sends transactions$/, { hint: /KEEPCTL_PRIVATE_KEY/ }),
  dev("mint --psbt-in: a missing file", ["mint", "--yes", "--psbt-in", "$DIR/none.psbt"], { ...keyEnv, KEEPCTL_BTC_XPUB: VPUB }, 3, "CONFIG", /^cannot read PSBT file \S+none\.psbt: ENOENT$/, { hint: /give the path of the signed PSBT/ }),
  dev("mint: a watch-only KEEPCTL_BTC_XPUB", ["mint", "--yes", "--lot", "1"], { ...keyEnv, KEEPCTL_BTC_XPUB: VPUB }, 3, "CONFIG", /^keepctl mint funds deposits from a hot wallet; a watch-only --btc-xpub cannot sign the funding transaction$/, { hint: /--btc-keystore/ }),
  dev("mint: a mainnet keystore on the devnet", ["mint", "--yes", "--lot", "1"], { ...keyEnv, ...MINT_WALLET }, 3, "BTC_NETWORK_MISMATCH", /^Bitcoin keystore \S+btc\.json is a mainnet key \(xpub\), but the Bitcoin network is regtest$/, { files: [btcKs(), btcPw(BTC_PW)], hint: MISMATCH_TO_TEST }),
  dev("mint: a wrong Bitcoin keystore password", ["mint", "--yes", "--lot", "1"], { ...keyEnv, ...MINT_WALLET }, 3, "WRONG_PASSWORD", /^wrong password for Bitcoin keystore \S+btc\.json$/, { files: mintFiles("btc-pw-Zq2-wrong"), hint: /^check the password file/, secrets: [BTC_PW, "btc-pw-Zq2-wrong", ABANDON] }),
  dev("mint --lot 2: a lot the system does not allow", ["mint", "--yes", "--lot", "2"], { ...keyEnv, ...MINT_WALLET }, 2, "USAGE", /^the tBTC system does not allow a lot of 2\.0 BTC$/, { files: mintFiles(), hint: /^choose one of 0\.01, .*10\.0 BTC \(TBTCSystem\.getAllowedLotSizes\)$/ }),
  dev("mint --lot 10: no BTC in the wallet", ["mint", "--yes", "--lot", "10"], { ...keyEnv, ...MINT_WALLET }, 6, "INSUFFICIENT_FUNDS", /^not enough BTC: the payments and fee need \d+ sat, the wallet has \d+ sat; short by \d+ sat$/, { files: mintFiles(), hint: /keepctl btc-wallet address/ }),
  usage("deposits --account 0x12", ["deposits", "--account", "0x12"], /^--account: invalid address "0x12"$/, { hint: /give the 0x address of the account that ran keepctl mint/ }),
];

// ---- the shared state store (--state-url, docs/high-availability.md) -------------------------
const STATE_PW = "st4tePassw0rdX";
const LEASE_HINT = /^lower --lease-refresh \(KEEPCTL_LEASE_REFRESH\) or raise --lease-duration \(KEEPCTL_LEASE_DURATION\)$/;
const sharedState: Case[] = [
  usageEnv("KEEPCTL_STATE_URL not a PostgreSQL URL", { KEEPCTL_STATE_URL: `mysql://keepctl:${STATE_PW}@db.internal/keepctl` }, /^invalid state URL \(must start with postgres:\/\/ or postgresql:\/\/, e\.g\. postgres:\/\/keepctl:PASSWORD@db\.internal:5432\/keepctl\) \(from KEEPCTL_STATE_URL\)$/, { secrets: [STATE_PW] }),
  usageEnv("--lease-refresh above half of --lease-duration", { KEEPCTL_LEASE_REFRESH: "8", KEEPCTL_LEASE_DURATION: "15" }, /^--lease-refresh \(8 s\) is more than half of --lease-duration \(15 s\): one late renewal would lose the lease$/, { hint: LEASE_HINT }),
  usage("--lease-refresh above half the default duration", ["watch", "--once", "--operator", GOOD, "--lease-refresh", "7.6"], /^--lease-refresh \(7\.6 s\) is more than half of --lease-duration \(15 s\)/, { hint: LEASE_HINT }),
  // The database does not answer: refused before the key is used, so nothing is sent (the nonce is counted).
  dev("redeem --yes: the state database does not answer", ["redeem", "--yes", "--operator", "$OP"], { ...keyEnv, ...BTC, KEEPCTL_STATE_URL: `postgres://keepctl:${STATE_PW}@127.0.0.1:1/keepctl` }, 4, "STATE_UNREACHABLE", /^the state database postgres:\/\/127\.0\.0\.1:1\/\*\*\* did not answer: /, { hint: /runs and this host can reach it$/, secrets: [STATE_PW] }),
  dev("watch --once: the state database does not answer", ["watch", "--once", "--operator", "$OP"], { ...keyEnv, ...BTC, KEEPCTL_STATE_URL: `postgres://keepctl:${STATE_PW}@127.0.0.1:1/keepctl` }, 4, "STATE_UNREACHABLE", /^the state database postgres:\/\/127\.0\.0\.1:1\/\*\*\* did not answer: /, { hint: /runs and this host can reach it$/, secrets: [STATE_PW], noJson: true }),

  // Minting keeps its journal in the data dir: refused with a shared state store before any key or server is opened.
  { ...cfgErr("watch --replenish-to with --state-url", ["watch", "--once", "--operator", GOOD, "--replenish-to", "5"], /^watch --replenish-to cannot run with --state-url: the mint journal \(Bitcoin funding transactions\) is kept in the data dir, where a standby host would not see an in-flight mint$/, { env: { KEEPCTL_STATE_URL: `postgres://keepctl:${STATE_PW}@127.0.0.1:1/keepctl` }, hint: /^mint on one host without --state-url/, secrets: [STATE_PW] }), backend: "dead", code: "STATE_MINT_UNSUPPORTED" },
  { ...cfgErr("mint with --state-url", ["mint", "--yes", "--lot", "1"], /^keepctl mint cannot run with --state-url: the mint journal/, { env: { KEEPCTL_STATE_URL: `postgres://keepctl:${STATE_PW}@127.0.0.1:1/keepctl` }, hint: /^mint on one host without --state-url/, secrets: [STATE_PW] }), backend: "dead", code: "STATE_MINT_UNSUPPORTED" },
];

export const TABLE: Case[] = [...addresses, ...wrong, ...nums, ...urls, ...files, ...keys, ...names, ...btc, ...bitcoin, ...doubles, ...strict, ...btcWallet, ...sponsorSide, ...mint, ...sharedState];
