/** The wire formats: codecs, the registry and the format-resolution rules. */
export { WIRE_FORMATS, isWireFormat, type Codec, type ChangeEnvelope, type WireFormat } from './codec';
export { envelopeOf, formatCommitTime } from './envelope';
export {
  getCodec,
  parseWireFormat,
  parseParquetCompression,
  resolveWireFormat,
  assertFormatAllowed,
  PARQUET_COMPRESSIONS,
  type CodecOptions,
  type ParquetCompression,
  type WireFormatFields,
} from './registry';
