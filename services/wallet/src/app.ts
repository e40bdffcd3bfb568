import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { EventLog, Subscription } from "@excraft/eventlog";
import {
  createGrpcServer,
  createMetrics,
  createPostgresPool,
  type GrpcServer,
  type Logger,
  type Metrics,
  type OpsServer,
  postgresReadiness,
  Readiness,
  startOpsServer,
} from "@excraft/platform";
import { WalletService } from "@excraft/proto";
import type pg from "pg";
import { Counter, Gauge, Histogram } from "prom-client";
import { ChainGateway, type ChainGatewayOptions } from "./chain";
import { startExecutionsConsumer } from "./consumer";
import { createWalletHandlers } from "./grpc-service";
import { handleKycWebhook, Identity, type SiweConfig } from "./identity";
import { Ledger } from "./ledger";
import { LedgerPublisher } from "./publisher";
import { migrate } from "./schema";
import type { AssetInfo, MarketConfig } from "./state";

export interface WalletAppOptions {
  databaseUrl: string;
  eventLog: EventLog;
  logger: Logger;
  grpcHost?: string;
  grpcPort?: number;
  /** Ops HTTP server (/metrics, /healthz, /readyz, POST /kyc/webhook); undefined = not started. */
  opsPort?: number;
  opsHost?: string;
  /** HTTP listener for POST /kyc/webhook; undefined = not started. */
  webhookPort?: number;
  siwe: SiweConfig;
  kycWebhookSecret: string;
  /** Assets and markets from configuration (MarketChanged events add or update markets too). */
  assets?: AssetInfo[];
  markets?: MarketConfig[];
  maxBatch?: number;
  /** FEE_CHANGE_NOTICE_MS: least time between making a fee change and its taking effect (default 10 000). */
  feeChangeNoticeMs?: number;
  /** How long to wait for a previous writer's lock (after a crash PostgreSQL frees it quickly). */
  lockTimeoutMs?: number;
  consumeExecutions?: boolean;
  publishLedger?: boolean;
  auditIntervalMs?: number;
  /** The process's metrics, when the wallet shares a process (one-process mode); default: its own registry. */
  metrics?: Metrics;
  /** On-chain deposits/withdrawals (ETH, ERC-20): polled every `pollMs` (default 2 s). */
  chain?: Omit<ChainGatewayOptions, "pool" | "ledger"> & { pollMs?: number };
}

export interface WalletApp {
  pool: pg.Pool;
  ledger: Ledger;
  identity: Identity;
  grpc: GrpcServer;
  ops: OpsServer | undefined;
  /** URL of the KYC webhook when started. */
  webhookUrl: string | undefined;
  metrics: Metrics;
  consumer: Subscription | undefined;
  publisher: LedgerPublisher | undefined;
  chain: ChainGateway | undefined;
  /** Runs the conservation audit now and updates the metrics. */
  runAudit(): Promise<boolean>;
  stop(): Promise<void>;
}

