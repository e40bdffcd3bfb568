/**
 * The production shape on one machine: matching-engine, wallet and order-gateway each as its own
 * process (their `src/main.ts`, configured only by environment), talking over the Kafka protocol
 * (librdkafka mock cluster) and gRPC, each with its own PostgreSQL database. A market is added
 * through orders.v1, two funded accounts trade through the signed REST API, and the balances the
 * gateway reports come from the wallet's settlement of the engine's fills.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type EventLog, openKafkaEventLog } from "@excraft/eventlog";
import { type AuditResponse, OrderCommand, WalletClient } from "@excraft/proto";
import {
  freePortBlock,
  startKafka,
  startPostgres,
  type TestKafka,
  type TestPostgres,
  usdtMarketSpec,
} from "@excraft/testkit";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const MASTER_KEY = "ab".repeat(32);
const ASSETS = [
  { symbol: "BTC", decimals: 8, contractAddress: "" },
  { symbol: "USDT", decimals: 6, contractAddress: "" },
];
const MARKET = {
  symbol: "BTCUSDT",
  baseAsset: "BTC",
  quoteAsset: "USDT",
  priceScale: 2,
  quantityScale: 4,
  makerFeeBps: 10,
  takerFeeBps: 20,
};

interface Service {
  name: string;
  child: ChildProcess;
  output: () => string;
}

function startService(name: string, dir: string, env: Record<string, string>): Service {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: join(root, dir),
    env: { ...process.env, LOG_LEVEL: "warn", GRPC_HOST: "127.0.0.1", METRICS_HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (chunk) => {
    text += chunk;
  });
  child.stderr!.on("data", (chunk) => {
    text += chunk;
  });
  return { name, child, output: () => text };
}

async function waitReady(service: Service, metricsPort: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null) {
      throw new Error(`${service.name} exited ${service.child.exitCode}:\n${service.output()}`);
    }
    const ok = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${service.name} not ready:\n${service.output()}`);
}

describe("services as separate processes over Kafka", () => {
  let kafka: TestKafka;
  let postgres: TestPostgres;
  let log: EventLog;
  const services: Service[] = [];

  beforeAll(async () => {
    kafka = await startKafka({
      brokers: 1,
      topics: [
        { name: "orders.v1", partitions: 1 },
        { name: "executions.v1", partitions: 1 },
        { name: "marketdata.v1", partitions: 1 },
        { name: "ledger.v1", partitions: 8 },
      ],
    });
    postgres = await startPostgres();
    log = await openKafkaEventLog({ brokers: kafka.brokers, createTopic: kafka.createTopic });
  });
  afterAll(async () => {
    for (const service of services.reverse()) {
      if (service.child.exitCode === null) {
        service.child.kill("SIGTERM");
        await once(service.child, "exit");
      }
    }
    await log?.close();
    await kafka?.stop();
    await postgres?.stop();
  });

  it("trades through the gateway, engine and wallet processes and exits cleanly on SIGTERM", async () => {
    const base = await freePortBlock(8);
    const ports = { engineGrpc: base, engineOps: base + 1, walletGrpc: base + 2, walletOps: base + 3 };
    const gatewayPorts = { http: base + 4, grpc: base + 5, ops: base + 6, webhook: base + 7 };
    const brokers = kafka.brokers.join(",");

    const engine = startService("matching-engine", "services/matching-engine", {
      DATABASE_URL: await postgres.createDatabase("e2e_engine"),
      KAFKA_BROKERS: brokers,
      GRPC_PORT: String(ports.engineGrpc),
      METRICS_PORT: String(ports.engineOps),
    });
    services.push(engine);
    const walletDb = await postgres.createDatabase("e2e_wallet");
    const wallet = startService("wallet", "services/wallet", {
      DATABASE_URL: walletDb,
      EVENTLOG: "kafka",
      KAFKA_BROKERS: brokers,
      GRPC_PORT: String(ports.walletGrpc),
      METRICS_PORT: String(ports.walletOps),
      WALLET_WEBHOOK_PORT: String(gatewayPorts.webhook),
      KYC_WEBHOOK_SECRET: "e2e-kyc-secret",
      WALLET_ASSETS: JSON.stringify(ASSETS),
      WALLET_MARKETS: JSON.stringify([MARKET]),
    });
    services.push(wallet);
    const gateway = startService("order-gateway", "services/order-gateway", {
      DATABASE_URL: await postgres.createDatabase("e2e_gateway"),
      KAFKA_BROKERS: brokers,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(gatewayPorts.http),
      GRPC_PORT: String(gatewayPorts.grpc),
      METRICS_PORT: String(gatewayPorts.ops),
      ENGINE_GRPC_ADDRESS: `127.0.0.1:${ports.engineGrpc}`,
      WALLET_GRPC_ADDRESS: `127.0.0.1:${ports.walletGrpc}`,
      API_KEY_MASTER_KEY: MASTER_KEY,
      GATEWAY_ADMIN_TOKEN: "e2e-admin",
    });
    services.push(gateway);
    await waitReady(engine, ports.engineOps);
    await waitReady(wallet, ports.walletOps);
    await waitReady(gateway, gatewayPorts.ops);

    // An operator lists the market through orders.v1, the same path a DAO listing takes.
    await log.publish("orders.v1", [
      {
        key: "BTCUSDT",
        partition: 0,
        value: OrderCommand.encode({
          commandId: "e2e-add-btcusdt",
          timeMs: BigInt(Date.now()),
          symbol: "BTCUSDT",
          command: {
            $case: "addMarket",
            value: {
              spec: usdtMarketSpec("BTC"),
            },
          },
        }).finish(),
      },
    ]);

    // Fund two accounts through the wallet's gRPC operator API and give each an API key.
    const walletClient = new WalletClient(`127.0.0.1:${ports.walletGrpc}`, credentials.createInsecure());
    const adjust = (id: string, account: string, asset: string, amount: bigint) =>
      new Promise<void>((resolve, reject) =>
        walletClient.operatorAdjust(
          { adjustmentId: id, accountId: account, asset, amount, reason: "e2e funding", operator: "e2e" },
          (error) => (error ? reject(error) : resolve()),
        ),
      );
    await adjust("fund-seller-btc", "seller", "BTC", 1n * 10n ** 8n);
    await adjust("fund-buyer-usdt", "buyer", "USDT", 100_000n * 10n ** 6n);
    walletClient.close();
    const rest = `http://127.0.0.1:${gatewayPorts.http}`;
    const createKey = async (account: string) => {
      const response = await fetch(`${rest}/v1/accounts/${account}/api-keys`, {
        method: "POST",
        headers: { authorization: "Bearer e2e-admin", "content-type": "application/json" },
        body: JSON.stringify({ permissions: ["read", "trade"] }),
      });
      expect(response.status, await response.clone().text()).toBeLessThan(300);
      const created = (await response.json()) as { apiKey: string; secretKey: string };
      return { apiKey: created.apiKey, secret: created.secretKey };
    };
    const seller = await createKey("seller");
    const buyer = await createKey("buyer");
    const signed = async (
      key: { apiKey: string; secret: string },
      method: string,
      path: string,
      params: Record<string, string>,
    ) => {
      const query = new URLSearchParams({ ...params, timestamp: String(Date.now()) }).toString();
      const signature = createHmac("sha256", key.secret).update(query).digest("hex");
      const response = await fetch(`${rest}${path}?${query}&signature=${signature}`, {
        method,
        headers: { "X-MBX-APIKEY": key.apiKey },
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    // The gateway learns the market from executions.v1; wait until it answers for it.
    const deadline = Date.now() + 30_000;
    while ((await fetch(`${rest}/api/v3/depth?symbol=BTCUSDT`)).status !== 200) {
      if (Date.now() > deadline) throw new Error(`market never appeared:\n${gateway.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const sell = await signed(seller, "POST", "/api/v3/order", {
      symbol: "BTCUSDT",
      side: "SELL",
      type: "LIMIT",
      timeInForce: "GTC",
      price: "50000.00",
      quantity: "0.1000",
      newOrderRespType: "RESULT",
    });
    expect(sell.status, JSON.stringify(sell.body)).toBe(200);
    const buy = await signed(buyer, "POST", "/api/v3/order", {
      symbol: "BTCUSDT",
      side: "BUY",
      type: "LIMIT",
      timeInForce: "GTC",
      price: "50000.00",
      quantity: "0.1000",
      newOrderRespType: "FULL",
    });
    expect(buy.status, JSON.stringify(buy.body)).toBe(200);
    expect(buy.body.status).toBe("FILLED");

    // Settlement is asynchronous (wallet consumes executions.v1): poll the buyer's balances.
    // 0.1 BTC at 50,000 = 5,000 USDT paid; the taker fee (20 bps) is taken from the BTC received.
    type Account = { balances: { asset: string; free: string; locked: string }[] };
    let balances: Account["balances"] = [];
    const settleBy = Date.now() + 30_000;
    while (Date.now() < settleBy) {
      balances = ((await signed(buyer, "GET", "/api/v3/account", {})).body as unknown as Account).balances;
      if (balances.find((b) => b.asset === "BTC")?.free === "0.09980000") break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(balances.find((b) => b.asset === "BTC")).toMatchObject({
      free: "0.09980000",
      locked: "0.00000000",
    });
    expect(balances.find((b) => b.asset === "USDT")).toMatchObject({
      free: "95000.00000000",
      locked: "0.00000000",
    });

    // The wallet's conservation audit holds for every asset after the trade and its fees.
    const auditClient = new WalletClient(`127.0.0.1:${ports.walletGrpc}`, credentials.createInsecure());
    const audit = await new Promise<AuditResponse>((resolve, reject) =>
      auditClient.audit({}, (error, response) => (error ? reject(error) : resolve(response))),
    );
    auditClient.close();
    expect(audit.assets.map((a) => a.asset).sort()).toEqual(["BTC", "USDT"]);
    for (const asset of audit.assets) expect(asset, asset.asset).toMatchObject({ balanced: true });
    expect(audit.assets.find((a) => a.asset === "BTC")?.sumOfBalances).toBe(10n ** 8n);

    for (const service of [gateway, wallet, engine]) {
      service.child.kill("SIGTERM");
      const [code] = await once(service.child, "exit");
      expect(code, `${service.name}:\n${service.output()}`).toBe(0);
    }
  }, 180_000);
});
