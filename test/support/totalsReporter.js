'use strict';
/**
 * Prints the run's totals as the last line, in the form CI reads: `N passed, N failed`.
 * A test file that fails to run at all counts as one failure, so it cannot hide.
 */
class TotalsReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    process.stdout.write(`\n${results.numPassedTests} passed, ${failed} failed\n`);
  }
}
module.exports = TotalsReporter;