/** Wires the wallet: PostgreSQL ledger, gRPC service, executions consumer, ledger.v1 publisher, metrics. */
export async function startWalletApp(o: WalletAppOptions): Promise<WalletApp> {
  const { logger } = o;
  const pool = createPostgresPool({
    url: o.databaseUrl,
    max: 10,
    statementTimeoutMs: 60_000,
    applicationName: "wallet",
    logger,
  });
  await migrate(pool);
  const metrics = o.metrics ?? createMetrics({ defaultLabels: { service: "wallet" } });
  const registers = [metrics.registry];
  const batchSize = new Histogram({
    name: "wallet_batch_commands",
    help: "Commands per group-committed ledger batch",
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
    registers,
  });
  const batchSeconds = new Histogram({
    name: "wallet_batch_seconds",
    help: "Time from batch start to durable commit",
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
    registers,
  });
  const imbalance = new Gauge({
    name: "wallet_conservation_imbalance",
    help: "Per asset: sum of balances − (deposits − withdrawals + minted + credits − debits); must be 0",
    labelNames: ["asset"],
    registers,
  });
  const auditOk = new Gauge({
    name: "wallet_audit_ok",
    help: "1 when the last conservation audit passed, else 0",
    registers,
  });
  const settled = new Counter({
    name: "wallet_executions_total",
    help: "executions.v1 events processed",
    labelNames: ["result"],
    registers,
  });
  const malformed = new Counter({
    name: "wallet_executions_malformed_total",
    help: "executions.v1 records that did not decode (skipped)",
    registers,
  });

  const feeChanges = new Counter({
    name: "wallet_fee_schedule_changes_total",
    help: "Fee schedule entries recorded (scope: market rates or account override)",
    labelNames: ["scope"],
    registers,
  });
  const ledger = await Ledger.open(pool, {
    maxBatch: o.maxBatch ?? 2000,
    lockTimeoutMs: o.lockTimeoutMs ?? 30_000,
    ...(o.feeChangeNoticeMs === undefined ? {} : { feeChangeNoticeMs: o.feeChangeNoticeMs }),
    onBatch: (size, ms) => {
      batchSize.observe(size);
      batchSeconds.observe(ms / 1000);
    },
    onFeeChange: (entry) => {
      feeChanges.inc({ scope: entry.accountId === "" ? "market" : "account" });
      logger.info({ feeScheduleEntry: entry }, "fee schedule entry recorded");
    },
  });
  new Gauge({
    name: "wallet_failed_batches",
    help: "Ledger batches refused by the database since start (each retried command by command)",
    registers,
    collect() {
      this.set(ledger.stats.failedBatches);
    },
  });
  for (const a of o.assets ?? []) await ledger.registerAsset(a);
  for (const m of o.markets ?? []) await ledger.configureMarket(m);
  const identity = new Identity(pool, o.siwe);

  const runAudit = async () => {
    const report = await ledger.audit();
    for (const a of report.assets) imbalance.set({ asset: a.asset }, Number(a.sumOfBalances - a.expected));
    auditOk.set(report.ok ? 1 : 0);
    if (!report.ok)
      logger.error(
        { report: JSON.stringify(report, (_k, v) => (typeof v === "bigint" ? String(v) : v)) },
        "conservation audit FAILED",
      );
    return report.ok;
  };

  // The withdrawals table is read by ListWithdrawals even when no chain gateway runs in this process.
  await ChainGateway.migrate(pool);
  const orphaned = await ChainGateway.releaseOrphanedWithdrawalHolds(pool, ledger);
  if (orphaned.length > 0)
    logger.warn({ withdrawalIds: orphaned }, "released holds of withdrawals that were never recorded");
  const chain = o.chain ? new ChainGateway({ logger, ...o.chain, pool, ledger }) : undefined;
  if (chain) {
    new Gauge({
      name: "wallet_chain_deposits_pending",
      help: "Chain deposits seen for linked addresses, waiting for their confirmations (not in any balance)",
      registers,
      collect() {
        this.set(chain.stats.pendingDeposits);
      },
    });
    let droppedReported = 0;
    new Counter({
      name: "wallet_chain_deposits_dropped_total",
      help: "Pending chain deposits that left the canonical chain (reorg) or their account before being credited",
      registers,
      collect() {
        this.inc(chain.stats.droppedDeposits - droppedReported);
        droppedReported = chain.stats.droppedDeposits;
      },
    });
  }

  const grpc = await createGrpcServer({
    name: "wallet",
    host: o.grpcHost ?? "127.0.0.1",
    port: o.grpcPort ?? 0,
    services: [
      { definition: WalletService, implementation: createWalletHandlers(ledger, identity, { chain }) },
    ],
    logger,
    metrics,
  });

  let ops: OpsServer | undefined;
  if (o.opsPort !== undefined) {
    const readiness = new Readiness();
    readiness.register("postgres", postgresReadiness(pool));
    ops = await startOpsServer({
      host: o.opsHost ?? "127.0.0.1",
      port: o.opsPort,
      metrics,
      readiness,
      logger,
    });
  }
  // The KYC provider webhook has its own small HTTP listener (the ops server is for scrapes and probes).
  let webhook: Server | undefined;
  let webhookUrl: string | undefined;
  if (o.webhookPort !== undefined) {
    webhook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const reply = (code: number, body: unknown) => {
          res.writeHead(code, { "content-type": "application/json" });
          res.end(JSON.stringify(body));
        };
        if (req.method !== "POST" || req.url !== "/kyc/webhook") return reply(404, { msg: "not found" });
        const sig = req.headers["x-kyc-signature"];
        handleKycWebhook(
          identity,
          o.kycWebhookSecret,
          Buffer.concat(chunks),
          typeof sig === "string" ? sig : undefined,
        )
          .then((r) => reply(200, r))
          .catch((error: { code?: string; message?: string }) => {
            const code =
              error.code === "PERMISSION_DENIED" ? 401 : error.code === "INVALID_ARGUMENT" ? 400 : 500;
            if (code === 500) logger.error({ err: error }, "kyc webhook failed");
            reply(code, {
              code: error.code ?? "INTERNAL",
              msg: code === 500 ? "internal error" : error.message,
            });
          });
      });
    });
    await new Promise<void>((resolve) => webhook!.listen(o.webhookPort, o.opsHost ?? "127.0.0.1", resolve));
    const addr = webhook.address() as AddressInfo;
    webhookUrl = `http://${addr.address}:${addr.port}/kyc/webhook`;
  }

  let consumer: Subscription | undefined;
  if (o.consumeExecutions ?? true) {
    consumer = await startExecutionsConsumer(o.eventLog, ledger, {
      onError: (error) => logger.error({ err: error }, "settlement batch failed; will retry"),
      onSettled: (i) => {
        settled.inc({ result: "applied" }, i.applied);
        settled.inc({ result: "duplicate" }, i.skipped);
      },
      onMalformed: (i) => {
        malformed.inc();
        logger.error(
          { partition: i.partition, offset: String(i.offset), err: i.error },
          "malformed execution event",
        );
      },
    });
  }
  let publisher: LedgerPublisher | undefined;
  if (o.publishLedger ?? true) {
    await o.eventLog.createTopic("ledger.v1", 8).catch((e) => logger.warn({ err: e }, "ledger.v1 topic"));
    publisher = new LedgerPublisher(pool, o.eventLog, () => ledger.stableEntryId());
    publisher.start(100, (error) => logger.error({ err: error }, "ledger.v1 publish failed"));
  }
  let chainTimer: NodeJS.Timeout | undefined;
  let chainRun: Promise<unknown> | undefined;
  if (chain) {
    const gw = chain;
    const tick = () => {
      chainRun = (async () => {
        await gw.pollDeposits();
        await gw.sendPending();
        await gw.confirmSent();
      })()
        .catch((error) => logger.error({ err: error }, "chain poll failed"))
        .finally(() => {
          if (chainTimer) chainTimer = setTimeout(tick, o.chain?.pollMs ?? 2_000);
        });
    };
    chainTimer = setTimeout(tick, 0);
  }
  const auditTimer = setInterval(() => {
    runAudit().catch((error) => logger.error({ err: error }, "audit failed"));
  }, o.auditIntervalMs ?? 60_000);
  auditTimer.unref();
  const firstAudit = setTimeout(() => {
    runAudit().catch((error) => logger.error({ err: error }, "audit failed"));
  }, 1_000);
  firstAudit.unref();

  let stopped: Promise<void> | undefined;
  return {
    pool,
    ledger,
    identity,
    grpc,
    ops,
    webhookUrl,
    metrics,
    consumer,
    publisher,
    chain,
    runAudit,
    stop() {
      stopped ??= (async () => {
        clearInterval(auditTimer);
        clearTimeout(firstAudit);
        if (chainTimer) clearTimeout(chainTimer);
        chainTimer = undefined;
        await chainRun;
        await grpc.drain(5_000);
        await consumer?.stop();
        await publisher?.stop();
        await ops?.close();
        if (webhook) await new Promise((r) => webhook!.close(r));
        await ledger.close();
        await pool.end();
      })();
      return stopped;
    },
  };
}
