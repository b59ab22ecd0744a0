import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';

/**
 * Loads and compiles the templates once per process. templates/ is found by walking up from
 * this module (works from the repo and from a Lambda package that ships templates/** next to
 * the bundled handler), or from AURORA_HAPROXY_TEMPLATES_DIR when set.
 */
export const TEMPLATE_FILES = {
  /** Global sections of the HAProxy config; one haproxyListen section per cluster follows. */
  haproxy: 'haproxy.cfg.hbs',
  haproxyListen: 'haproxy-listen.cfg.hbs',
  pgbouncerDatabases: 'pgbouncer-databases.ini.hbs',
} as const;

export type TemplateName = keyof typeof TEMPLATE_FILES;
type Compiled = (view: unknown) => string;

let compiled: Record<TemplateName, Compiled> | undefined;

export function templatesDir(): string {
  const configured = process.env.AURORA_HAPROXY_TEMPLATES_DIR;
  if (configured) return configured;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    const candidate = join(dir, 'templates');
    if (existsSync(join(candidate, TEMPLATE_FILES.haproxy))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(
    `templates/${TEMPLATE_FILES.haproxy} not found above ${fileURLToPath(import.meta.url)}; set AURORA_HAPROXY_TEMPLATES_DIR`,
  );
}

function compileAll(): Record<TemplateName, Compiled> {
  // An isolated instance: no helper or partial registered elsewhere can change the output.
  const handlebars = Handlebars.create();
  const dir = templatesDir();
  const compile = (file: string): Compiled =>
    handlebars.compile(readFileSync(join(dir, file), 'utf8'), { strict: true, noEscape: true });
  return {
    haproxy: compile(TEMPLATE_FILES.haproxy),
    haproxyListen: compile(TEMPLATE_FILES.haproxyListen),
    pgbouncerDatabases: compile(TEMPLATE_FILES.pgbouncerDatabases),
  };
}

export function renderTemplate(name: TemplateName, view: unknown): string {
  compiled ??= compileAll();
  return compiled[name](view);
}
