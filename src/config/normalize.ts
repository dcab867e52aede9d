import type { z } from 'zod';
import { pathKey } from './positions.js';

/**
 * Config as people write it, read against the schema before it is validated (generically: any
 * setting added to the schema gets the same treatment):
 * - an empty section or value (YAML null) where the schema has no null means "not given";
 * - a string holding a number or a boolean ("9090", "true", the result of `${ENV}`) where one
 *   is expected becomes one; `yes`/`on`/`no`/`off` get "use true or false";
 * - an unknown key of a strict section gets a "did you mean", and is not reported again as the
 *   key it was meant to be, missing.
 */
export interface Normalized {
  value: unknown;
  problems: Array<{ path: PropertyKey[]; message: string }>;
  /** Paths already reported here (a yes/no, the key a misspelling meant): validation's word on them is the same problem. */
  reported: Set<string>;
}

type AnySchema = z.core.$ZodType;
const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional']);

function def(schema: AnySchema): any {
  return schema._zod.def;
}

/** The schema under its defaults, optionals and pipes, and whether null is one of its values. */
function unwrap(schema: AnySchema): { core: AnySchema; nullable: boolean } {
  let core = schema;
  let nullable = false;
  for (;;) {
    const d = def(core);
    if (d.type === 'nullable') nullable = true;
    if (WRAPPERS.has(d.type)) core = d.innerType;
    else if (d.type === 'pipe') core = d.in;
    else return { core, nullable };
  }
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const NOT_BOOLEAN = /^(yes|no|on|off|y|n)$/i;

export function normalizeConfig(raw: unknown, schema: AnySchema): Normalized {
  const out: Normalized = { value: undefined, problems: [], reported: new Set() };
  out.value = walk(raw, schema, [], out);
  return out;
}

function walk(value: unknown, schema: AnySchema, path: PropertyKey[], out: Normalized): unknown {
  const { core } = unwrap(schema);
  const d = def(core);
  if (typeof value === 'string') {
    const text = value.trim();
    if (d.type === 'number' && NUMBER.test(text)) return Number(text);
    if (d.type === 'boolean') {
      if (/^(true|false)$/i.test(text)) return text.toLowerCase() === 'true';
      if (NOT_BOOLEAN.test(text)) {
        out.problems.push({ path, message: `"${value}": use true or false` });
        out.reported.add(pathKey(path));
      }
    }
    return value;
  }
  if (Array.isArray(value) && d.type === 'array') return value.map((item, i) => walk(item, d.element, [...path, i], out));
  if (value && typeof value === 'object' && !Array.isArray(value) && d.type === 'object') {
    const shape: Record<string, AnySchema> = d.shape;
    const strict = d.catchall && def(d.catchall).type === 'never';
    const result: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const childSchema = shape[key];
      if (!childSchema) {
        if (!strict) {
          result[key] = child;
          continue;
        }
        const guess = closest(key, Object.keys(shape).filter((k) => !(k in value)));
        out.problems.push({ path: [...path, key], message: `unknown key ${key}${guess ? ` (did you mean ${guess}?)` : ''}` });
        if (guess) out.reported.add(pathKey([...path, guess]));
        continue;
      }
      // YAML null (an empty section, everything in it commented out): as if the key were not there.
      if (child === null && !unwrap(childSchema).nullable) continue;
      result[key] = walk(child, childSchema, [...path, key], out);
    }
    return result;
  }
  return value;
}

/** The key a misspelling most likely meant: at most 2 edits (a swap is one), or a third of its length. */
function closest(key: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(key.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
