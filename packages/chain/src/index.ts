export * from "./deploy.ts";
export * from "./deployment.ts";
export * from "./emission.ts";
export * from "./generated/index.ts";
export * from "./merkle.ts";
