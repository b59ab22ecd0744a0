import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type BoundaryRule,
  checkBoundaries,
  checkProject,
  importSpecifiers,
} from '../../../scripts/check-boundaries';

const RULES: BoundaryRule[] = [
  {
    part: 'packages/contract/',
    relativeWithin: ['packages/contract/'],
    packages: ['zod'],
    node: true,
  },
  {
    part: 'agent/',
    relativeWithin: ['agent/'],
    packages: ['@aurora-haproxy/contract/', 'pg', '@aws-sdk/client-dynamodb'],
    node: true,
  },
];

describe('check-boundaries', () => {
  it('finds static, re-export, type-only, dynamic and side-effect imports', () => {
    // Prepare
    const text = [
      "import { a } from './a';",
      "import type { B } from '../b';",
      "export { c } from '@scope/c/sub';",
      "import 'side-effect';",
      "const d = await import('./d');",
      "const e = require('e');",
    ].join('\n');

    // Act
    const specifiers = importSpecifiers(text);

    // Assess
    expect(specifiers).toEqual(['./a', '../b', '@scope/c/sub', 'side-effect', './d', 'e']);
  });

  it('accepts the agent importing itself, the contract, node and its npm dependencies', () => {
    // Prepare
    const files = [
      {
        path: 'agent/apply/apply.ts',
        text: [
          "import type { Bundle } from '@aurora-haproxy/contract/bundle';",
          "import { readFile } from 'node:fs/promises';",
          "import { Client } from 'pg';",
          "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';",
          "import { decide } from './decide';",
          "import { lock } from '../state/lock';",
        ].join('\n'),
      },
    ];

    // Act
    const violations = checkBoundaries(files, RULES);

    // Assess
    expect(violations).toEqual([]);
  });

  it('names every agent import that reaches into functions/ or an undeclared package', () => {
    // Prepare
    const files = [
      {
        path: 'agent/report/writer.ts',
        text: [
          "import { awsErrorMessage } from '../../functions/shared/aws-errors';",
          "import type { Bundle } from '../../packages/contract/src/bundle';",
          "import { render } from 'handlebars';",
        ].join('\n'),
      },
    ];

    // Act
    const violations = checkBoundaries(files, RULES);

    // Assess
    expect(violations.map((v) => v.specifier)).toEqual([
      '../../functions/shared/aws-errors',
      '../../packages/contract/src/bundle',
      'handlebars',
    ]);
    expect(violations[0]?.path).toBe('agent/report/writer.ts');
    expect(violations[0]?.rule).toContain('agent/ imports only agent/');
  });

  it('keeps the contract package free of anything but its own files, node and zod', () => {
    // Prepare
    const files = [
      {
        path: 'packages/contract/src/bundle.ts',
        text: [
          "import { z } from 'zod';",
          "import { createHash } from 'node:crypto';",
          "import { SLOT_NAME } from './names';",
          "import { renderBundle } from '../../../functions/render/render-bundle';",
          "import { Client } from 'pg';",
        ].join('\n'),
      },
    ];

    // Act
    const violations = checkBoundaries(files, RULES);

    // Assess
    expect(violations.map((v) => v.specifier)).toEqual([
      '../../../functions/render/render-bundle',
      'pg',
    ]);
  });

  it('leaves files outside every part alone', () => {
    // Prepare
    const files = [{ path: 'test/unit/x.test.ts', text: "import { a } from '../../functions/a';" }];

    // Act
    const violations = checkBoundaries(files, RULES);

    // Assess
    expect(violations).toEqual([]);
  });

  it('finds no violation in this repository', () => {
    // Act
    const violations = checkProject(resolve(import.meta.dirname, '../../..'));

    // Assess
    expect(violations).toEqual([]);
  });
});
