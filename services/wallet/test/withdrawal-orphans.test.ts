import { type EventLog, openEmbeddedEventLog } from "@excraft/eventlog";
import { createLogger } from "@excraft/platform";
import { startPostgres, type TestPostgres } from "@excraft/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWalletApp, type WalletAppOptions } from "../src/app";
import { ASSETS } from "./fixtures";

// A withdrawal is held first ("wd:<id>") and recorded second; a wallet that stops between the two
// never answered the request, so nothing will ever send it: the next start must free the hold.
let pgServer: TestPostgres;
let log: EventLog;
let options: WalletAppOptions;

beforeAll(async () => {
  pgServer = await startPostgres();
  log = await openEmbeddedEventLog();
  await log.createTopic("executions.v1", 1);
  options = {
    databaseUrl: await pgServer.createDatabase("wallet_orphans"),
    eventLog: log,
    logger: createLogger({ name: "wallet-test", level: "silent" }),
    siwe: { domain: "excraft.test", uri: "https://excraft.test/link", chainId: 31337 },
    kycWebhookSecret: "kyc-webhook-test-secret",
    assets: ASSETS,
    publishLedger: false,
  };
});
afterAll(async () => {
  await log?.close();
  await pgServer?.stop();
});

describe("withdrawal holds without a withdrawal", () => {
  it("are released at the next start; recorded withdrawals and order holds are kept", async () => {
    let app = await startWalletApp(options);
    await app.ledger.adjust("adj-1", "alice", "ETH", 1_000n, "test funding", "test");
    await app.ledger.reserve("alice", "ETH", 300n, "wd:ghost"); // stopped before its row
    await app.ledger.reserve("alice", "ETH", 200n, "wd:kept");
    await app.pool.query(
      `insert into withdrawals (withdrawal_id, account_id, asset, amount, to_address, status)
       values ('kept', 'alice', 'ETH', 200, '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', 'pending')`,
    );
    await app.ledger.reserve("alice", "ETH", 100n, "order-7"); // an order's hold: not a withdrawal
    expect(await app.ledger.balance("alice", "ETH")).toMatchObject({ free: 400n, locked: 600n });
    await app.stop();

    app = await startWalletApp(options);
    try {
      expect(await app.ledger.balance("alice", "ETH")).toMatchObject({ free: 700n, locked: 300n });
      expect((await app.ledger.hold("wd:ghost"))?.remaining).toBe(0n);
      expect((await app.ledger.hold("wd:kept"))?.remaining).toBe(200n);
      expect((await app.ledger.hold("order-7"))?.remaining).toBe(100n);
      expect((await app.ledger.audit()).ok).toBe(true);
    } finally {
      await app.stop();
    }
  });
});
