import { tableFromIPC, tableToIPC } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, readParquet, writeParquet } from 'parquet-wasm';
import { arrowToEnvelopes, changesToArrow } from './arrow';
import type { Codec } from './codec';
import { badPayload } from './envelope';
import type { ParquetCompression } from './registry';

/**
 * The parquet wire format: the Arrow table of `arrow.ts` (same layout, same type mapping and per-file
 * text fallback, see `arrowTypes.ts` for the Parquet physical/logical types) written by parquet-wasm
 * as one Parquet file (row groups of up to 1M rows). A message is a one-row file. The `compression` option
 * picks the column codec (snappy by default; zstd, gzip, brotli, lz4 = LZ4_RAW, none). The Arrow
 * schema is embedded (`ARROW:schema`), so Arrow readers get the exact types and field metadata back;
 * DuckDB's `read_parquet` reads `after.<column>` etc. as STRUCT fields.
 */

const COMPRESSION: Record<ParquetCompression, Compression> = {
  snappy: Compression.SNAPPY,
  zstd: Compression.ZSTD,
  gzip: Compression.GZIP,
  brotli: Compression.BROTLI,
  lz4: Compression.LZ4_RAW,
  none: Compression.UNCOMPRESSED,
};

export interface ParquetCodecOptions {
  compression: ParquetCompression;
}

export function createParquetCodec(options: ParquetCodecOptions): Codec {
  const encode: Codec['encodeFile'] = (changes, schema) => {
    const ipc = tableToIPC(changesToArrow(changes, schema), 'stream');
    // writeParquet consumes (frees) both the wasm table and the properties.
    const props = new WriterPropertiesBuilder().setCompression(COMPRESSION[options.compression]).setCreatedBy('ductstream').build();
    return writeParquet(WasmTable.fromIPCStream(ipc), props);
  };
  const decode: Codec['decodeFile'] = (bytes, schema) => {
    let ipc: Uint8Array;
    try {
      ipc = readParquet(bytes).intoIPCStream();
    } catch (e) {
      throw badPayload('parquet', `not a readable Parquet file (${String(e)})`, e);
    }
    return arrowToEnvelopes(tableFromIPC(ipc), schema, 'parquet');
  };
  return {
    format: 'parquet',
    contentType: 'application/vnd.apache.parquet',
    fileContentType: 'application/vnd.apache.parquet',
    fileExtension: 'parquet',
    encodeMessage: (change, schema) => encode([change], schema),
    encodeFile: encode,
    decodeMessage(bytes, schema) {
      const all = decode(bytes, schema);
      if (all.length !== 1) throw badPayload('parquet', `a message must hold one change, found ${all.length}`);
      return all[0]!;
    },
    decodeFile: decode,
  };
}
