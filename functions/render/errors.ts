/**
 * Errors of the render unit. A RenderError means the input (registry, topology or previous
 * bundle) holds a value that must not reach a config file, or an input the renderer cannot
 * honour (e.g. more readers than slots can exist). Nothing is rendered when it is thrown.
 */
export class RenderError extends Error {
  override readonly name = 'RenderError';
  constructor(
    message: string,
    /** What was being rendered, e.g. `topology of cluster "orders"` or `cluster "orders"`. */
    readonly subject: string,
    options?: ErrorOptions,
  ) {
    super(`${subject}: ${message}`, options);
  }
}

/** More readers than a backend's slots can hold (the pure slot functions throw it). */
export class SlotCapacityError extends Error {
  override readonly name = 'SlotCapacityError';
}

/** A value shown in an error message: JSON-quoted and cut, so no input can forge a log line. */
export function showValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
