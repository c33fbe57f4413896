import type { Command } from "commander";
import { notBuilt } from "./common";

export function register(program: Command): void {
  notBuilt(program, "check", "judge the operators' deposits against thresholds; exit 10 when any is at risk");
}
