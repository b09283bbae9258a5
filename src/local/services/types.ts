// The shape every test service (Kafka, Elasticsearch, InfluxDB, ...) hands back to the tests.
//
// A start function (startKafka, startElasticsearch, ...) either reuses a server that already answers at
// the configured address (started: false) or obtains, starts and health-checks one (started: true).
// Calling it again for the same address in the same process returns the same handle, so it is cheap
// and idempotent; a global set-up may start servers once and test files may call the start function
// again just to get a handle.

/** A server available to the tests. Service modules extend this with their own fields. */
export interface RunningService {
  /** Short service name, as used in progress lines: 'kafka', 'elasticsearch', 'influxdb', ... */
  readonly name: string;
  /**
   * Where clients connect. An HTTP base URL without trailing slash for HTTP services
   * (e.g. 'http://127.0.0.1:19200'); for Kafka the bootstrap list 'host:port[,host:port]'.
   */
  readonly url: string;
  /**
   * true when this harness started the server (and `stop()` will stop it); false when a server that was
   * already running at the address was reused — `stop()` then leaves it alone.
   */
  readonly started: boolean;
  /**
   * Stops the server if this harness started it, waits for the process to exit (SIGTERM, then SIGKILL
   * after a grace period) and removes its temporary files. A no-op for a reused server; safe to call twice.
   */
  stop(): Promise<void>;
}
