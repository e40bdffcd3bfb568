/**
 * A fast path for decoding the orders.v1 commands that make up nearly all traffic — place, cancel
 * and cancel-replace — straight into numbers, without message objects or bigints. It accepts only
 * payloads whose meaning is beyond doubt: known fields with their declared wire types, integers in
 * 0..2^53-1. Anything else (admin commands, unknown fields, out-of-range or negative integers,
 * malformed bytes) returns false and the caller takes the generated decoder and the general path,
 * so every payload means exactly what the generated OrderCommand.decode says it means.
 */

/** excraft.v1.OrderCommand.command cases the fast path handles. */
export const FAST_PLACE = 10;
export const FAST_CANCEL = 11;
export const FAST_REPLACE = 12;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const utf8 = new TextDecoder();

/** One decoded command; the decoder reuses it for every payload. */
export class FastCommand {
  kind = 0;
  commandId = "";
  timeMs = 0;
  symbol = "";
  // place (PlaceOrder), cancel (CancelOrder: accountId, orderId, clientOrderId) and replace
  // (ReplaceOrder) share the fields of the same meaning.
  orderId = 0;
  accountId = "";
  clientOrderId = "";
  side = 0;
  type = 0;
  timeInForce = 0;
  price = 0;
  quantity = 0;
  quoteOrderQty = 0;
  stopPrice = 0;
  selfTradePrevention = 0;
  reserved = 0;
  newOrderId = 0;
  newClientOrderId = "";
  newPrice = 0;
  newQuantity = 0;

  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private end = 0;
  /** Set when a varint is malformed or outside 0..2^53-1. */
  private bad = false;

  /** Decodes `payload`; false when the fast path does not apply (use the generated decoder). */
  decode(payload: Uint8Array): boolean {
    this.buf = payload;
    this.pos = 0;
    this.end = payload.length;
    this.bad = false;
    this.kind = 0;
    this.commandId = "";
    this.timeMs = 0;
    this.symbol = "";
    while (this.pos < this.end) {
      const tag = this.varint();
      if (this.bad) return false;
      switch (tag) {
        case 0x0a:
          this.commandId = this.string();
          break;
        case 0x10:
          this.timeMs = this.varint();
          break;
        case 0x1a:
          this.symbol = this.string();
          break;
        case 0x52: // place = 10
        case 0x5a: // cancel = 11
        case 0x62: {
          // replace = 12
          const length = this.varint();
          if (this.bad || length > this.end - this.pos) return false;
          const end = this.pos + length;
          const outer = this.end;
          this.end = end;
          this.clearBody();
          const kind = tag >>> 3;
          const ok =
            kind === FAST_PLACE ? this.place() : kind === FAST_CANCEL ? this.cancel() : this.replace();
          this.end = outer;
          if (!ok || this.pos !== end) return false;
          this.kind = kind;
          break;
        }
        default:
          return false;
      }
      if (this.bad) return false;
    }
    return this.kind !== 0 && this.pos === this.end;
  }

  private clearBody(): void {
    this.orderId = 0;
    this.accountId = "";
    this.clientOrderId = "";
    this.side = 0;
    this.type = 0;
    this.timeInForce = 0;
    this.price = 0;
    this.quantity = 0;
    this.quoteOrderQty = 0;
    this.stopPrice = 0;
    this.selfTradePrevention = 0;
    this.reserved = 0;
    this.newOrderId = 0;
    this.newClientOrderId = "";
    this.newPrice = 0;
    this.newQuantity = 0;
  }

  /** PlaceOrder: fields 1..12. */
  private place(): boolean {
    while (this.pos < this.end) {
      const tag = this.varint();
      switch (tag) {
        case 0x08:
          this.orderId = this.varint();
          break;
        case 0x12:
          this.accountId = this.string();
          break;
        case 0x1a:
          this.clientOrderId = this.string();
          break;
        case 0x20:
          this.side = this.enumValue();
          break;
        case 0x28:
          this.type = this.enumValue();
          break;
        case 0x30:
          this.timeInForce = this.enumValue();
          break;
        case 0x38:
          this.price = this.varint();
          break;
        case 0x40:
          this.quantity = this.varint();
          break;
        case 0x48:
          this.quoteOrderQty = this.varint();
          break;
        case 0x50:
          this.stopPrice = this.varint();
          break;
        case 0x58:
          this.selfTradePrevention = this.enumValue();
          break;
        case 0x60:
          this.reserved = this.varint();
          break;
        default:
          return false;
      }
      if (this.bad) return false;
    }
    return true;
  }

  /** CancelOrder: account_id = 1, order_id = 2, client_order_id = 3. */
  private cancel(): boolean {
    while (this.pos < this.end) {
      const tag = this.varint();
      switch (tag) {
        case 0x0a:
          this.accountId = this.string();
          break;
        case 0x10:
          this.orderId = this.varint();
          break;
        case 0x1a:
          this.clientOrderId = this.string();
          break;
        default:
          return false;
      }
      if (this.bad) return false;
    }
    return true;
  }

  /** ReplaceOrder: fields 1..7. */
  private replace(): boolean {
    while (this.pos < this.end) {
      const tag = this.varint();
      switch (tag) {
        case 0x0a:
          this.accountId = this.string();
          break;
        case 0x10:
          this.orderId = this.varint();
          break;
        case 0x1a:
          this.clientOrderId = this.string();
          break;
        case 0x20:
          this.newOrderId = this.varint();
          break;
        case 0x2a:
          this.newClientOrderId = this.string();
          break;
        case 0x30:
          this.newPrice = this.varint();
          break;
        case 0x38:
          this.newQuantity = this.varint();
          break;
        default:
          return false;
      }
      if (this.bad) return false;
    }
    return true;
  }

  /** An unsigned varint in 0..2^53-1 (at most 8 bytes); sets `bad` otherwise. */
  private varint(): number {
    const buf = this.buf;
    let pos = this.pos;
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= this.end || shift > 49) {
        this.bad = true;
        return 0;
      }
      const b = buf[pos++]!;
      // Up to 28 bits with bit operations, beyond that with multiplication (exact below 2^53).
      result = shift < 28 ? result | ((b & 0x7f) << shift) : result + (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
      shift += 7;
    }
    this.pos = pos;
    if (result > MAX_SAFE) this.bad = true;
    return result;
  }

  /** An enum (int32): the fast path takes only the non-negative ones. */
  private enumValue(): number {
    const value = this.varint();
    if (value > 0x7fffffff) this.bad = true;
    return value;
  }

  private string(): string {
    const length = this.varint();
    if (this.bad || length > this.end - this.pos) {
      this.bad = true;
      return "";
    }
    const buf = this.buf;
    const start = this.pos;
    this.pos = start + length;
    if (length <= 64) {
      let ascii = true;
      for (let i = start; i < start + length; i++) {
        if (buf[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii)
        return String.fromCharCode.apply(null, buf.subarray(start, start + length) as unknown as number[]);
    }
    return utf8.decode(buf.subarray(start, start + length));
  }
}
