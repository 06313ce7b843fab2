import { makeData, type Data, type DataType } from 'apache-arrow';
import type { Column, Value } from '../core/change';
import { dateToEpochDays, timestampToEpochMicros } from '../core/time';
import { arrowType, type ArrowMapping } from './arrowTypes';
import { badValue } from './envelope';
import { jsonFallbackText } from './jsonValues';
import { decimalToUnscaledFast, timeToMicros } from './values';

/**
 * Column builders that write Arrow buffers directly (no per-value Builder objects): each `push`
 * appends one value or null, `finish` returns the Arrow `Data`. Values are converted by the
 * mapping chosen in `arrowTypes.ts`; a value of the wrong JS type throws (a source bug).
 */

/** A growable typed array. */
class Grow<T extends Int32Array | BigInt64Array | Float64Array | Uint32Array | Int16Array | Uint8Array> {
  arr: T;
  len = 0;
  constructor(
    private readonly make: (n: number) => T,
    cap = 64,
  ) {
    this.arr = make(cap);
  }
  reserve(extra: number): void {
    if (this.len + extra <= this.arr.length) return;
    let cap = this.arr.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = this.make(cap);
    next.set(this.arr as never);
    this.arr = next;
  }
  view(): T {
    return this.arr.subarray(0, this.len) as T;
  }
}

class Validity {
  private bits = new Grow((n) => new Uint8Array(n));
  length = 0;
  nulls = 0;
  push(valid: boolean): void {
    const i = this.length++;
    if ((i & 7) === 0) {
      this.bits.reserve(1);
      this.bits.arr[this.bits.len++] = 0;
    }
    if (valid) this.bits.arr[i >> 3]! |= 1 << (i & 7);
    else this.nulls++;
  }
  /** The validity bitmap, or undefined when nothing is null (Arrow then omits it). */
  bitmap(): Uint8Array | undefined {
    return this.nulls ? this.bits.view() : undefined;
  }
  /** The packed bits, always. */
  packed(): Uint8Array {
    return this.bits.view();
  }
}

export function uint32Builder(type: DataType): ColumnBuilder {
  return new Uint32Builder(type, (v) => v as number, 0);
}

export function int64Builder(type: DataType): ColumnBuilder {
  return new MicrosBuilder(type, (v) => (typeof v === 'bigint' ? v : BigInt(v as number)), 0n);
}

export function utf8Builder(type: DataType): ColumnBuilder {
  return new VarBuilder(type, (v) => v as string);
}

export function utf8ListBuilder(type: DataType, item: DataType): ColumnBuilder {
  const pseudo: Column = {
    name: 'list',
    pgType: '_text',
    typeOid: 1009,
    typmod: -1,
    formattedType: 'text[]',
    nullable: false,
    valueKind: 'array',
    elementKind: 'text',
  };
  return new ListBuilder(type, new VarBuilder(item, (v) => v as string), pseudo);
}

export interface ColumnBuilder {
  readonly type: DataType;
  push(value: Value | undefined): void;
  finish(): Data;
}

type Convert<T> = (v: Value) => T;

/** A column's Data: its type, length and validity, plus the buffers `parts` names (data, offsets, children). */
function columnData(type: DataType, valid: Validity, parts: Record<string, unknown>): Data {
  return makeData({ type, length: valid.length, nullCount: valid.nulls, nullBitmap: valid.bitmap(), ...parts } as never);
}

/** Value offsets of a variable-length column: one entry per row plus the leading 0. */
function newOffsets(): Grow<Int32Array> {
  const offsets = new Grow((n) => new Int32Array(n));
  appendOffset(offsets, 0);
  return offsets;
}

function appendOffset(offsets: Grow<Int32Array>, at: number): void {
  offsets.reserve(1);
  offsets.arr[offsets.len++] = at;
}

/**
 * Fixed-width builders, one class per typed-array kind: V8 then sees one array type per `push`
 * (a single shared class made every store megamorphic and cost ~2x).
 */
