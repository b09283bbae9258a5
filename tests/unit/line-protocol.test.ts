import { describe, expect, it } from 'vitest';
import { ILP_ACCEPTED, ILP_REJECTED } from '../fixtures/ilp-lines.js';
import { checkLine, formatLine, IlpSyntaxError, normaliseTagValue, parseLine, type IlpPoint } from '../../src/ilp/line-protocol.js';

describe('line protocol parser', () => {
  it('reads the reference cdnmetrics line', () => {
    const p = parseLine(
      'cdnmetrics,product=api,environment=prod,cache_status=HIT,resp_status=200 elapsed_time=0,time_to_first_byte=0.000 1522670899146991000',
    );
    expect(p.measurement).toBe('cdnmetrics');
    expect(p.tags).toEqual({ product: 'api', environment: 'prod', cache_status: 'HIT', resp_status: '200' });
    expect(p.fields).toEqual({ elapsed_time: { type: 'float', value: 0 }, time_to_first_byte: { type: 'float', value: 0 } });
    expect(p.timestamp).toBe(1522670899146991000n);
  });

  it('undoes escapes in measurement, tags and field keys, and in strings', () => {
    const p = parseLine('m\\ 1\\,x,k\\ 1=v\\,a\\ b\\=c f\\=1="say \\"hi\\" c:\\\\temp",n=-3i,u=7u,b=FALSE');
    expect(p.measurement).toBe('m 1,x');
    expect(p.tags).toEqual({ 'k 1': 'v,a b=c' });
    expect(p.fields['f=1']).toEqual({ type: 'string', value: 'say "hi" c:\\temp' });
    expect(p.fields.n).toEqual({ type: 'integer', value: -3n });
    expect(p.fields.u).toEqual({ type: 'uinteger', value: 7n });
    expect(p.fields.b).toEqual({ type: 'boolean', value: false });
    expect(p.timestamp).toBeUndefined();
  });

  it('keeps a backslash before an ordinary character, as InfluxDB does', () => {
    expect(parseLine('m,path=a\\b f=1i').tags.path).toBe('a\\b');
  });

  it.each(ILP_REJECTED)('rejects %j (%s)', (line, reason) => {
    expect(() => parseLine(line)).toThrow(IlpSyntaxError);
    expect(() => parseLine(line)).toThrow(reason);
  });

  it('round-trips what it formats, for hostile tag values once normalised', () => {
    const hostile = ['a,b', 'a b', 'a=b', 'quote"', 'back\\slash', 'trailing\\', 'new\nline', 'tab\there', 'ünïcödé ✓', 'x'.repeat(5000), '', undefined];
    for (const raw of hostile) {
      const value = normaliseTagValue(raw, 'none');
      const point: IlpPoint = {
        measurement: 'cdn metrics',
        tags: { 'api name': value },
        fields: { s: { type: 'string', value: `${raw ?? ''}"\\` }, n: { type: 'integer', value: 5n }, f: { type: 'float', value: 1.5 } },
        timestamp: 1522670899146991000n,
      };
      expect(parseLine(formatLine(point))).toEqual(point);
    }
  });

  it('normalises tag values so they can always be written', () => {
    expect(normaliseTagValue('', 'none')).toBe('none');
    expect(normaliseTagValue(undefined, 'none')).toBe('none');
    expect(normaliseTagValue('a\\b\n\tc "d",e=f', 'none')).toBe('a_b__c__d__e_f');
  });
});

describe("checkLine, the bridge's check without building the point", () => {
  it.each(ILP_ACCEPTED)('accepts %j as parseLine does, and sees whether it has a timestamp', (line) => {
    expect(checkLine(line).timestamped).toBe(parseLine(line).timestamp !== undefined);
  });

  it.each(['1.e5', '-.5', '5.', '0.5E+07', '-1e-3'])('takes the float %s as parseLine does', (value) => {
    expect(checkLine(`m f=${value}`).timestamped).toBe(false);
    expect(parseLine(`m f=${value}`).fields.f).toEqual({ type: 'float', value: Number(value) });
  });

  it.each(['1.5e', '.', '-', '1e+', '1..5', '+1', '.e5', '1e5.0', '1-2'])('refuses %j as a field value, as parseLine does', (value) => {
    expect(() => parseLine(`m f=${value}`)).toThrow('is not a number, boolean or quoted string');
    expect(() => checkLine(`m f=${value}`)).toThrow('is not a number, boolean or quoted string');
  });

  // The check keeps the line's tag keys in arrays it grows past 32.
  it('finds a repeated tag key among many', () => {
    const tags = Array.from({ length: 40 }, (_, i) => `,t${i}=v`).join('');
    expect(checkLine(`m${tags} f=1 1`).timestamped).toBe(true);
    expect(() => checkLine(`m${tags},t0=w f=1`)).toThrow('duplicate tag key "t0"');
    expect(Object.keys(parseLine(`m${tags} f=1`).tags)).toHaveLength(40);
  });

  it.each(ILP_REJECTED)('rejects %j with the same words as parseLine (%s)', (line, reason) => {
    expect(() => parseLine(line)).toThrow(reason);
    let parseError: unknown;
    try {
      parseLine(line);
    } catch (error) {
      parseError = error;
    }
    expect(() => checkLine(line)).toThrow((parseError as Error).message);
  });
});
