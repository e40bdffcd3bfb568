import { GrpcError } from "@excraft/platform";
import {
  type AuditResponse,
  type Balance,
  type CreateLinkChallengeRequest,
  type Deposit,
  DepositStatus,
  type GetBalancesRequest,
  type GetDailyFeesRequest,
  type GetFeeRatesRequest,
  type GetKycRequest,
  KycStatus,
  type LinkWalletRequest,
  type ListDepositsRequest,
  type ListWithdrawalsRequest,
  type OperatorAdjustRequest,
  type ReleaseRequest,
  type RequestWithdrawalRequest,
  type ReserveRequest,
  type SetFeeRateRequest,
  type SetKycRequest,
  type TransferRequest,
  type UnlinkWalletRequest,
  type Withdrawal,
  WithdrawalStatus,
} from "@excraft/proto";
import { status } from "@grpc/grpc-js";
import type { ChainGateway, WithdrawalRow } from "./chain";
import type { BalanceView } from "./commands";
import { invalid, WalletError, type WalletErrorCode } from "./errors";
import type { FeeScheduleEntry as FeeEntry, FeeRateChange } from "./fees";
import { type DepositRow, type DepositState, listDeposits, listWithdrawals } from "./history";
import type { Identity, KycState } from "./identity";
import type { FeeRateView, Ledger } from "./ledger";

const STATUS_OF: Record<WalletErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  UNKNOWN_ASSET: status.NOT_FOUND,
  NOT_FOUND: status.NOT_FOUND,
  INSUFFICIENT_BALANCE: status.FAILED_PRECONDITION,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  INTERNAL: status.INTERNAL,
};

/** WalletError → gRPC status with an `excraft.v1.ErrorDetail` (code = the wallet's stable code). */
export function toGrpcError(error: unknown): unknown {
  if (error instanceof WalletError) {
    return new GrpcError(STATUS_OF[error.code], error.message, { code: error.code, field: error.field });
  }
  return error;
}

const KYC_TO_PROTO: Record<KycState, KycStatus> = {
  none: KycStatus.NONE,
  pending: KycStatus.PENDING,
  verified: KycStatus.VERIFIED,
  rejected: KycStatus.REJECTED,
};

function kycFromProto(s: KycStatus): KycState {
  for (const [k, v] of Object.entries(KYC_TO_PROTO)) if (v === s) return k as KycState;
  throw new WalletError("INVALID_ARGUMENT", `unknown KYC status ${s}`, "status");
}

const balance = (b: BalanceView): Balance => ({ asset: b.asset, free: b.free, locked: b.locked });

const WITHDRAWAL_STATUS: Record<WithdrawalRow["status"], WithdrawalStatus> = {
  pending: WithdrawalStatus.PENDING,
  sent: WithdrawalStatus.SENT,
  confirmed: WithdrawalStatus.CONFIRMED,
  failed: WithdrawalStatus.FAILED,
};

const withdrawal = (w: WithdrawalRow): Withdrawal => ({
  withdrawalId: w.withdrawalId,
  accountId: w.accountId,
  asset: w.asset,
  amount: w.amount,
  toAddress: w.toAddress,
  status: WITHDRAWAL_STATUS[w.status],
  txHash: w.txHash ?? "",
  createdTimeMs: BigInt(w.createdTimeMs),
  updatedTimeMs: BigInt(w.updatedTimeMs),
});

const DEPOSIT_STATUS: Record<DepositState, DepositStatus> = {
  pending: DepositStatus.PENDING,
  credited: DepositStatus.CREDITED,
  dropped: DepositStatus.DROPPED,
};

const deposit = (d: DepositRow): Deposit => ({
  reference: d.reference,
  asset: d.asset,
  amount: d.amount,
  txHash: d.txHash,
  status: DEPOSIT_STATUS[d.status],
  timeMs: d.timeMs,
  confirmations: d.confirmations,
  requiredConfirmations: d.requiredConfirmations,
  blockNumber: d.blockNumber,
  creditedTimeMs: d.creditedTimeMs,
});

const feeRateChange = (c: FeeRateChange) => ({
  effectiveFromMs: BigInt(c.effectiveFromMs),
  makerFeeBps: c.makerFeeBps,
  takerFeeBps: c.takerFeeBps,
  accountOverride: c.accountOverride,
});

