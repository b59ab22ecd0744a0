import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  PLUGIN_OUTPUT_MAX,
  parseCommandDocument,
  pluginOutput,
  resolveParameters,
  SsmDocumentError,
  SsmParameterError,
  substituteParameters,
} from '../../../packages/local-stack/ssm-document-runner';

const applyBundle = parseCommandDocument(readFileSync('infra/ssm/apply-bundle.yml', 'utf8'));
const SHA = 'a'.repeat(64);

describe('the apply-bundle command document', () => {
  it('is schemaVersion 2.2 with one runShellScript step running the agent apply', () => {
    expect(applyBundle.schemaVersion).toBe('2.2');
    expect(applyBundle.mainSteps).toHaveLength(1);
    expect(applyBundle.mainSteps[0]?.action).toBe('aws:runShellScript');
    expect(applyBundle.mainSteps[0]?.inputs.runCommand.join('\n')).toContain(
      'aurora-haproxy-agent apply --sha256 {{ sha256 }}',
    );
  });

  it('declares every parameter with an allowedPattern; sha256 is lowercase hex of 64', () => {
    for (const [name, parameter] of Object.entries(applyBundle.parameters)) {
      expect(parameter.allowedPattern, name).toBeDefined();
    }
    expect(applyBundle.parameters.sha256?.allowedPattern).toBe('^[a-f0-9]{64}$');
  });
});

describe('resolveParameters (as SendCommand validates)', () => {
  it('accepts a 64-hex sha, given as a string or as SendCommand lists it', () => {
    expect(resolveParameters(applyBundle, { sha256: SHA })).toEqual({ sha256: SHA });
    expect(resolveParameters(applyBundle, { sha256: [SHA] })).toEqual({ sha256: SHA });
  });

  it.each([
    ['uppercase hex', 'A'.repeat(64)],
    ['63 characters', 'a'.repeat(63)],
    ['65 characters', 'a'.repeat(65)],
    ['a shell injection', `${'a'.repeat(64)}; rm -rf /`],
    ['a trailing newline', `${SHA}\n`],
    ['a substitution', `$(reboot)${'a'.repeat(55)}`],
  ])('rejects %s', (_, value) => {
    expect(() => resolveParameters(applyBundle, { sha256: value })).toThrow(SsmParameterError);
  });

  it('rejects a missing value, an undeclared parameter and two values for a String', () => {
    expect(() => resolveParameters(applyBundle, {})).toThrow(/sha256 is required/);
    expect(() => resolveParameters(applyBundle, { sha256: SHA, extra: 'x' })).toThrow(
      /extra is not declared/,
    );
    expect(() => resolveParameters(applyBundle, { sha256: [SHA, SHA] })).toThrow(/exactly one/);
  });

  it('applies a declared default', () => {
    const doc = parseCommandDocument(`
schemaVersion: '2.2'
parameters:
  mode: { type: String, default: fast, allowedPattern: '^[a-z]+$' }
mainSteps:
  - { action: aws:runShellScript, name: s, inputs: { runCommand: ['echo {{mode}}'] } }
`);
    expect(resolveParameters(doc, {})).toEqual({ mode: 'fast' });
  });
});

describe('substituteParameters', () => {
  it('replaces {{ name }} with or without spaces', () => {
    expect(substituteParameters('a {{ sha256 }} b {{sha256}}', { sha256: 'x' })).toBe('a x b x');
  });
});

describe('parseCommandDocument', () => {
  it.each([
    ['a wrong schemaVersion', "schemaVersion: '1.2'\nmainSteps: []"],
    ['no steps', "schemaVersion: '2.2'\nmainSteps: []"],
    [
      'another action',
      "schemaVersion: '2.2'\nmainSteps:\n  - { action: aws:runPowerShellScript, name: s, inputs: { runCommand: [x] } }",
    ],
    [
      'an undeclared placeholder',
      "schemaVersion: '2.2'\nmainSteps:\n  - { action: aws:runShellScript, name: s, inputs: { runCommand: ['echo {{ nope }}'] } }",
    ],
    [
      'a bad allowedPattern',
      "schemaVersion: '2.2'\nparameters:\n  p: { type: String, allowedPattern: '([' }\nmainSteps:\n  - { action: aws:runShellScript, name: s, inputs: { runCommand: [x] } }",
    ],
  ])('rejects %s', (_, text) => {
    expect(() => parseCommandDocument(text)).toThrow(SsmDocumentError);
  });
});

describe('pluginOutput (the SSM Agent console output)', () => {
  it('keeps short stdout as is, and puts stderr after the error title', () => {
    expect(pluginOutput('{"ok":true}\n', '')).toBe('{"ok":true}\n');
    expect(pluginOutput('out', 'err')).toBe('out\n----------ERROR-------\nerr');
  });

  it('truncates long stdout to the agent limit with the marker', () => {
    const out = pluginOutput('x'.repeat(10_000), '');
    expect(out.length).toBe(PLUGIN_OUTPUT_MAX);
    expect(out.endsWith('\n---Output truncated---')).toBe(true);
  });

  it('shares the space when both streams are long, and never exceeds the limit', () => {
    const out = pluginOutput('o'.repeat(5000), 'e'.repeat(5000));
    expect(out.length).toBeLessThanOrEqual(PLUGIN_OUTPUT_MAX);
    expect(out).toContain('---Output truncated---');
    expect(out).toContain('---Error truncated----');
    const shortOut = pluginOutput('short', 'e'.repeat(5000));
    expect(shortOut.startsWith('short\n----------ERROR-------\n')).toBe(true);
    expect(shortOut.length).toBeLessThanOrEqual(PLUGIN_OUTPUT_MAX);
  });
});
