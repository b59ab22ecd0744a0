/**
 * The render's templates (templates/*.hbs) and how they are compiled. They are precompiled
 * at development time (scripts/precompile-templates.ts -> templates.precompiled.ts): the
 * render loads only Handlebars' runtime.
 */
export const TEMPLATE_FILES = {
  /** Global sections of the HAProxy config; one haproxyListen section per cluster follows. */
  haproxy: 'haproxy.cfg.hbs',
  haproxyListen: 'haproxy-listen.cfg.hbs',
  pgbouncerDatabases: 'pgbouncer-databases.ini.hbs',
} as const;

export type TemplateName = keyof typeof TEMPLATE_FILES;

/** Strict: a name missing from the view is an error, not an empty string. No HTML escaping. */
export const TEMPLATE_COMPILE_OPTIONS = { strict: true, noEscape: true } as const;
