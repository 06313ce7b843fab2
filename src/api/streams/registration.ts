import { StreamService } from '../../services/streams';
import type { ApiContext, ApiServiceRegistration } from '../registration';
import { ackResponseOf, groupStartOf, instantOf, pullResponseOf, streamInfoOf, type TimestampMessage } from './messages';
import { unary } from '../unary';

interface PullRequestMessage {
  stream: string;
  consumer_group: string;
  max_messages: number;
  visibility_timeout_seconds: number;
  consumer_id: string;
  start: string;
}

interface ReplayRequestMessage {
  stream: string;
  consumer_group: string;
  since?: TimestampMessage | null;
  from_lsn?: string;
  from?: 'since' | 'from_lsn';
}

/** proto3 leaves 0 for unset: these are the values it stands for. */
const DEFAULT_MAX_MESSAGES = 10;
const DEFAULT_VISIBILITY_SECONDS = 30;

/**
 * ductstream.v1.StreamService: each handler converts the message and calls the stream service
 * module (src/services/streams), the same one `ductstream-admin stream` uses. Streams are found
 * through the flows in DUCTSTREAM_POSTGRES_DSN.
 */
export const streamServiceRegistration: ApiServiceRegistration = {
  service: 'ductstream.v1.StreamService',
  implement: (ctx: ApiContext) => {
    const log = ctx.log.child({ service: 'StreamService' });
    const streams = new StreamService({ flows: ctx.state.flows, locateCacheMs: 2_000, poolMax: 8 });
    return {
      Pull: unary(log, 'Pull', async (r: PullRequestMessage, call) =>
        pullResponseOf(
          await streams.pull({
            stream: r.stream,
            group: r.consumer_group,
            maxMessages: r.max_messages === 0 ? DEFAULT_MAX_MESSAGES : r.max_messages,
            visibilitySeconds: r.visibility_timeout_seconds === 0 ? DEFAULT_VISIBILITY_SECONDS : r.visibility_timeout_seconds,
            consumerId: r.consumer_id || call.getPeer(),
            start: groupStartOf(r.start),
          }),
        ),
      ),
      Ack: unary(log, 'Ack', async (r: { stream: string; consumer_group: string; ids: string[] }) =>
        ackResponseOf(await streams.ack({ stream: r.stream, group: r.consumer_group, ids: r.ids.map(String) })),
      ),
      Replay: unary(log, 'Replay', async (r: ReplayRequestMessage) => {
        const since = r.from === 'since' && r.since ? instantOf(r.since, 'since') : undefined;
        const fromLsn = r.from === 'from_lsn' ? r.from_lsn : undefined;
        const res = await streams.replay({ stream: r.stream, group: r.consumer_group, since, fromLsn });
        return { reset: String(res.reset), pending: String(res.pending) };
      }),
      ListStreams: unary(log, 'ListStreams', async (r: { streams: string[] }) => ({ streams: (await streams.list(r.streams)).map(streamInfoOf) })),
    };
  },
};
