/**
 * SendCommand refuses a whole call with InvalidInstanceId when any one of its instances is
 * not a valid target (not managed by SSM, SSM Agent offline, terminated, other account):
 * "Instances [[i-0a1b…, i-0c2d…]] not in a valid state for account 123456789012" — and
 * sometimes with no message at all. A bad instance must cost only itself, so the batch is
 * sent again without it.
 */
export const INVALID_INSTANCE_ID = 'InvalidInstanceId';

/** EC2 instance ids (i-…) and hybrid managed node ids (mi-…), as SSM names them. */
const INSTANCE_ID = /\b(?:m?i-[0-9a-f]{8,17})\b/g;

/**
 * The instances of `batch` an InvalidInstanceId message names. Pure.
 * Pass conditions: only ids that are in the batch (a message can never make us drop an
 * instance we did not send to); none when the message names none (the caller then halves
 * the batch to find the bad ones).
 */
export function refusedIdsIn(message: string, batch: readonly string[]): string[] {
  const named = new Set(message.match(INSTANCE_ID) ?? []);
  return batch.filter((id) => named.has(id));
}
