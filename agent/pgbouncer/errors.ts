export class PgbouncerAdminError extends Error {
  override readonly name = 'PgbouncerAdminError';
}
