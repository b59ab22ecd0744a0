import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  BEGIN,
  describeType,
  END,
  fieldComments,
  renderContractsSection,
  withContractsSection,
} from '../../../scripts/docs-contracts';

const ROOT = resolve(import.meta.dirname, '../../..');

describe('docs:contracts', () => {
  it('docs/DESIGN.md holds the contracts section generated from the current schemas', () => {
    // Prepare
    const design = readFileSync(resolve(ROOT, 'docs/DESIGN.md'), 'utf8');

    // Act
    const regenerated = withContractsSection(design, renderContractsSection(ROOT));

    // Assess: when this fails, run `npm run docs:contracts` and commit docs/DESIGN.md
    expect(regenerated).toBe(design);
  });

  it('states each field with its type and bounds from the schema', () => {
    // Prepare
    const schema = z.toJSONSchema(
      z.strictObject({
        port: z.number().int().min(1024).max(65535),
        mode: z.enum(['a', 'b']),
        name: z.string().regex(/^x|y$/),
        list: z.array(z.string()).max(3),
      }),
      { io: 'input' },
    ) as { properties: Record<string, object> };

    // Act
    const types = Object.fromEntries(
      Object.entries(schema.properties).map(([k, v]) => [k, describeType(v)]),
    );

    // Assess
    expect(types).toEqual({
      port: 'integer 1024–65535',
      mode: '`a` | `b`',
      name: 'string `/^x|y$/`',
      list: 'array (≤ 3) of string',
    });
  });

  it("takes a field's meaning from its doc comment in the schema's source", () => {
    // Prepare
    const source = [
      'export const ThingSchema = z.strictObject({',
      '  /** The first field. */',
      '  first: z.string(),',
      '  second: z.number(),',
      '  /**',
      '   * A comment on',
      '   * two lines.',
      '   */',
      '  third: z.boolean(),',
      '});',
      'export const OtherSchema = z.strictObject({ /** Not this one. */ first: z.string() });',
    ].join('\n');

    // Act
    const comments = fieldComments(source, 'ThingSchema');

    // Assess
    expect([...comments]).toEqual([
      ['first', 'The first field.'],
      ['third', 'A comment on two lines.'],
    ]);
  });

  it('refuses a document without the markers instead of appending', () => {
    // Act + Assess
    expect(() => withContractsSection('# no markers\n', 'x')).toThrow(/markers/);
    expect(withContractsSection(`a\n${BEGIN}\nold\n${END}\nb\n`, 'NEW')).toBe('a\nNEW\nb\n');
  });
});
