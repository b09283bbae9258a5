// What a bridge reports about itself: Prometheus metrics (the names follow Prometheus' own
// conventions, so stock alerting rules read them) and a structured JSON log.
import pino, { type Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How often the consumer-lag gauge is refreshed from the group's committed offsets. */
export const LAG_REFRESH_MS = 5000;

export interface BridgeMetrics {
  registry: Registry;
  consumed: Counter;
  written: Counter;
  retried: Counter;
  deadLettered: Counter<'reason'>;
  batchSeconds: Histogram;
  lag: Gauge<'topic' | 'partition'>;
  heldLines: Gauge;
  heldBytes: Gauge;
  writesInFlight: Gauge;
}

/**
 * The bridge's metrics. `deadLetterKinds` (the sink's) are counted from 0: a labelled counter is
 * otherwise born at its first increment, and rate() over a series that starts at 1 sees no increase,
 * so the first dead letter of a kind would never show on the pipeline-health dashboard.
 */
export function bridgeMetrics(bridge: string, deadLetterKinds: readonly string[] = []): BridgeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ bridge });
  collectDefaultMetrics({ register: registry });
  const metrics: BridgeMetrics = {
    registry,
    consumed: new Counter({ name: 'cdnkit_bridge_consumed_lines_total', help: 'Lines read from Kafka', registers: [registry] }),
    written: new Counter({ name: 'cdnkit_bridge_written_lines_total', help: 'Lines the sink acknowledged', registers: [registry] }),
    retried: new Counter({ name: 'cdnkit_bridge_retried_lines_total', help: 'Lines written again after a retriable sink failure', registers: [registry] }),
    deadLettered: new Counter({
      name: 'cdnkit_bridge_dead_lettered_lines_total',
      help: 'Lines sent to the dead-letter topic, by kind of reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'cdnkit_bridge_batch_duration_seconds',
      help: 'From receiving a batch to committing its offsets',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'cdnkit_bridge_consumer_lag_lines',
      help: `Messages beyond the group's committed offset (the partition's high watermark minus it), per partition assigned to this instance; refreshed every ${LAG_REFRESH_MS / 1000} s`,
      labelNames: ['topic', 'partition'],
      registers: [registry],
    }),
    heldLines: new Gauge({
      name: 'cdnkit_bridge_held_lines',
      help: 'Lines read from Kafka and not yet committed or let go (bounded by maxHeldLines)',
      registers: [registry],
    }),
    heldBytes: new Gauge({
      name: 'cdnkit_bridge_held_bytes',
      help: 'Bytes of those lines (bounded by maxHeldBytes)',
      registers: [registry],
    }),
    writesInFlight: new Gauge({
      name: 'cdnkit_bridge_sink_writes_in_flight',
      help: 'Requests to the sink in flight (bounded by maxConcurrentWrites)',
      registers: [registry],
    }),
  };
  for (const reason of deadLetterKinds) metrics.deadLettered.inc({ reason }, 0);
  return metrics;
}

export function bridgeLogger(bridge: string): Logger {
  return pino({ base: { bridge }, level: process.env.CDNKIT_LOG_LEVEL ?? 'info', timestamp: pino.stdTimeFunctions.isoTime });
}