function fixedKind<T extends number | bigint, A extends Int16Array | Int32Array | Uint32Array | BigInt64Array | Float64Array>(make: (n: number) => A) {
  return class FixedBuilder implements ColumnBuilder {
    private valid = new Validity();
    private arr: A = make(64);
    private len = 0;
    constructor(
      readonly type: DataType,
      private readonly convert: Convert<T>,
      private readonly zero: T,
    ) {}
    push(v: Value | undefined): void {
      if (this.len === this.arr.length) {
        const next = make(this.len * 2);
        next.set(this.arr as never);
        this.arr = next;
      }
      const ok = v !== null && v !== undefined;
      (this.arr as unknown as T[])[this.len++] = ok ? this.convert(v) : this.zero;
      this.valid.push(ok);
    }
    finish(): Data {
      return columnData(this.type, this.valid, { data: this.arr.subarray(0, this.len) });
    }
  };
}

const Int16Builder = fixedKind<number, Int16Array>((n) => new Int16Array(n));
const Int32Builder = fixedKind<number, Int32Array>((n) => new Int32Array(n));
const DateBuilder = fixedKind<number, Int32Array>((n) => new Int32Array(n));
const Uint32Builder = fixedKind<number, Uint32Array>((n) => new Uint32Array(n));
const Int64Builder = fixedKind<bigint, BigInt64Array>((n) => new BigInt64Array(n));
const MicrosBuilder = fixedKind<bigint, BigInt64Array>((n) => new BigInt64Array(n));
const Float64Builder = fixedKind<number, Float64Array>((n) => new Float64Array(n));

class BoolBuilder implements ColumnBuilder {
  private valid = new Validity();
  private bits = new Validity(); // reuses the bit packing: "valid" = true value
  constructor(
    readonly type: DataType,
    private readonly column: Column,
  ) {}
  push(v: Value | undefined): void {
    const ok = v !== null && v !== undefined;
    if (ok && typeof v !== 'boolean') throw badValue(this.column, v, 'arrow');
    this.bits.push(ok && v === true);
    this.valid.push(ok);
  }
  finish(): Data {
    return columnData(this.type, this.valid, { data: this.bits.packed() });
  }
}

const TWO32 = 4294967296;

class DecimalBuilder implements ColumnBuilder {
  private valid = new Validity();
  private words = new Grow((n) => new Uint32Array(n));
  constructor(
    readonly type: DataType,
    private readonly convert: Convert<number | bigint>,
  ) {}
  push(v: Value | undefined): void {
    this.words.reserve(4);
    const w = this.words.arr;
    const at = this.words.len;
    this.words.len += 4;
    const ok = v !== null && v !== undefined;
    const x = ok ? this.convert(v) : 0;
    if (typeof x === 'number') {
      // Exact integers below 2^53: two's complement words without BigInt.
      const m = x >= 0 ? x : -x - 1;
      const lo = m % TWO32;
      const hi = (m - lo) / TWO32;
      const fill = x >= 0 ? 0 : 0xffffffff;
      w[at] = (lo ^ fill) >>> 0;
      w[at + 1] = (hi ^ fill) >>> 0;
      w[at + 2] = fill;
      w[at + 3] = fill;
    } else {
      let u = BigInt.asUintN(128, x);
      for (let i = 0; i < 4; i++) {
        w[at + i] = Number(u & 0xffffffffn);
        u >>= 32n;
      }
    }
    this.valid.push(ok);
  }
  finish(): Data {
    return columnData(this.type, this.valid, { data: this.words.view() });
  }
}

