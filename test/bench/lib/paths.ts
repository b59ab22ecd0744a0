import { join } from 'node:path';
import { BENCH_DIR } from './result';

/** The repository root (test/bench/..). */
export const REPO_ROOT = join(BENCH_DIR, '..', '..');
