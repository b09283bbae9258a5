import { describe, expect, it } from 'vitest';
import { formatLine, IlpSyntaxError, normaliseTagValue, parseLine, type IlpPoint } from '../../src/ilp/line-protocol.js';

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

  it.each([
    ['m,t= f=1', 'empty value of tag "t"'],
    ['m,=v f=1', 'empty tag key'],
    ['m f=', 'has no value'],
    ['m', 'expected a space before the fields'],
    ['m ', 'empty field key'],
    ['m f=1i2', 'is not a number'],
    ['m f=9223372036854775808i', 'signed 64-bit'],
    ['m f=-1u', 'unsigned 64-bit range'],
    ['m f=abc', 'not a number, boolean or quoted string'],
    ['m f="open', 'no closing quote'],
    ['m f=1 12a', 'timestamp must be an integer'],
    ['m,a=1,a=2 f=1', 'duplicate tag key'],
    ['m f=1,f=2', 'duplicate field key'],
    ['m,_x=1 f=1', 'reserves'],
    ['m time=1', '"time" cannot be a field key'],
    ['m,t=a f=1 1 2', 'timestamp must be an integer'],
    [',t=a f=1', 'empty measurement'],
    ['m,pop=LON\\\\,b=x f=1', 'ends in a backslash'],
    ['m a\\\\=1', 'ends in a backslash'],
  ])('rejects %j (%s)', (line, reason) => {
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
