import fs from "node:fs";
import path from "node:path";
import { ConfigError } from "../../errors";
import { writePrivateFile } from "../../fs-safe";
import { sleep } from "../../chain/sleep";
import { CHANGE, RECEIVE, type AddressChain, type Bip84Account } from "./account";
import { nextIndex, type UsedLookup } from "./address-policy";

/**
 * The persisted side of the address policy: per account and network, the first receive and
 * change index never handed out, in `<data dir>/btc-wallet/<network>-<account id>.json` (0600).
 * Reserving an address moves the counter past it before the address is returned, under a lock
 * file, so two keepctl processes never hand out the same one.
 */
export interface AddressCounters {
  receive: number;
  change: number;
}

export interface ReservedAddress {
  chain: AddressChain;
  index: number;
  address: string;
  scriptHex: string;
  /** The chain's history was consulted (false: no Bitcoin server given; the counter alone decided). */
  checked: boolean;
  /** Indexes skipped because their address already had history. */
  skipped: number;
}

interface FileShape {
  format: "keepctl-btc-addresses";
  version: 1;
  network: string;
  account: string;
  next: AddressCounters;
}

const LOCK_WAIT_MS = 5000;

export class AddressBook {
  constructor(readonly file: string, readonly account: Bip84Account) {}

  static forAccount(dataDir: string, account: Bip84Account): AddressBook {
    return new AddressBook(path.join(dataDir, "btc-wallet", `${account.network}-${account.id}.json`), account);
  }

  /** The counters, or undefined when nothing was ever handed out for this account here. */
  read(): AddressCounters | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new ConfigError(`cannot read the address index file ${this.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { hint: "fix its permissions; it records which addresses were handed out" });
    }
    let doc: FileShape;
    try {
      doc = JSON.parse(text) as FileShape;
    } catch {
      throw new ConfigError(`the address index file ${this.file} is not valid JSON`, { hint: "restore it from a backup; deleting it makes keepctl rediscover used addresses from the chain (gap limit 20)" });
    }
    const n = doc?.next;
    const ok = doc?.format === "keepctl-btc-addresses" && doc.version === 1 && n && [n.receive, n.change].every((x) => Number.isInteger(x) && x >= 0);
    if (!ok) throw new ConfigError(`the address index file ${this.file} is not a keepctl address index`, { hint: "restore it from a backup, or move it aside" });
    if (doc.account !== this.account.xpub || doc.network !== this.account.network) {
      throw new ConfigError(`the address index file ${this.file} belongs to another account or network`, { hint: "move it aside; it is named after the account it counts for" });
    }
    return { receive: n.receive, change: n.change };
  }

  private write(next: AddressCounters): void {
    const doc: FileShape = { format: "keepctl-btc-addresses", version: 1, network: this.account.network, account: this.account.xpub, next };
    writePrivateFile(this.file, JSON.stringify(doc, null, 2) + "\n");
  }

  /** Hands out the next address of `chain` (receive by default) and records it as used. */
  async reserve(chain: AddressChain = RECEIVE, lookup?: (scriptHexes: string[]) => Promise<boolean[]>): Promise<ReservedAddress> {
    return this.locked(async () => {
      const counters = this.read();
      const byIndex: UsedLookup | undefined = lookup && ((indexes) => lookup(indexes.map((i) => this.account.scriptHex(chain, i))));
      const key = chain === CHANGE ? "change" : "receive";
      const decided = await nextIndex({ persisted: counters?.[key], lookup: byIndex });
      const next = { receive: counters?.receive ?? 0, change: counters?.change ?? 0 };
      next[key] = decided.index + 1;
      this.write(next);
      const p = this.account.payment(chain, decided.index);
      return { chain, index: decided.index, address: p.address, scriptHex: this.account.scriptHex(chain, decided.index), checked: decided.checked, skipped: decided.skipped };
    });
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const lock = `${this.file}.lock`;
    fs.mkdirSync(path.dirname(lock), { recursive: true, mode: 0o700 });
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        fs.writeFileSync(lock, String(process.pid), { flag: "wx", mode: 0o600 });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        if (holderGone(lock)) {
          fs.rmSync(lock, { force: true });
          continue;
        }
        if (Date.now() > deadline) {
          throw new ConfigError(`the address index ${this.file} is locked by another keepctl process`, { hint: `wait for it, or delete ${lock} if no keepctl runs` });
        }
        await sleep(50);
      }
    }
    try {
      return await fn();
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }
}

/** The lock's pid no longer runs (or the file is unreadable junk): the lock is stale. */
function holderGone(lock: string): boolean {
  let text: string;
  let ageMs: number;
  try {
    text = fs.readFileSync(lock, "utf8");
    ageMs = Date.now() - fs.statSync(lock).mtimeMs;
  } catch {
    return false; // removed meanwhile: the next attempt takes it
  }
  // Empty: its holder created it and has not written its pid yet (unless that was long ago).
  if (text === "") return ageMs > 10_000;
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}
