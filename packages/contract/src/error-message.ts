/**
 * What a caught value says, for a log field or an error message: an Error's message, or the
 * value itself as text (JavaScript can throw anything; `(e as Error).message` would be
 * undefined for a thrown string). The one helper for this across functions, agent and tools.
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
