import { type CheckMode, DEPRECATED_CHECK_MODES } from '@aurora-haproxy/contract/registry';

/**
 * Option values the admin API still takes under an old name, for one release: stored under
 * the current name, with a warning naming both (CHECK_MODES: `agent` is now `tcp-check`).
 * Pass condition (no warning): no option uses an old name.
 */
export function withCurrentNames<T extends { options?: { checkMode?: CheckMode } }>(
  input: T,
): { input: T; warnings: string[] } {
  const old = input.options?.checkMode;
  const current = old === undefined ? undefined : DEPRECATED_CHECK_MODES[old];
  if (old === undefined || current === undefined) return { input, warnings: [] };
  return {
    input: { ...input, options: { ...input.options, checkMode: current } },
    warnings: [
      `options.checkMode "${old}" is the old name of "${current}": stored as "${current}" (the same check); "${old}" will not be accepted after the next release`,
    ],
  };
}