const feeRate = (r: FeeRateView) => ({
  symbol: r.symbol,
  makerFeeBps: r.makerFeeBps,
  takerFeeBps: r.takerFeeBps,
  accountOverride: r.accountOverride,
  upcoming: r.upcoming.map(feeRateChange),
});

const feeScheduleEntry = (e: FeeEntry) => ({
  symbol: e.symbol,
  accountId: e.accountId,
  effectiveFromMs: BigInt(e.effectiveFromMs),
  makerFeeBps: e.makerFeeBps ?? 0,
  takerFeeBps: e.takerFeeBps ?? 0,
  removesOverride: e.makerFeeBps === null,
  recordedAtMs: BigInt(e.recordedAtMs),
  operator: e.actor,
  reason: e.reason,
});

/** A status filter of a list request: UNSPECIFIED = every status; a value not in `table` is refused. */
function statusFilter<S extends string, P extends number>(table: Record<S, P>, value: P): S | undefined {
  if (value === 0) return undefined;
  for (const [k, v] of Object.entries(table)) if (v === value) return k as S;
  throw new WalletError("INVALID_ARGUMENT", `unknown status ${value}`, "status");
}

/**
 * The `excraft.v1.Wallet` handlers (async; register with the platform's createGrpcServer, which turns
 * thrown GrpcErrors into statuses). The operator identity for OperatorAdjust and SetKyc comes from the
 * request (`operator`) or, for SetKyc and SetFeeRate, the `x-operator` metadata; authorisation is the mesh's job
 * (Istio AuthorizationPolicy admits only the admin service to these methods).
 */
