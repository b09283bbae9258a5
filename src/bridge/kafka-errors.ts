// Kafka errors sorted by what they mean for a bridge, from kafkajs's error types and flags, never
// from message text: a rebalance (this member's generation is over; its partitions are assigned
// again), a retriable condition (Kafka unreachable, a leader moving: it passes), or a fatal one
// (refused for good: too large, not authorized, unknown to this client).
import kafkajs from 'kafkajs';

const { KafkaJSError, KafkaJSProtocolError } = kafkajs;

export type KafkaErrorKind = 'rebalance' | 'retriable' | 'fatal';

export interface KafkaErrorInfo {
  kind: KafkaErrorKind;
  /** The root cause's class (KafkaJSProtocolError, KafkaJSConnectionError, …) and protocol type, if any. */
  name: string;
  type?: string;
  message: string;
}

/** Protocol errors that end this member's generation: it must join the group again. */
const REBALANCE_TYPES = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

export function classifyKafkaError(error: unknown): KafkaErrorInfo {
  // kafkajs's retrier wraps what it gave up on (KafkaJSNonRetriableError,
  // KafkaJSNumberOfRetriesExceeded) around the original error, its `cause`: the root decides.
  const chain: unknown[] = [];
  for (let e: unknown = error; e !== undefined && e !== null && !chain.includes(e); e = (e as { cause?: unknown }).cause) chain.push(e);
  const root = [...chain].reverse().find((e) => e instanceof KafkaJSError) as InstanceType<typeof KafkaJSError> | undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (!root) return { kind: 'fatal', name: error instanceof Error ? error.name : typeof error, message };
  const type = root instanceof KafkaJSProtocolError ? root.type : undefined;
  const kind: KafkaErrorKind = type && REBALANCE_TYPES.has(type) ? 'rebalance' : root.retriable ? 'retriable' : 'fatal';
  return { kind, name: root.name, ...(type ? { type } : {}), message };
}
