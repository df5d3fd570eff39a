/**
 * Prints one plain closing line, `Tests: N passed, N failed, N skipped`, after Jest's own
 * summary: CI and people read the same figures whatever else the run printed.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failedSuites = results.numFailedTestSuites + (results.numRuntimeErrorTestSuites ?? 0);
    process.stdout.write(
      `\nSuites: ${results.numPassedTestSuites} passed, ${failedSuites} failed\n` +
        `Tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`,
    );
  }
}
module.exports = SummaryReporter;
