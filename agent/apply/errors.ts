/** The apply could not start or finish; the message is what the agent result reports. */
export class ApplyError extends Error {
  override readonly name = 'ApplyError';
}
