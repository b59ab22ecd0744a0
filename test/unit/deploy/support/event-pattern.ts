/**
 * EventBridge event-pattern matching, for the operators this project's rules may use, so
 * the deploy tests can run the generated rules against real sample events. Semantics from
 * the EventBridge user guide ("Creating event patterns", "Content filtering"):
 * - every field named in the pattern must match; fields the pattern does not name are free;
 * - a nested object descends into the event; an array is the list of accepted values;
 * - when the event's value is an array, the field matches if ANY element matches;
 * - a field missing from the event matches only `{ "exists": false }`;
 * - matching is exact and case-sensitive except `equals-ignore-case`.
 * An operator not implemented here throws: a test must not pass by ignoring a filter.
 */

export type EventPattern = { [key: string]: EventPattern | readonly unknown[] };

export class UnsupportedPatternError extends Error {
  override readonly name = 'UnsupportedPatternError';
}

export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  if (!isObject(event)) return false;
  for (const [key, rule] of Object.entries(pattern)) {
    const value = event[key];
    if (Array.isArray(rule)) {
      if (!matchesLeaf(rule, value)) return false;
    } else if (isObject(rule)) {
      if (!matchesPattern(rule as EventPattern, value)) return false;
    } else {
      throw new UnsupportedPatternError(`pattern field ${key} must be an array or an object`);
    }
  }
  return true;
}

function matchesLeaf(matchers: readonly unknown[], value: unknown): boolean {
  if (matchers.length === 0) throw new UnsupportedPatternError('empty array in a pattern');
  if (value === undefined) return matchers.some((m) => isObject(m) && m.exists === false);
  const values = Array.isArray(value) ? value : [value];
  return matchers.some((m) => values.some((v) => matchOne(m, v)));
}

function matchOne(matcher: unknown, value: unknown): boolean {
  if (!isObject(matcher)) return matcher === value;
  const [op, arg, ...rest] = Object.entries(matcher).flat();
  if (rest.length > 0) throw new UnsupportedPatternError('one operator per matcher');
  switch (op) {
    case 'exists':
      return arg === true;
    case 'prefix':
      return typeof value === 'string' && typeof arg === 'string' && value.startsWith(arg);
    case 'suffix':
      return typeof value === 'string' && typeof arg === 'string' && value.endsWith(arg);
    case 'equals-ignore-case':
      return (
        typeof value === 'string' &&
        typeof arg === 'string' &&
        value.toLowerCase() === arg.toLowerCase()
      );
    case 'anything-but': {
      if (Array.isArray(arg)) return !arg.includes(value);
      if (isObject(arg)) return !matchOne(arg, value);
      return value !== arg;
    }
    default:
      throw new UnsupportedPatternError(`operator ${String(op)} is not implemented here`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
