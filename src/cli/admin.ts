import { processEnvironment } from '../config/env';
import { redactSecrets } from '../core/redact';
import { EXIT_FAILURE } from './exit';
import { PROG, runAdmin } from './admin/command';
import { ADMIN_COMMANDS } from './admin/commands';

/**
 * `ductstream-admin`: administration commands that work directly against the databases through
 * the same service modules as the gRPC API (see src/cli/admin/command.ts for the framework).
 */
runAdmin(process.argv.slice(2), ADMIN_COMMANDS, {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: processEnvironment(),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${PROG}: ${redactSecrets(e instanceof Error ? e.message : String(e))}\n`);
    process.exitCode = EXIT_FAILURE;
  },
);
