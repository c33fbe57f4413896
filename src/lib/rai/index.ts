export * from "./math";
export * from "./twap";
export * from "./types";
export * from "./subgraph";
export * from "./events";
export * from "./feed";
export * from "./price";
export * from "./plot";
