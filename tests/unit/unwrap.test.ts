import { describe, expect, it } from 'vitest';
import { unwrapLine } from '../../src/ingest/unwrap.js';

const ILP = 'cdnmetrics,product=api,pop=MDW elapsed_time=12i,time_to_first_byte=0.004 1522670899146991000';
const JSON_LINE = '{"product":"api","resp_message":"a: b [c] - d","resp_status":503}';

describe('unwrapLine', () => {
  it.each([
    ['a bare line (Fastly "Blank")', ILP, 'bare'],
    ['Fastly "Classic": ISO timestamp, host, tag with pid', `<134>2026-11-21T03:44:11Z cache-mdw4120 cdn-metrics[246771]: ${ILP}`, 'rfc3164'],
    ['RFC 3164', `<13>Nov 21 03:44:11 edge1 varnishncsa: ${ILP}`, 'rfc3164'],
    ['RFC 3164 with a space-padded day', `<13>Nov  1 03:44:11 edge1 cdnkit[42]: ${ILP}`, 'rfc3164'],
    ['RFC 5424 without structured data', `<134>1 2026-11-21T03:44:11.123Z cache-mdw4120 fastly - - - ${ILP}`, 'rfc5424'],
    ['RFC 5424 with structured data holding "] "', `<134>1 2026-11-21T03:44:11Z h app 12 ID47 [ex@32473 a="x\\] y"][b@1 c="d"] ${ILP}`, 'rfc5424'],
    ['RFC 5424 with a BOM', `<134>1 - - - - - - \uFEFF${ILP}`, 'rfc5424'],
    ["Fastly's syslog prefix left on", `syslog 5kQ2v9 cdn-metrics :: ${ILP}`, 'fastly-prefix'],
    ['a syslog header and the Fastly prefix', `<134>2026-11-21T03:44:11Z cache-mdw4120 fastly[1]: syslog 5kQ2v9 cdn-metrics :: ${ILP}`, 'rfc3164'],
    ['a trailing CRLF', `${ILP}\r\n`, 'bare'],
  ])('%s', (_why, raw, envelope) => {
    expect(unwrapLine(raw)).toEqual({ payload: ILP, envelope });
  });

  it('leaves JSON payloads intact, colons and brackets included', () => {
    expect(unwrapLine(`<134>2026-11-21T03:44:11Z cache-mdw4120 cdn-logs[9]: ${JSON_LINE}`).payload).toBe(JSON_LINE);
    expect(unwrapLine(JSON_LINE).payload).toBe(JSON_LINE);
  });
});
