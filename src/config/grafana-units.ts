// Grafana's unit ids (its value formats, as the panel editor's Unit menu lists them) that fit a CDN
// metric field: a config naming one Grafana does not know would give axes without a unit, silently.
export const GRAFANA_UNITS = [
  // misc
  'none', 'short', 'percent', 'percentunit', 'sci', 'locale', 'bool', 'bool_yes_no', 'bool_on_off',
  // time
  'ns', 'µs', 'ms', 's', 'm', 'h', 'd', 'hertz', 'dtdurationms', 'dtdurations', 'dthms', 'dtdhms', 'clockms', 'clocks',
  // data
  'bytes', 'decbytes', 'bits', 'decbits', 'kbytes', 'deckbytes', 'mbytes', 'decmbytes', 'gbytes', 'decgbytes', 'tbytes', 'dectbytes',
  // data rate
  'pps', 'binBps', 'Bps', 'binbps', 'bps', 'KiBs', 'Kibits', 'KBs', 'Kbits', 'MiBs', 'Mibits', 'MBs', 'Mbits', 'GiBs', 'Gibits', 'GBs', 'Gbits',
  // throughput
  'cps', 'ops', 'reqps', 'rps', 'wps', 'iops', 'eps', 'mps', 'recps', 'cpm', 'opm', 'reqpm', 'rpm', 'wpm', 'epm', 'mpm', 'recpm',
] as const;

export type GrafanaUnit = (typeof GRAFANA_UNITS)[number];
