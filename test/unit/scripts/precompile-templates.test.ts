import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTemplate } from '../../../functions/render/templates';
import { PRECOMPILED_PATH, precompiledModule } from '../../../scripts/precompile-templates';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');

describe('precompiled templates', () => {
  it('are what templates/*.hbs compile to with the installed Handlebars (else: npm run templates)', () => {
    // Prepare
    const expected = precompiledModule(ROOT);
    // Act
    const checkedIn = readFileSync(join(ROOT, PRECOMPILED_PATH), 'utf8');
    // Assess
    expect(
      checkedIn === expected,
      `${PRECOMPILED_PATH} is stale against templates/*.hbs: run npm run templates`,
    ).toBe(true);
  });

  it('render strictly: a name missing from the view is an error, not an empty string', () => {
    // Act / Assess
    expect(() => renderTemplate('haproxyListen', {})).toThrow(/"clusterId" not defined/);
  });
});
