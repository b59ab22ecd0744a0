/** The host reports could not be read (the reports table is unreachable). */
export class HostReportsError extends Error {
  override readonly name = 'HostReportsError';
}
