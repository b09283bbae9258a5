// Kafka errors are sorted by kafkajs's types, as kafkajs itself builds and wraps them: protocol
// errors from its own error-code table, wrapped by its own retrier.
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { classifyKafkaError } from '../../src/bridge/kafka-errors.js';

const require = createRequire(import.meta.url);
/** How kafkajs turns a broker's error code into an error (what a heartbeat, commit or produce answer throws). */
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode: (code: number) => Error };
/** kafkajs's retrier, as its consumer and producer use it around each request. */
const createRetry = require('kafkajs/src/retry') as (options: object) => (fn: () => Promise<unknown>) => Promise<unknown>;
const { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded } = kafkajs;

const CODE = { LEADER_NOT_AVAILABLE: 5, MESSAGE_TOO_LARGE: 10, ILLEGAL_GENERATION: 22, UNKNOWN_MEMBER_ID: 25, REBALANCE_IN_PROGRESS: 27, TOPIC_AUTHORIZATION_FAILED: 29 };

/** What kafkajs's retrier rejects with after `error` kept being thrown. */
async function throughRetrier(error: Error): Promise<unknown> {
  return createRetry({ retries: 2, initialRetryTime: 1, maxRetryTime: 2 })(() => Promise.reject(error)).then(
    () => undefined,
    (wrapped: unknown) => wrapped,
  );
}

describe('Kafka errors, sorted by type', () => {
  it.each(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID'] as const)('%s is a rebalance, bare or wrapped by the retrier', async (type) => {
    const error = createErrorFromCode(CODE[type]);
    const wrapped = await throughRetrier(error);
    expect(wrapped).toBeInstanceOf(KafkaJSNonRetriableError);
    for (const e of [error, wrapped]) expect(classifyKafkaError(e)).toMatchObject({ kind: 'rebalance', name: 'KafkaJSProtocolError', type });
  });

  it('a retriable error the retrier gave up on is still retriable: Kafka is unavailable for now', async () => {
    const leaderMoving = await throughRetrier(createErrorFromCode(CODE.LEADER_NOT_AVAILABLE));
    expect(leaderMoving).toBeInstanceOf(KafkaJSNumberOfRetriesExceeded);
    expect(classifyKafkaError(leaderMoving)).toMatchObject({ kind: 'retriable', type: 'LEADER_NOT_AVAILABLE' });
    const unreachable = await throughRetrier(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', { broker: '127.0.0.1:9092' }));
    expect(classifyKafkaError(unreachable)).toMatchObject({ kind: 'retriable', name: 'KafkaJSConnectionError' });
  });

  it.each(['MESSAGE_TOO_LARGE', 'TOPIC_AUTHORIZATION_FAILED'] as const)('%s is fatal: retrying cannot help', async (type) => {
    const wrapped = await throughRetrier(createErrorFromCode(CODE[type]));
    expect(classifyKafkaError(wrapped)).toMatchObject({ kind: 'fatal', type });
  });

  it('is not fooled by message text: only types count', () => {
    expect(classifyKafkaError(new Error('The group is rebalancing, so a rejoin is needed'))).toMatchObject({ kind: 'fatal', name: 'Error' });
    expect(classifyKafkaError('REBALANCE_IN_PROGRESS')).toMatchObject({ kind: 'fatal' });
  });
});
