// What differs between a body cdnkit would send and what Grafana answers for it. Grafana's answers
// carry more than was sent (ids, versions, `updated`, provenance, and defaults it fills in, such as
// intervalMs and maxDataPoints in every alert query model), so only the keys the desired body sets
// are compared; arrays are compared whole (a panel or rule added by hand is a difference), arrays
// of objects with a uid by uid (rules), others by position.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Change {
  /** Where, e.g. `panels[3].title` or `rules[cdnkit-no-data].for`. */
  path: string;
  kind: 'changed' | 'added' | 'removed';
  from?: Json;
  to?: Json;
}

/** A value as it travels in JSON: builders' marker methods and undefined keys gone. */
export function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value)) as Json;
}

const isObject = (v: Json | undefined): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);
const uidOf = (v: Json): string | undefined => (isObject(v) && typeof v.uid === 'string' ? v.uid : undefined);
const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

export function changes(desired: Json, current: Json | undefined, path = ''): Change[] {
  if (current === undefined) return [{ path, kind: 'added', to: desired }];
  if (isObject(desired)) {
    if (!isObject(current)) return [{ path, kind: 'changed', from: current, to: desired }];
    return Object.entries(desired).flatMap(([key, value]) => changes(value, current[key], join(path, key)));
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(current)) return [{ path, kind: 'changed', from: current, to: desired }];
    const keyed = desired.length > 0 && desired.every((v) => uidOf(v) !== undefined) && current.every((v) => uidOf(v) !== undefined);
    if (keyed) {
      const byUid = new Map(current.map((v) => [uidOf(v)!, v]));
      const wanted = new Set(desired.map((v) => uidOf(v)!));
      return [
        ...desired.flatMap((v) => changes(v, byUid.get(uidOf(v)!), `${path}[${uidOf(v)!}]`)),
        ...current.filter((v) => !wanted.has(uidOf(v)!)).map((v): Change => ({ path: `${path}[${uidOf(v)!}]`, kind: 'removed', from: v })),
      ];
    }
    return [
      ...desired.flatMap((v, i) => changes(v, current[i], `${path}[${i}]`)),
      ...current.slice(desired.length).map((v, i): Change => ({ path: `${path}[${desired.length + i}]`, kind: 'removed', from: v })),
    ];
  }
  return desired === current ? [] : [{ path, kind: 'changed', from: current, to: desired }];
}
