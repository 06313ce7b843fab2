import type { TableRef } from '../../core/change';
import { DuctError, invalidArgument } from '../../core/errors';

/**
 * The `topic` option: a fixed topic (`orders`) or a template with `{schema}` and `{table}`
 * (`cdc.{schema}.{table}`), so each table can get its own topic. Substituted names keep letters,
 * digits, `.`, `_` and `-`; any other character becomes `_` (Kafka's topic alphabet).
 */
export interface TopicTemplate {
  text: string;
  parts: Array<{ literal: string } | { placeholder: 'schema' | 'table' }>;
}

const LEGAL = /^[A-Za-z0-9._-]*$/;
const MAX_TOPIC_LENGTH = 249;

export function parseTopicTemplate(text: string, field: string): TopicTemplate {
  const parts: TopicTemplate['parts'] = [];
  const re = /\{([^}]*)\}/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) parts.push({ literal: text.slice(last, m.index) });
    const name = m[1]!;
    if (name !== 'schema' && name !== 'table')
      throw invalidArgument(field, `unknown placeholder {${name}}`, 'use {schema} and {table}, e.g. cdc.{schema}.{table}');
    parts.push({ placeholder: name });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push({ literal: text.slice(last) });
  for (const p of parts) {
    if ('literal' in p && !LEGAL.test(p.literal)) {
      throw invalidArgument(
        field,
        `"${text}" has characters Kafka does not allow in topic names`,
        'use letters, digits, . _ - and the placeholders {schema} and {table}',
      );
    }
  }
  if (parts.length === 0) throw invalidArgument(field, 'is empty', 'set a topic name or a template such as {schema}.{table}');
  return { text, parts };
}

/** The topic of `table`. Throws (never retried) when the result is too long for Kafka. */
export function topicFor(t: TopicTemplate, table: TableRef): string {
  let out = '';
  for (const p of t.parts) {
    if ('literal' in p) out += p.literal;
    else out += (p.placeholder === 'schema' ? table.schema : table.name).replace(/[^A-Za-z0-9._-]/g, '_');
  }
  if (out.length > MAX_TOPIC_LENGTH || out === '.' || out === '..') {
    throw new DuctError('invalid_argument', `topic "${out.slice(0, 60)}..." for ${table.schema}.${table.name} is not a valid Kafka topic name`, {
      retry: 'never',
      hint: 'shorten the topic template (at most 249 characters after substitution)',
    });
  }
  return out;
}
