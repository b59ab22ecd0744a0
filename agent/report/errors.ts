/** Reporting this host's view failed (collecting it, or writing it to the reports table). */
export class HostReportError extends Error {
  override readonly name = 'HostReportError';
}