export function createWalletHandlers(
  ledger: Ledger,
  identity: Identity,
  options: {
    /** On-chain deposits/withdrawals (ETH, EXT); without it RequestWithdrawal is refused. */
    chain?: ChainGateway;
  } = {},
) {
  const { chain } = options;
  const wrap =
    <Req, Res>(fn: (req: Req, metadata: Map<string, string>) => Promise<Res>) =>
    async (
      call: { request: Req; metadata: { get(key: string): unknown[] } },
      callback: (e: unknown, r?: Res) => void,
    ) => {
      try {
        const md = new Map<string, string>();
        const op = call.metadata.get("x-operator")[0];
        if (typeof op === "string") md.set("x-operator", op);
        callback(null, await fn(call.request, md));
      } catch (error) {
        callback(toGrpcError(error));
      }
    };

  return {
    getBalances: wrap(async (req: GetBalancesRequest) => ({
      balances: (await ledger.balances(req.accountId)).map(balance),
    })),
    reserve: wrap(async (req: ReserveRequest) => ({
      balance: balance(await ledger.reserve(req.accountId, req.asset, req.amount, req.orderId)),
    })),
    release: wrap(async (req: ReleaseRequest) => ({
      balance: balance(await ledger.release(req.accountId, req.orderId, req.amount)),
    })),
    transfer: wrap(async (req: TransferRequest) => {
      await ledger.transfer(
        req.transferId,
        req.fromAccountId,
        req.toAccountId,
        req.asset,
        req.amount,
        req.reason,
      );
      return {};
    }),
    operatorAdjust: wrap(async (req: OperatorAdjustRequest) => ({
      balance: balance(
        await ledger.adjust(req.adjustmentId, req.accountId, req.asset, req.amount, req.reason, req.operator),
      ),
    })),
    createLinkChallenge: wrap(async (req: CreateLinkChallengeRequest) =>
      identity.createLinkChallenge(req.accountId, req.address),
    ),
    linkWallet: wrap(async (req: LinkWalletRequest) => ({
      address: await identity.linkWallet(req.accountId, req.message, req.signature),
    })),
    unlinkWallet: wrap(async (req: UnlinkWalletRequest) => {
      await identity.unlinkWallet(req.accountId);
      return {};
    }),
    getKyc: wrap(async (req: GetKycRequest) => ({
      status: KYC_TO_PROTO[await identity.getKyc(req.accountId)],
      linkedAddress: await identity.linkedAddress(req.accountId),
    })),
    setKyc: wrap(async (req: SetKycRequest, md) => {
      await identity.setKyc(
        req.accountId,
        kycFromProto(req.status),
        req.reason,
        md.get("x-operator") ?? "operator-api",
      );
      return {};
    }),
    getDailyFees: wrap(async (req: GetDailyFeesRequest) => ({ fees: await ledger.dailyFees(req.day) })),
    getAssets: wrap(async () => ({
      assets: ledger
        .listAssets()
        .sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0))
        .map((a) => ({
          symbol: a.symbol,
          decimals: a.decimals,
          contractAddress: a.contractAddress,
          onChain: chain?.isChainAsset(a.symbol) ?? false,
        })),
    })),
    getFeeRates: wrap(async (req: GetFeeRatesRequest) => {
      const window = ledger.feeChangeWindow();
      // Number() of an int64 beyond 2^53 is inexact, but those are refused as out of range anyway.
      const atTimeMs = req.atTimeMs === undefined ? window.nowMs : Number(req.atTimeMs);
      return {
        rates: ledger.feeRates(req.accountId, req.symbol, atTimeMs).map(feeRate),
        atTimeMs: BigInt(atTimeMs),
        noticeMs: BigInt(window.noticeMs),
        stableUntilMs: BigInt(window.stableUntilMs),
      };
    }),
    setFeeRate: wrap(async (req: SetFeeRateRequest, md) => {
      if (req.removeOverride && (req.makerFeeBps !== 0 || req.takerFeeBps !== 0)) {
        throw invalid(
          "maker_fee_bps",
          "remove_override takes no rates: leave maker_fee_bps and taker_fee_bps 0",
        );
      }
      const entry = await ledger.setFeeRate({
        symbol: req.symbol,
        accountId: req.accountId,
        makerFeeBps: req.removeOverride ? null : req.makerFeeBps,
        takerFeeBps: req.removeOverride ? null : req.takerFeeBps,
        ...(req.effectiveFromMs === 0n ? {} : { effectiveFromMs: Number(req.effectiveFromMs) }),
        actor: req.operator || md.get("x-operator") || "operator-api",
        reason: req.reason,
      });
      return { entry: feeScheduleEntry(entry) };
    }),
    requestWithdrawal: wrap(async (req: RequestWithdrawalRequest) => {
      ledger.asset(req.asset); // UNKNOWN_ASSET before anything else about the asset
      if (!chain) {
        throw new WalletError("FAILED_PRECONDITION", "on-chain withdrawals are not configured", "asset");
      }
      if (!chain.isChainAsset(req.asset)) {
        throw new WalletError(
          "FAILED_PRECONDITION",
          `${req.asset} is not withdrawn on chain (off-chain assets leave through an operator debit)`,
          "asset",
        );
      }
      const w = await chain.requestWithdrawal(
        req.withdrawalId,
        req.accountId,
        req.asset,
        req.amount,
        req.toAddress === "" ? undefined : req.toAddress,
      );
      return { withdrawal: withdrawal(w), balance: balance(await ledger.balance(req.accountId, req.asset)) };
    }),
    listWithdrawals: wrap(async (req: ListWithdrawalsRequest) => {
      if (req.asset !== "") ledger.asset(req.asset); // UNKNOWN_ASSET for a filter that can never match
      const page = await listWithdrawals(ledger.pool, {
        ...req,
        status: statusFilter(WITHDRAWAL_STATUS, req.status),
      });
      return { withdrawals: page.items.map(withdrawal), nextPageToken: page.nextPageToken };
    }),
    listDeposits: wrap(async (req: ListDepositsRequest) => {
      if (req.asset !== "") ledger.asset(req.asset);
      const page = await listDeposits(ledger.pool, {
        ...req,
        status: statusFilter(DEPOSIT_STATUS, req.status),
      });
      return { deposits: page.items.map(deposit), nextPageToken: page.nextPageToken };
    }),
    audit: wrap(async (): Promise<AuditResponse> => {
      const report = await ledger.audit();
      return {
        assets: report.assets.map((a) => ({
          asset: a.asset,
          sumOfBalances: a.sumOfBalances,
          expected: a.expected,
          // The journal-level checks count against every asset: an unbalanced entry fails them all.
          balanced: a.balanced && report.unbalancedEntries === 0 && report.journalMismatches === 0,
        })),
      };
    }),
  };
}