/** Utf8 and Binary: offsets plus bytes. */
class VarBuilder implements ColumnBuilder {
  private valid = new Validity();
  private offsets = newOffsets();
  private bytes = new Grow((n) => Buffer.allocUnsafe(n), 1024);
  constructor(
    readonly type: DataType,
    private readonly toBytes: (v: Value) => string | Buffer,
  ) {}
  push(v: Value | undefined): void {
    const ok = v !== null && v !== undefined;
    if (ok) {
      const b = this.toBytes(v);
      if (typeof b === 'string') {
        this.bytes.reserve(b.length * 3);
        this.bytes.len += (this.bytes.arr as Buffer).write(b, this.bytes.len, 'utf8');
      } else {
        this.bytes.reserve(b.length);
        this.bytes.arr.set(b, this.bytes.len);
        this.bytes.len += b.length;
      }
    }
    appendOffset(this.offsets, this.bytes.len);
    this.valid.push(ok);
  }
  finish(): Data {
    return columnData(this.type, this.valid, { valueOffsets: this.offsets.view(), data: this.bytes.view() });
  }
}

class ListBuilder implements ColumnBuilder {
  private valid = new Validity();
  private offsets = newOffsets();
  private count = 0;
  constructor(
    readonly type: DataType,
    private readonly child: ColumnBuilder,
    private readonly column: Column,
  ) {}
  push(v: Value | undefined): void {
    const ok = v !== null && v !== undefined;
    if (ok) {
      if (!Array.isArray(v)) throw badValue(this.column, v, 'arrow');
      for (const e of v) this.child.push(e);
      this.count += v.length;
    }
    appendOffset(this.offsets, this.count);
    this.valid.push(ok);
  }
  finish(): Data {
    return columnData(this.type, this.valid, { valueOffsets: this.offsets.view(), child: this.child.finish() });
  }
}

/** A builder for one column under `mapping`. */
export function columnBuilder(column: Column, m: ArrowMapping): ColumnBuilder {
  const type = arrowType(m);
  const bad = (v: Value): never => {
    throw badValue(column, v, 'arrow');
  };
  const str = (v: Value): string => (typeof v === 'string' ? v : bad(v));
  switch (m.kind) {
    case 'bool':
      return new BoolBuilder(type, column);
    case 'int16':
      return new Int16Builder(type, (v) => (typeof v === 'number' ? v : bad(v)), 0);
    case 'int32':
      return new Int32Builder(type, (v) => (typeof v === 'number' ? v : bad(v)), 0);
    case 'int64':
      return new Int64Builder(
        type,
        (v) => (typeof v === 'bigint' ? v : Number.isInteger(v) || (typeof v === 'string' && /^-?\d+$/.test(v)) ? BigInt(v as number) : bad(v)),
        0n,
      );
    case 'float64':
      return new Float64Builder(type, (v) => (typeof v === 'number' ? v : bad(v)), 0);
    case 'decimal':
      return new DecimalBuilder(type, (v) => decimalToUnscaledFast(str(v), m) ?? bad(v));
    case 'date32':
      return new DateBuilder(type, (v) => dateToEpochDays(str(v)), 0);
    case 'timestamp':
      return new MicrosBuilder(type, (v) => timestampToEpochMicros(str(v)), 0n);
    case 'time64':
      return new MicrosBuilder(type, (v) => timeToMicros(str(v)) ?? bad(v), 0n);
    case 'binary':
      return new VarBuilder(type, (v) => (Buffer.isBuffer(v) ? v : bad(v)));
    case 'list':
      return new ListBuilder(type, columnBuilder(m.elementColumn, m.element), column);
    case 'fallback':
      return new VarBuilder(type, (v) => (m.text === 'json' ? jsonFallbackText(v, column) : str(v)));
    default:
      return new VarBuilder(type, str);
  }
}

/** A struct of child builders; a null struct row pushes null into every child. */
export class StructBuilder {
  private valid = new Validity();
  constructor(
    readonly type: DataType,
    private readonly columns: Column[],
    private readonly children: ColumnBuilder[],
  ) {}
  push(row: Record<string, Value | undefined> | null): void {
    for (let i = 0; i < this.children.length; i++) this.children[i]!.push(row ? row[this.columns[i]!.name] : null);
    this.valid.push(row !== null);
  }
  finish(): Data {
    return columnData(this.type, this.valid, { children: this.children.map((c) => c.finish()) });
  }
}
