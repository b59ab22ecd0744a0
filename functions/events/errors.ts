/** Errors of the events unit. */
export abstract class EventsError extends Error {}

/** The handler received something that is not a trigger it knows; nothing is done. */
export class UnknownTriggerError extends EventsError {
  override readonly name = 'UnknownTriggerError';
}
