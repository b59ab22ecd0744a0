import type { BenchResult } from './result';

/**
 * Host stacks. A result measured on this machine's own packages (Debian 12 here) has no
 * `stack` and lives in results/<name>.json; a result measured on another stack (the Debian 13
 * chroot of .ci/debian13-leg.sh, which sets BENCH_STACK=debian13) carries that label and lives
 * in results/<name>.<stack>.json, so both coexist and the report shows them side by side.
 * All pure except `currentStack` (reads the environment).
 */
export const STACK_LABEL = /^[a-z][a-z0-9-]{0,31}$/;
const NAME = /^[a-z][a-z0-9-]*$/;

export class StackLabelError extends Error {
  override readonly name = 'StackLabelError';
}

/** BENCH_STACK, checked; undefined when unset or empty (this machine's own stack). */
export function currentStack(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const label = env.BENCH_STACK;
  if (label === undefined || label === '') return undefined;
  if (!STACK_LABEL.test(label)) {
    throw new StackLabelError(
      `BENCH_STACK=${JSON.stringify(label)} is not a stack label (lowercase letters, digits and '-', starting with a letter, at most 32 characters, e.g. debian13)`,
    );
  }
  return label;
}

/** failover -> failover.json; failover + debian13 -> failover.debian13.json. */
export function resultFileName(name: string, stack?: string): string {
  if (!NAME.test(name))
    throw new StackLabelError(`benchmark name ${JSON.stringify(name)} is invalid`);
  if (stack !== undefined && !STACK_LABEL.test(stack)) {
    throw new StackLabelError(`stack label ${JSON.stringify(stack)} is invalid`);
  }
  return stack === undefined ? `${name}.json` : `${name}.${stack}.json`;
}

/** The inverse of resultFileName; undefined for a name it never makes. */
export function parseResultFileName(file: string): { name: string; stack?: string } | undefined {
  const match = /^([a-z][a-z0-9-]*)(?:\.([a-z][a-z0-9-]{0,31}))?\.json$/.exec(file);
  if (!match) return undefined;
  const [, name, stack] = match as unknown as [string, string, string | undefined];
  return stack === undefined ? { name } : { name, stack };
}

/** "Debian GNU/Linux 13 (trixie)" -> "Debian 13"; for table headers. */
export function shortOs(os: string | undefined): string {
  if (!os) return 'this machine';
  return (
    os
      .replace(/ GNU\/Linux/, '')
      .replace(/\s*\(.*\)\s*$/, '')
      .trim() || os
  );
}

/** The header label of a result's stack: its OS (short), else its stack label. */
export function stackName(result: Pick<BenchResult, 'stack' | 'machine'>): string {
  if (result.machine.os) return shortOs(result.machine.os);
  return result.stack ?? 'this machine';
}

/** One figure: its result on this machine's stack first (when there is one), then the others by label. */
export interface FigureResults {
  name: string;
  figure: number;
  title: string;
  /** One per stack; [0] is the machine's own stack when it was measured. */
  byStack: BenchResult[];
}

/**
 * Group results by benchmark. Pass conditions: every result lands in exactly one group (its
 * name); within a group the machine's own result (no stack) comes first, then the others by
 * stack label; groups are ordered by figure, then name; a second result for the same name and
 * stack is an error naming both (two files can only say that if one was renamed by hand).
 */
export function groupByFigure(results: readonly BenchResult[]): FigureResults[] {
  const groups = new Map<string, FigureResults>();
  for (const result of results) {
    let group = groups.get(result.name);
    if (!group) {
      group = { name: result.name, figure: result.figure, title: result.title, byStack: [] };
      groups.set(result.name, group);
    }
    if (group.byStack.some((r) => r.stack === result.stack)) {
      throw new StackLabelError(
        `two results for ${result.name} on stack ${result.stack ?? '(this machine)'}`,
      );
    }
    group.byStack.push(result);
  }
  const primaryFirst = (a: BenchResult, b: BenchResult) =>
    a.stack === undefined ? -1 : b.stack === undefined ? 1 : a.stack.localeCompare(b.stack);
  for (const group of groups.values()) {
    group.byStack.sort(primaryFirst);
    // The figure and title of the machine's own run win (a renumbered figure keeps one heading).
    const first = group.byStack[0] as BenchResult;
    group.figure = first.figure;
    group.title = first.title;
  }
  return [...groups.values()].sort((a, b) => a.figure - b.figure || a.name.localeCompare(b.name));
}
