import { promisify } from 'node:util';
import zlib from 'node:zlib';

/**
 * The record batch codecs of the kafka destination: a produce request's records of one partition
 * are compressed as one block, and the batch's attributes name the codec (Kafka's ids: gzip 1,
 * snappy 2, lz4 3, zstd 4). Every codec writes what Kafka's Java producer writes, so any consumer
 * reads it (librdkafka's — kcat in the tests — included):
 * - gzip: Node's zlib;
 * - snappy: the xerial framing Kafka uses (`\x82SNAPPY\0`, version 1, compatible 1, then
 *   [int32 length · raw snappy block] per 32 KiB of input), blocks from npm `snappy` (napi-rs,
 *   binaries inside registry packages);
 * - lz4: the LZ4 frame format (KIP-57), from npm `lz4-napi` (napi-rs, lz4_flex);
 * - zstd: a zstd frame, from Node's zlib where it has zstd (Node 22.15+, 23.8+, 24), otherwise
 *   from npm `@bokuweb/zstd-wasm` (WebAssembly, no native build) — Node 20 has no zlib zstd; that
 *   one compresses on the event loop (~1 ms per 100 KB here), the others off it.
 * The npm codecs are loaded on first use, so a destination without them loads none.
 */
export const RECORD_COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type RecordCompression = (typeof RECORD_COMPRESSIONS)[number];

/** The codec id in a record batch's attributes (bits 0–2). */
export const COMPRESSION_ATTRIBUTE: Readonly<Record<RecordCompression, number>> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** Compresses a partition's encoded records (never called for `none`). */
export type RecordCompressor = (plain: Buffer) => Promise<Buffer>;

const gzip = promisify(zlib.gzip);

/** Xerial snappy header: magic `\x82SNAPPY\0`, version 1, minimum compatible version 1. */
const XERIAL_HEADER = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
/** Input bytes per xerial block (the Java client's default block size). */
const XERIAL_BLOCK = 32 * 1024;
const ZSTD_LEVEL = 3;

interface SnappyModule {
  compress(data: Buffer): Promise<Buffer>;
}
interface Lz4Module {
  compressFrame(data: Uint8Array): Promise<Buffer>;
}
interface ZstdWasmModule {
  init(): Promise<void>;
  compress(data: Uint8Array, level?: number): Uint8Array;
}
/** `zlib.zstdCompress`, where this Node has it (the Node 20 type definitions do not list it). */
type ZlibZstd = (data: Buffer, options: { params: Record<number, number>; pledgedSrcSize?: number }, cb: (e: Error | null, out: Buffer) => void) => void;

async function snappy(plain: Buffer): Promise<Buffer> {
  const m = require('snappy') as SnappyModule;
  const blocks: Promise<Buffer>[] = [];
  for (let at = 0; at < plain.length; at += XERIAL_BLOCK) blocks.push(m.compress(plain.subarray(at, at + XERIAL_BLOCK)));
  const parts: Buffer[] = [XERIAL_HEADER];
  for (const block of await Promise.all(blocks)) {
    const length = Buffer.allocUnsafe(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

async function lz4(plain: Buffer): Promise<Buffer> {
  return (require('lz4-napi') as Lz4Module).compressFrame(plain);
}

let zstdWasm: Promise<ZstdWasmModule> | undefined;

/** The zstd compressor of this Node: zlib's where present, else WebAssembly. */
export function zstdBackend(): 'zlib' | 'wasm' {
  return typeof (zlib as unknown as { zstdCompress?: unknown }).zstdCompress === 'function' ? 'zlib' : 'wasm';
}

async function zstd(plain: Buffer): Promise<Buffer> {
  if (zstdBackend() === 'zlib') {
    const z = zlib as unknown as { zstdCompress: ZlibZstd; constants: Record<string, number> };
    const level = z.constants.ZSTD_c_compressionLevel!;
    return new Promise((resolve, reject) =>
      z.zstdCompress(plain, { params: { [level]: ZSTD_LEVEL }, pledgedSrcSize: plain.length }, (e, out) => (e ? reject(e) : resolve(out))),
    );
  }
  zstdWasm ??= (async () => {
    const m = require('@bokuweb/zstd-wasm') as ZstdWasmModule;
    await m.init();
    return m;
  })();
  const m = await zstdWasm;
  const out = m.compress(plain, ZSTD_LEVEL);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** The compressor of `codec`; undefined for `none`. */
export function recordCompressor(codec: RecordCompression): RecordCompressor | undefined {
  switch (codec) {
    case 'none':
      return undefined;
    case 'gzip':
      return gzip;
    case 'snappy':
      return snappy;
    case 'lz4':
      return lz4;
    case 'zstd':
      return zstd;
  }
}
