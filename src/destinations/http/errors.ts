import { DuctError, type RetryClass } from '../../core/errors';
import type { TransportError, WebhookResponse } from './client';

/** A failed webhook delivery, classified where it happened; carries the peer's Retry-After. */
export class WebhookError extends DuctError {
  constructor(
    message: string,
    retry: RetryClass,
    hint: string | undefined,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(retry === 'never' ? 'destination_failed' : 'unavailable', message, { retry, hint });
    this.name = 'WebhookError';
  }
}

export interface WebhookErrorContext {
  /** `http destination "name": POST http://host/path` — already safe to show. */
  target: string;
  urlField: string;
  /** Removes header values from peer text. */
  scrub(text: string): string;
}

/**
 * The retry class of an HTTP status: 2xx is success (undefined); 408, 429 and 5xx are retried
 * with backoff (honouring Retry-After); every other status (3xx, 4xx) is permanent.
 */
export function statusRetryClass(status: number): RetryClass | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 408 || status === 429 || status >= 500) return 'backoff';
  return 'never';
}

export function responseError(resp: WebhookResponse, ctx: WebhookErrorContext): WebhookError | undefined {
  const retry = statusRetryClass(resp.status);
  if (retry === undefined) return undefined;
  const body = ctx.scrub(resp.bodyStart.replace(/\s+/g, ' ').trim()).slice(0, 200);
  const what = `${ctx.target} answered ${resp.status}${resp.statusText ? ' ' + resp.statusText : ''}${body ? `: ${body}` : ''}`;
  let hint: string | undefined;
  if (resp.status === 401 || resp.status === 403) hint = 'check the credentials in the headers option';
  else if (resp.status === 404 || resp.status === 405) hint = `check ${ctx.urlField} and method`;
  else if (resp.status >= 300 && resp.status < 400) hint = `redirects are not followed: set ${ctx.urlField} to the final location`;
  else if (retry === 'never') hint = 'the endpoint refused the change permanently; fix the endpoint or the flow, then resume it';
  return new WebhookError(retry === 'never' ? `${what} (permanent)` : what, retry, hint, resp.status, resp.retryAfterMs);
}

export function transportFailure(e: TransportError, ctx: WebhookErrorContext): WebhookError {
  const hint = e.code === 'ENOTFOUND' || e.code === 'ECONNREFUSED' ? `check that ${ctx.urlField} points at a listening endpoint` : undefined;
  return new WebhookError(`${ctx.target} failed: ${ctx.scrub(e.message)} (${e.code})`, 'backoff', hint);
}
