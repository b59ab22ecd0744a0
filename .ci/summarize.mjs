// The closing lines of .ci/run: every leg's counts and vitest's exit status, and, when a leg
// failed without a failed test, why. Vitest also exits 1 for a failed file (a beforeAll or
// afterAll hook, an import error), an unhandled error or rejection in a worker, or a worker
// that would not end; none of these is a failed test in the JSON report, and the report that
// only shows the end of the log would not show them. So this prints them here, last.
//
//   node .ci/summarize.mjs <total seconds> <name>|<json>|<log>|<exit>|<seconds> ...
//
// Exits 1 when any leg exited non-zero or left no results.
import { existsSync, readFileSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';

const MAX_DETAIL_LINES = 40;
const [totalSeconds, ...legArgs] = process.argv.slice(2);
const legs = legArgs.map((arg) => {
  const [name, json, log, exit, seconds] = arg.split('|');
  return { name, json, log, exit: Number(exit), seconds };
});

/** The sections of vitest's output that explain a failure other than a failed test. */
function whyFromLog(logFile) {
  if (!logFile || !existsSync(logFile)) return [`(no log at ${logFile})`];
  const lines = stripVTControlCharacters(readFileSync(logFile, 'utf8')).split('\n');
  const picked = [];
  let inSection = false;
  for (const line of lines) {
    // Vitest frames its sections with ⎯ rules: "⎯⎯⎯ Unhandled Errors ⎯⎯⎯", "⎯⎯ Failed Suites 1 ⎯⎯".
    // A bare rule closes the section.
    const heading = /⎯+ (.+?) ⎯+/.exec(line);
    if (heading) inSection = /unhandled|failed suites|errors/i.test(heading[1]);
    const closing = /^\s*⎯+\s*$/.test(line);
    const standalone =
      /\[vitest-pool\]|close timed out|Errors\s+\d+ error|Serialized Error|^\s*FAIL\s/.test(line);
    if (inSection || standalone) picked.push(line);
    if (closing) inSection = false;
  }
  if (picked.length === 0)
    return ['(the log names no failed suite or unhandled error; see the leg above)'];
  return picked.length > MAX_DETAIL_LINES
    ? [
        ...picked.slice(0, MAX_DETAIL_LINES),
        `(… ${picked.length - MAX_DETAIL_LINES} more lines in ${logFile})`,
      ]
    : picked;
}

const total = { passed: 0, failed: 0, skipped: 0 };
let ok = true;
for (const leg of legs) {
  if (!existsSync(leg.json)) {
    console.log(
      `${leg.name}: no results (${leg.json} missing), exit ${leg.exit}, ${leg.seconds} s`,
    );
    ok = false;
    continue;
  }
  const r = JSON.parse(readFileSync(leg.json, 'utf8'));
  const skipped = r.numPendingTests + r.numTodoTests;
  total.passed += r.numPassedTests;
  total.failed += r.numFailedTests;
  total.skipped += skipped;
  console.log(
    `${leg.name}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped, ` +
      `${r.numFailedTestSuites} failed suites, exit ${leg.exit}, ${leg.seconds} s`,
  );
  if (leg.exit !== 0) ok = false;
  if (leg.exit !== 0 && r.numFailedTests === 0) {
    const failedFiles = r.testResults.filter((f) => f.status === 'failed');
    for (const f of failedFiles)
      console.log(`  failed file ${f.name}: ${f.message || '(no message)'}`);
    for (const line of whyFromLog(leg.log)) console.log(`  | ${line}`);
  }
}
console.log(`ci: ${totalSeconds} s in all`);
console.log(
  `${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped${ok ? '' : ' (a leg failed: see above)'}`,
);
process.exit(ok ? 0 : 1);
