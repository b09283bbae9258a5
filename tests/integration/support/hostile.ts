// Header values that break naively built JSON or line protocol, shared by every CDN flavour's test.
// `undefined` means the header is not sent at all. How a value travels (raw header bytes, or
// percent-encoded for bytes HTTP cannot carry) is up to each test's transport.
export interface HostileValue {
  name: string;
  value: string | undefined;
  /** Bytes no HTTP header can carry raw (line breaks, most control characters). */
  needsEncoding?: boolean;
}

export const HOSTILE_VALUES: HostileValue[] = [
  { name: 'plain', value: 'orders-v2' },
  { name: 'quote', value: 'say "hi"' },
  { name: 'backslash', value: 'C:\\temp\\x' },
  { name: 'trailing backslash', value: 'ends\\' },
  { name: 'comma', value: 'a,b' },
  { name: 'space', value: 'orders api' },
  { name: 'equals', value: 'k=v' },
  { name: 'ILP injection', value: 'x cdnmetrics,evil=1 f=1i 0' },
  { name: 'JSON injection', value: '","evil":"x' },
  { name: 'tab', value: 'a\tb' },
  { name: 'newline', value: 'first\nsecond', needsEncoding: true },
  { name: 'carriage return', value: 'a\rb', needsEncoding: true },
  { name: 'control bytes', value: 'a\u0001b\u001fc\u007fd', needsEncoding: true },
  { name: 'non-ASCII', value: 'ünïcödé 日本 😀' },
  { name: 'percent and format', value: '100% %s %d' },
  { name: 'regex replacement metacharacters', value: '$1 \\1 &' },
  { name: 'the text (null)', value: '(null)' },
  { name: 'very long', value: 'x'.repeat(10_240) },
  { name: 'very long non-ASCII', value: 'é'.repeat(3000) },
  { name: 'empty', value: '' },
  { name: 'unset', value: undefined },
];
