// One simulation run: the model draws requests, the edge's lines go to the destination at the
// paced rate, and the ground truth counts what was sent.
import type { KitConfig } from '../config/schema.js';
import type { Destination } from './destinations.js';
import { EdgeLines, type SyslogFormat } from './lines.js';
import { TrafficModel, type SimRequest } from './model.js';
import { LivePacer, Pacer } from './pacing.js';
import type { Scenario } from './scenarios.js';
import { GroundTruth, type Truth } from './truth.js';

export interface TrafficOptions {
  config: KitConfig;
  seed: number;
  /** Simulated time of the first request, ms since the epoch. */
  startMs: number;
  /** Mean simulated requests per second of event time. */
  requestsPerSecond: number;
  dayMs?: number;
  /** Stop after this many requests... */
  count?: number;
  /** ...or once event time is this far past the start (ms); without either, until stopped. */
  durationMs?: number;
  scenarios?: Scenario[];
  format: SyslogFormat;
}

export interface RunOptions extends TrafficOptions {
  /** Lines per second sent; 0 for as fast as the destination takes them. */
  rate: number;
  /** Instead of `rate`: send each request when the wall clock reaches its event time. */
  live?: boolean;
  truth?: boolean;
  /** Aborting ends the run after the current request (Ctrl-C). */
  signal?: AbortSignal;
  /** Called about once a second. */
  onProgress?: (progress: Progress) => void;
}

export interface Progress {
  requests: number;
  metricLines: number;
  errorLines: number;
  /** Event time of the last request, ms since the epoch. */
  eventTimeMs: number;
  elapsedSeconds: number;
  /** Lines per second over the last interval. */
  linesPerSecond: number;
  /** Seconds spent waiting for a slow receiver, and behind the paced schedule. */
  waitedSeconds: number;
  behindSeconds: number;
}

export interface RunResult {
  summary: Progress & { firstEventMs: number; meanLinesPerSecond: number };
  truth?: Truth;
}

/** One request and the lines the edge sends for it, enveloped in the chosen syslog format. */
export interface EdgeRequest {
  request: SimRequest;
  /** The line-protocol point, sent first. */
  metric: string;
  /** The error JSON, for a status at or above errors.minStatus. */
  log: string | undefined;
}

/**
 * The simulated traffic, request by request, until --count or --duration (or for ever). The model
 * is built at once, so a scenario it cannot apply is refused here, before anything is sent.
 */
export function edgeTraffic(options: TrafficOptions): Generator<EdgeRequest, void, undefined> {
  const model = new TrafficModel(options.config, {
    seed: options.seed,
    startMs: options.startMs,
    requestsPerSecond: options.requestsPerSecond,
    ...(options.dayMs === undefined ? {} : { dayMs: options.dayMs }),
    scenarios: options.scenarios ?? [],
  });
  return requests(model, options);
}

function* requests(model: TrafficModel, options: TrafficOptions): Generator<EdgeRequest, void, undefined> {
  const { config, format } = options;
  const edge = new EdgeLines(config);
  const count = options.count ?? Number.POSITIVE_INFINITY;
  const endUs = options.durationMs === undefined ? Number.POSITIVE_INFINITY : (options.startMs + options.durationMs) * 1000;
  for (let n = 0; n < count; n++) {
    const request = model.next();
    if (request.endUs >= endUs) return;
    const json = edge.errorJson(request);
    yield {
      request,
      metric: edge.envelope(format, 'metrics', edge.metricLine(request), request),
      log: json === undefined ? undefined : edge.envelope(format, 'logs', json, request),
    };
  }
}

/** Runs the traffic into a destination; `traffic` is edgeTraffic(options), made before connecting. */
export async function runSimulation(options: RunOptions, destination: Destination, traffic = edgeTraffic(options)): Promise<RunResult> {
  const truth = options.truth ? new GroundTruth(options.config) : undefined;
  const pacer = options.live ? new LivePacer(options.startMs) : new Pacer(options.rate);
  const started = performance.now();
  let requests = 0;
  let metricLines = 0;
  let errorLines = 0;
  let eventTimeMs = options.startMs;
  let firstEventMs = Number.NaN;
  let lastReport = { at: started, lines: 0 };

  const progress = (now: number): Progress => {
    const lines = metricLines + errorLines;
    const interval = (now - lastReport.at) / 1000;
    const linesPerSecond = interval > 0 ? (lines - lastReport.lines) / interval : 0;
    lastReport = { at: now, lines };
    return {
      requests,
      metricLines,
      errorLines,
      eventTimeMs,
      elapsedSeconds: (now - started) / 1000,
      linesPerSecond,
      waitedSeconds: destination.waitedMs() / 1000,
      behindSeconds: pacer.behindSeconds,
    };
  };

  try {
    for (const { request, metric, log } of traffic) {
      if (options.signal?.aborted) break;
      if (requests === 0) firstEventMs = request.endUs / 1000;
      eventTimeMs = request.endUs / 1000;
      requests++;
      truth?.add(request);
      // The metric point first: building the error JSON must never cost a request its metric.
      const sent = destination.send('metrics', metric);
      if (sent) await sent;
      metricLines++;
      if (log !== undefined) {
        const sentLog = destination.send('logs', log);
        if (sentLog) await sentLog;
        errorLines++;
      }
      const due = pacer instanceof LivePacer ? pacer.wait(eventTimeMs) : pacer.wait(metricLines + errorLines);
      if (due) await due;
      if ((requests & 4095) === 0) {
        // Let timers, signals and sockets run even when nothing makes us wait.
        await new Promise((resolve) => setImmediate(resolve));
        const now = performance.now();
        if (options.onProgress && now - lastReport.at >= 1000) options.onProgress(progress(now));
      } else if (options.onProgress && (options.live || (options.rate > 0 && options.rate < 4096)) && performance.now() - lastReport.at >= 1000) {
        options.onProgress(progress(performance.now()));
      }
    }
  } finally {
    await destination.close();
  }
  const now = performance.now();
  const elapsedSeconds = (now - started) / 1000;
  const final = progress(now);
  return {
    summary: { ...final, elapsedSeconds, firstEventMs, meanLinesPerSecond: (metricLines + errorLines) / elapsedSeconds },
    ...(truth ? { truth: truth.toJSON() } : {}),
  };
}
