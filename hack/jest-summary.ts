// Prints one "<project>: N passed, N failed" line from Jest's --json output, the
// plain closing line CI reads, and fails when a project ran no test at all.
import { readFileSync } from 'node:fs';

const [project, file] = process.argv.slice(2);
if (!project || !file) {
  process.stderr.write('usage: node hack/jest-summary.ts <project> <jest-json>\n');
  process.exit(2);
}
const result = JSON.parse(readFileSync(file, 'utf8')) as {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTotalTests: number;
};
process.stdout.write(
  `${project}: ${result.numPassedTests} passed, ${result.numFailedTests} failed, ${result.numPendingTests} skipped\n`,
);
if (result.numTotalTests === 0) {
  process.stderr.write(`${project}: no test ran\n`);
  process.exit(1);
}
