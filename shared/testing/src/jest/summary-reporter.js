/**
 * Prints one plain closing line, `Tests: N passed, N failed, N skipped`, after Jest's own
 * summary: CI and people read the same figures whatever else the run printed. With
 * WARREN_TEST_SUMMARY_FILE set (the broker matrix, scripts/test-matrix.ts) the figures are also
 * written there as JSON, so the matrix can sum its legs.
 */
const fs = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failedSuites = results.numFailedTestSuites + (results.numRuntimeErrorTestSuites ?? 0);
    const leg = process.env.WARREN_TEST_LEG ? ` (leg ${process.env.WARREN_TEST_LEG})` : '';
    process.stdout.write(
      `\nSuites${leg}: ${results.numPassedTestSuites} passed, ${failedSuites} failed\n` +
        `Tests${leg}: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`,
    );
    if (process.env.WARREN_TEST_SUMMARY_FILE) {
      fs.writeFileSync(
        process.env.WARREN_TEST_SUMMARY_FILE,
        JSON.stringify({
          passed: results.numPassedTests,
          failed: results.numFailedTests,
          skipped,
          failedSuites,
        }),
      );
    }
  }
}
module.exports = SummaryReporter;
