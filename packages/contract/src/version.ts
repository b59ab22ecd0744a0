/**
 * Version comparison shared by the orchestrator (bundle `requires`, the admin API's fleet
 * warnings) and the agent (refusing a bundle its host cannot serve). Pure.
 */

/** Numeric major.minor.patch of a version string ("2.6.12-1+deb12u4" -> [2, 6, 12]). */
export function versionNumbers(version: string): number[] {
  const match = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  if (!match) return [];
  return [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)];
}

/** a >= b, comparing major, minor, patch; false when either is not a version. */
export function versionAtLeast(a: string, b: string): boolean {
  const [x, y] = [versionNumbers(a), versionNumbers(b)];
  if (x.length === 0 || y.length === 0) return false;
  for (let i = 0; i < 3; i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  }
  return true;
}
