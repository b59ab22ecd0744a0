/**
 * How long after an RDS event the RDS API is trusted to show its effect. A reconcile
 * that started looking at RDS at least this long after an event saw what the event
 * announces (clocks of Lambda and RDS are NTP-synced, far closer than this).
 */
export const EVENT_COVER_MARGIN_MS = 5_000;

/**
 * Is an RDS event already covered by the latest complete reconcile? Pure.
 *
 * Pass conditions: true only when both times are known and the look started at least
 * `marginMs` after the event. Then re-reading RDS could only find what that reconcile
 * already published, so an event storm costs RDS calls only for the first few seconds.
 * Unknown times never skip; anything missed is caught by the schedule.
 */
export function eventCovered(
  eventAt: string | undefined,
  lookedAt: string | undefined,
  marginMs = EVENT_COVER_MARGIN_MS,
): boolean {
  if (eventAt === undefined || lookedAt === undefined) return false;
  const event = Date.parse(eventAt);
  const look = Date.parse(lookedAt);
  if (Number.isNaN(event) || Number.isNaN(look)) return false;
  return look >= event + marginMs;
}
