/**
 * The import boundaries between the project's parts, checked on every `npm run lint`:
 *
 * - packages/contract/ (what the orchestrator and the agent share) imports only its own
 *   files, `node:` modules and the npm packages its package.json lists;
 * - agent/ (shipped alone to every host, one bundled file) imports only its own files, the
 *   contract package, `node:` modules and the npm packages of the root package.json's
 *   `dependencies`: never functions/, infra/, packages/local-stack/ or test/ by path;
 * - functions/ (the Lambdas) imports neither agent/, infra/, packages/local-stack/ nor test/.
 *
 * Pass condition of a file: every import specifier (static, `export … from`, dynamic
 * `import()`, `require()`) is allowed by the rule of the part holding the file. A violation
 * names the file, the specifier and the rule; the command exits 1 when there is any.
 *   tsx scripts/check-boundaries.ts
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SourceFile {
  /** Repository-relative, forward slashes: `agent/apply/apply.ts`. */
  path: string;
  text: string;
}

export interface BoundaryRule {
  /** The part: files whose path starts with this directory (`agent/`). */
  part: string;
  /** Relative imports may reach files under these directories only. */
  relativeWithin: readonly string[];
  /** Package specifiers allowed (exact name, or a `name/` prefix for subpaths). */
  packages: readonly string[];
  /** Whether `node:` modules (and bare Node built-ins) are allowed. */
  node: boolean;
}

export interface Violation {
  path: string;
  specifier: string;
  rule: string;
}

const SPECIFIER =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)(['"])([^'"\n]+)\1/gm;

/** Every module specifier a TypeScript/JavaScript source names. */
export function importSpecifiers(text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((m) => m[2] as string);
}

/** `@scope/name/sub` -> `@scope/name`; `name/sub` -> `name`. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

const NODE_BUILTINS = new Set(builtinModules);

function allowedPackage(specifier: string, rule: BoundaryRule): boolean {
  return rule.packages.some((p) =>
    p.endsWith('/') ? specifier.startsWith(p) : specifier === p || packageName(specifier) === p,
  );
}

function describe(rule: BoundaryRule): string {
  const packages = rule.packages.length > 0 ? rule.packages.join(', ') : 'no npm package';
  return `${rule.part} imports only ${rule.relativeWithin.join(', ')} by path, ${packages}${rule.node ? ' and node: modules' : ''}`;
}

export function checkFile(file: SourceFile, rules: readonly BoundaryRule[]): Violation[] {
  const rule = rules.find((r) => file.path.startsWith(r.part));
  if (rule === undefined) return [];
  const violations: Violation[] = [];
  for (const specifier of importSpecifiers(file.text)) {
    let ok: boolean;
    if (specifier.startsWith('.') || specifier.startsWith('/')) {
      const target = specifier.startsWith('/')
        ? specifier
        : normalize(join(dirname(file.path), specifier));
      ok = rule.relativeWithin.some((dir) => target.startsWith(dir));
    } else if (specifier.startsWith('node:') || NODE_BUILTINS.has(specifier)) {
      ok = rule.node;
    } else {
      ok = allowedPackage(specifier, rule);
    }
    if (!ok) violations.push({ path: file.path, specifier, rule: describe(rule) });
  }
  return violations;
}

export function checkBoundaries(
  files: readonly SourceFile[],
  rules: readonly BoundaryRule[],
): Violation[] {
  return files.flatMap((file) => checkFile(file, rules));
}

/** The project's rules, from its package.json files. */
export function projectRules(root: string): BoundaryRule[] {
  const readJson = (path: string) =>
    JSON.parse(readFileSync(join(root, path), 'utf8')) as {
      name: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
  const rootPackage = readJson('package.json');
  const contract = readJson('packages/contract/package.json');
  const everyPackage = [
    ...Object.keys(rootPackage.dependencies ?? {}),
    ...Object.keys(rootPackage.devDependencies ?? {}),
  ];
  return [
    {
      part: 'packages/contract/',
      relativeWithin: ['packages/contract/'],
      packages: Object.keys(contract.dependencies ?? {}),
      node: true,
    },
    {
      part: 'agent/',
      relativeWithin: ['agent/'],
      packages: [`${contract.name}/`, ...Object.keys(rootPackage.dependencies ?? {})],
      node: true,
    },
    {
      part: 'functions/',
      relativeWithin: ['functions/', 'templates/', 'package.json'],
      packages: [`${contract.name}/`, ...everyPackage],
      node: true,
    },
  ];
}

const SOURCE = /\.(?:ts|mts|cts|mjs|cjs|js)$/;

function sourceFiles(root: string, dir: string): SourceFile[] {
  const out: SourceFile[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.name === 'node_modules') continue;
    if (entry.isDirectory()) out.push(...sourceFiles(root, path));
    else if (entry.isFile() && SOURCE.test(entry.name)) {
      out.push({ path, text: readFileSync(join(root, path), 'utf8') });
    }
  }
  return out;
}

export function checkProject(root: string): Violation[] {
  const rules = projectRules(root);
  const files = rules.flatMap((r) => sourceFiles(root, r.part.replace(/\/$/, '')));
  return checkBoundaries(files, rules);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const violations = checkProject(root);
  for (const v of violations) {
    process.stderr.write(`${v.path}: imports '${v.specifier}' (${v.rule})\n`);
  }
  if (violations.length > 0) {
    process.stderr.write(`check-boundaries: ${violations.length} import(s) cross a boundary\n`);
    process.exit(1);
  }
  process.stdout.write(`check-boundaries: ${relative(process.cwd(), root) || '.'} ok\n`);
}
