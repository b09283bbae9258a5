// Receivers forward lines untouched, so a line reaches a bridge in one of several envelopes:
// bare (Fastly's "Blank" format), behind an RFC 5424 or RFC 3164-style syslog header (Fastly's
// "Classic" format puts an ISO timestamp where RFC 3164 has "Mmm dd hh:mm:ss"), or with Fastly's
// `syslog <service id> <endpoint> :: ` prefix left on. unwrapLine returns the payload in all cases.

const PRI = /^<(\d{1,3})>/;
const RFC3164_TIME = /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d /;
const FASTLY_PREFIX = /^syslog \S+ \S+ :: /;
const [LESS_THAN, LOWER_S, LF] = ['<', 's', '\n'].map((c) => c.charCodeAt(0));

export interface Unwrapped {
  payload: string;
  /** Which envelope was removed, for metrics and dead-letter reasons. */
  envelope: 'bare' | 'rfc5424' | 'rfc3164' | 'fastly-prefix';
}

export function unwrapLine(raw: string): Unwrapped {
  // Most lines come bare, and every envelope starts with `<` or `s`: such a line is passed on
  // without a regex run over it (this runs for every line a bridge reads).
  const first = raw.charCodeAt(0);
  if (first !== LESS_THAN && first !== LOWER_S && raw.charCodeAt(raw.length - 1) !== LF) return { payload: raw, envelope: 'bare' };
  let line = raw.endsWith('\r\n') ? raw.slice(0, -2) : raw.endsWith('\n') ? raw.slice(0, -1) : raw;
  let envelope: Unwrapped['envelope'] = 'bare';
  const pri = PRI.exec(line);
  if (pri) {
    const rest = line.slice(pri[0].length);
    if (/^[1-9]\d{0,2} /.test(rest)) {
      line = afterRfc5424Header(rest);
      envelope = 'rfc5424';
    } else {
      line = afterRfc3164Header(rest);
      envelope = 'rfc3164';
    }
  }
  const fastly = FASTLY_PREFIX.exec(line);
  if (fastly) {
    line = line.slice(fastly[0].length);
    if (envelope === 'bare') envelope = 'fastly-prefix';
  }
  return { payload: line, envelope };
}

/** VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG] */
function afterRfc5424Header(text: string): string {
  let pos = 0;
  for (let field = 0; field < 6; field++) {
    const space = text.indexOf(' ', pos);
    if (space < 0) return '';
    pos = space + 1;
  }
  if (text[pos] === '-') {
    pos += 1;
  } else {
    // One or more [id param="value"...] elements; `\]` inside a value does not close one.
    while (text[pos] === '[') {
      pos++;
      while (pos < text.length && text[pos] !== ']') pos += text[pos] === '\\' ? 2 : 1;
      pos++;
    }
  }
  if (text[pos] === ' ') pos++;
  const message = text.slice(pos);
  return message.startsWith('\uFEFF') ? message.slice(1) : message;
}

/** TIMESTAMP HOSTNAME TAG: MSG, where TIMESTAMP is "Mmm dd hh:mm:ss" or one ISO-8601 token. */
function afterRfc3164Header(text: string): string {
  let rest = text;
  const classic = RFC3164_TIME.exec(rest);
  rest = classic ? rest.slice(classic[0].length) : rest.slice(rest.indexOf(' ') + 1);
  rest = rest.slice(rest.indexOf(' ') + 1); // hostname
  const tagEnd = /^[^\s:[]*(?:\[[^\]]*\])?:\s?/.exec(rest);
  return tagEnd ? rest.slice(tagEnd[0].length) : rest;
}
