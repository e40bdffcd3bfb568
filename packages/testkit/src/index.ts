export * from "./docker";
export * from "./kafka";
export * from "./markets";
export * from "./ports";
export * from "./postgres";
export * from "./random";
export * from "./redis";
