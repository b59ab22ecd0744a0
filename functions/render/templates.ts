import HandlebarsRuntime from 'handlebars/runtime';
import type { TemplateName } from './template-files';
import { TEMPLATE_SPECS } from './templates.precompiled';

export { TEMPLATE_FILES, type TemplateName } from './template-files';

type Compiled = (view: unknown) => string;

let compiled: Record<TemplateName, Compiled> | undefined;

/**
 * The precompiled templates (templates.precompiled.ts, generated from templates/*.hbs),
 * bound once per process to an isolated Handlebars runtime: no helper or partial registered
 * elsewhere can change the output.
 */
function bindAll(): Record<TemplateName, Compiled> {
  const handlebars = HandlebarsRuntime.create();
  const bind = (name: TemplateName): Compiled =>
    handlebars.template(TEMPLATE_SPECS[name] as Parameters<typeof handlebars.template>[0]);
  return {
    haproxy: bind('haproxy'),
    haproxyListen: bind('haproxyListen'),
    pgbouncerDatabases: bind('pgbouncerDatabases'),
  };
}

export function renderTemplate(name: TemplateName, view: unknown): string {
  compiled ??= bindAll();
  return compiled[name](view);
}
