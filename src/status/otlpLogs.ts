import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { setLogSink, type LogLevel } from '../core/log';

/** OTLP severity numbers (opentelemetry-proto logs.proto SeverityNumber). */
const SEVERITY: Record<LogLevel, number> = { debug: 5, info: 9, warn: 13, error: 17 };

let provider: LoggerProvider | undefined;

/**
 * Exports DuctStream's own log records (every `createLogger` logger) to an OTLP/HTTP logs endpoint
 * (`DBOS__OTLP_LOGS_ENDPOINT`), beside their stderr lines, with their level as severity and their
 * fields as attributes (redacted as on stderr). Records are batched; `stopOtlpLogs` flushes them.
 * DBOS's own records go through DBOS's exporter to the same endpoint.
 */
export function startOtlpLogs(endpoint: string, service: string): void {
  if (provider) return;
  provider = new LoggerProvider({
    processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: endpoint }), scheduledDelayMillis: 1000 })],
  });
  const logger = provider.getLogger('ductstream');
  setLogSink((level, message, fields) =>
    logger.emit({ severityNumber: SEVERITY[level], severityText: level.toUpperCase(), body: message, attributes: { 'service.name': service, ...fields } }),
  );
}

/** Flushes what is buffered and stops the export (stderr logging goes on). */
export async function stopOtlpLogs(): Promise<void> {
  const p = provider;
  provider = undefined;
  setLogSink(undefined);
  await p?.shutdown().catch(() => undefined);
}
