import { DataType, Type, type Data, type Field } from 'apache-arrow';
import type { Column, Value } from '../core/change';
import { epochDaysToDate, epochMicrosToTimestamp } from '../core/time';
import { FALLBACK_KEY } from './arrowTypes';
import { badPayload } from './envelope';
import { parseJson } from './jsonParse';
import { decodeJsonValue } from './jsonValues';
import { elementColumn, microsToTime, unscaledToDecimal } from './values';

/**
 * Reads Arrow `Data` back into `Change` value forms, from the raw buffers (apache-arrow's own
 * getters turn Timestamp(MICROSECOND) into milliseconds, which would lose precision). The Arrow
 * type says how a value is stored; the column's value kind says what JS form to return.
 */

export type ValueReader = (i: number) => Value;

/** A reader of `data` (a column of `column`, described by `field`). Null slots read as null. */
export function valueReader(data: Data, field: Field, column: Column, format = 'arrow'): ValueReader {
  const inner = typedReader(data, field.type as DataType, column, field.metadata.get(FALLBACK_KEY), format);
  return (i) => (data.getValid(i) ? inner(i) : null);
}

function typedReader(data: Data, type: DataType, column: Column, fallback: string | undefined, format: string): ValueReader {
  const values = data.values as unknown;
  switch (type.typeId) {
    case Type.Bool: {
      const bits = values as Uint8Array;
      const off = data.offset;
      return (i) => ((bits[(off + i) >> 3]! >> ((off + i) & 7)) & 1) === 1;
    }
    case Type.Int: {
      const arr = values as Int16Array | Int32Array | Uint32Array | BigInt64Array;
      if (arr instanceof BigInt64Array) return column.valueKind === 'bigint' ? (i) => arr[i]! : (i) => Number(arr[i]!);
      return column.valueKind === 'bigint' ? (i) => BigInt(arr[i] as number) : (i) => arr[i] as number;
    }
    case Type.Float: {
      const arr = values as Float64Array;
      return (i) => arr[i]!;
    }
    case Type.Decimal: {
      const words = values as Uint32Array;
      const scale = (type as unknown as { scale: number }).scale;
      return (i) => {
        let x = 0n;
        for (let w = 3; w >= 0; w--) x = (x << 32n) | BigInt(words[i * 4 + w]!);
        return unscaledToDecimal(BigInt.asIntN(128, x), scale);
      };
    }
    case Type.Date: {
      const arr = values as Int32Array;
      return (i) => epochDaysToDate(arr[i]!);
    }
    case Type.Timestamp: {
      const arr = values as BigInt64Array;
      const utc = Boolean((type as unknown as { timezone?: string | null }).timezone);
      return (i) => epochMicrosToTimestamp(arr[i]!, utc);
    }
    case Type.Time: {
      const arr = values as BigInt64Array;
      return (i) => microsToTime(arr[i]!);
    }
    case Type.Binary:
    case Type.Utf8: {
      const offsets = data.valueOffsets as Int32Array;
      const bytes = values as Uint8Array;
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      if (type.typeId === Type.Binary) return (i) => Buffer.from(buf.subarray(offsets[i], offsets[i + 1]));
      const text = (i: number) => buf.toString('utf8', offsets[i], offsets[i + 1]);
      if (fallback === 'json') {
        return (i) => {
          try {
            return decodeJsonValue(parseJson(text(i)), column, format);
          } catch (e) {
            throw badPayload(format, `column "${column.name}": bad JSON fallback text`, e);
          }
        };
      }
      return text;
    }
    case Type.List: {
      const offsets = data.valueOffsets as Int32Array;
      const childData = data.children[0]!;
      const childField = (type as unknown as { children: Field[] }).children[0]!;
      const child = valueReader(childData, childField, elementColumn(column), format);
      return (i) => {
        const out: Value[] = [];
        for (let j = offsets[i]!; j < offsets[i + 1]!; j++) out.push(child(j));
        return out;
      };
    }
    default:
      throw badPayload(format, `column "${column.name}": unsupported Arrow type ${Type[type.typeId] ?? type.typeId}`);
  }
}
