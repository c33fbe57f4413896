import type { Command } from "commander";
import { notBuilt } from "./common";

export function register(program: Command): void {
  notBuilt(program, "config", "show the resolved configuration and where each value came from");
}
