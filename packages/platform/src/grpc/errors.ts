import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { ErrorDetail } from "@excraft/proto";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";

/** Trailer carrying a serialized `google.rpc.Status` (the gRPC "rich error model"). */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
/** `Any.type_url` of an `excraft.v1.ErrorDetail` inside `google.rpc.Status.details`. */
export const ERROR_DETAIL_TYPE_URL = "type.googleapis.com/excraft.v1.ErrorDetail";

/** go-grpc-prometheus's `grpc_code` label values (Go's codes.Code.String()). */
const CODE_NAMES: Record<number, string> = {
  [status.OK]: "OK",
  [status.CANCELLED]: "Canceled",
  [status.UNKNOWN]: "Unknown",
  [status.INVALID_ARGUMENT]: "InvalidArgument",
  [status.DEADLINE_EXCEEDED]: "DeadlineExceeded",
  [status.NOT_FOUND]: "NotFound",
  [status.ALREADY_EXISTS]: "AlreadyExists",
  [status.PERMISSION_DENIED]: "PermissionDenied",
  [status.RESOURCE_EXHAUSTED]: "ResourceExhausted",
  [status.FAILED_PRECONDITION]: "FailedPrecondition",
  [status.ABORTED]: "Aborted",
  [status.OUT_OF_RANGE]: "OutOfRange",
  [status.UNIMPLEMENTED]: "Unimplemented",
  [status.INTERNAL]: "Internal",
  [status.UNAVAILABLE]: "Unavailable",
  [status.DATA_LOSS]: "DataLoss",
  [status.UNAUTHENTICATED]: "Unauthenticated",
};

export function statusCodeName(code: number): string {
  return CODE_NAMES[code] ?? `Code(${code})`;
}

/** Codes that mean the server (not the caller) failed: logged at error level. */
export function isServerFault(code: number): boolean {
  return (
    code === status.UNKNOWN ||
    code === status.INTERNAL ||
    code === status.UNAVAILABLE ||
    code === status.DATA_LOSS ||
    code === status.UNIMPLEMENTED ||
    code === status.DEADLINE_EXCEEDED
  );
}

/** Encodes `google.rpc.Status { code, message, details: [Any(ErrorDetail)…] }`. */
export function encodeStatusDetails(code: number, message: string, details: ErrorDetail[]): Uint8Array {
  const writer = new BinaryWriter();
  if (code !== 0) writer.uint32(8).int32(code);
  if (message !== "") writer.uint32(18).string(message);
  for (const detail of details) {
    writer.uint32(26).fork();
    writer.uint32(10).string(ERROR_DETAIL_TYPE_URL);
    writer.uint32(18).bytes(ErrorDetail.encode(detail).finish());
    writer.join();
  }
  return writer.finish();
}

export interface DecodedStatus {
  code: number;
  message: string;
  details: ErrorDetail[];
}

/** Decodes a `google.rpc.Status`, keeping the `excraft.v1.ErrorDetail` entries of its details. */
export function decodeStatusDetails(bytes: Uint8Array): DecodedStatus {
  const reader = new BinaryReader(bytes);
  const out: DecodedStatus = { code: 0, message: "", details: [] };
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo === 1 && wireType === 0) out.code = reader.int32();
    else if (fieldNo === 2 && wireType === 2) out.message = reader.string();
    else if (fieldNo === 3 && wireType === 2) {
      const any = new BinaryReader(reader.bytes());
      let typeUrl = "";
      let value: Uint8Array = new Uint8Array();
      while (any.pos < any.len) {
        const [f, w] = any.tag();
        if (f === 1 && w === 2) typeUrl = any.string();
        else if (f === 2 && w === 2) value = any.bytes();
        else any.skip(w);
      }
      if (typeUrl === ERROR_DETAIL_TYPE_URL) out.details.push(ErrorDetail.decode(value));
    } else reader.skip(wireType);
  }
  return out;
}

/** The `ErrorDetail`s a server put into a call's trailers (client side: `error.metadata`). */
export function errorDetailsOf(metadata: Metadata | undefined): ErrorDetail[] {
  const raw = metadata?.get(STATUS_DETAILS_KEY)[0];
  if (!raw || typeof raw === "string") return [];
  return decodeStatusDetails(raw).details;
}

/**
 * An error that becomes a gRPC status: pass it to a handler's callback or throw it from an async
 * handler. Its `ErrorDetail` travels in `grpc-status-details-bin`.
 */
export class GrpcError extends Error implements ServiceError {
  readonly code: status;
  readonly details: string;
  readonly metadata: Metadata;
  readonly errorDetail: ErrorDetail;

  constructor(code: status, message: string, detail: Partial<ErrorDetail> = {}) {
    super(message);
    this.name = "GrpcError";
    this.code = code;
    this.details = message;
    this.errorDetail = {
      code: detail.code ?? statusCodeName(code),
      message: detail.message ?? message,
      field: detail.field ?? "",
    };
    this.metadata = new Metadata();
    this.metadata.set(
      STATUS_DETAILS_KEY,
      Buffer.from(encodeStatusDetails(code, message, [this.errorDetail])),
    );
  }
}

/** Shorthand: `throw grpcError(status.NOT_FOUND, "no such market", { code: "UNKNOWN_SYMBOL", field: "symbol" })`. */
export function grpcError(code: status, message: string, detail: Partial<ErrorDetail> = {}): GrpcError {
  return new GrpcError(code, message, detail);
}

/** True for objects grpc-js turns into a status as they are (a numeric gRPC `code`). */
export function isStatusError(error: unknown): error is Partial<ServiceError> & { code: number } {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { code?: unknown }).code === "number" &&
    Number.isInteger((error as { code: number }).code) &&
    (error as { code: number }).code >= 0 &&
    (error as { code: number }).code <= 16
  );
}
