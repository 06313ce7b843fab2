import { awsRegionFromEnv, logLevelFromEnv, readServiceEnv, systemDatabaseUrlFor, validateCron } from '../../src/config/env';

describe('readServiceEnv', () => {
  it('applies the documented defaults', () => {
    const env = readServiceEnv({});
    expect(env).toMatchObject({
      grpcListen: ':8080',
      wireFormat: 'json',
      wireEnforce: false,
      dbosApp: 'ductstream',
      dbosQueue: 'ductstream',
      checkpointBackend: 'sqlite',
    });
    expect(env.runner).toEqual({
      stepMaxRows: 50000,
      stepMaxMs: 2000,
      stepIdleMaxMs: 30000,
      maxWriteRows: 10000,
      stepsPerRun: 500,
      stepMaxAttempts: 0,
      retryMaxBackoffMs: 30000,
      takeoverAfterMs: 15000,
      backfillChunkRows: 20000,
    });
    expect(
      readServiceEnv({
        DUCTSTREAM_STEP_MAX_ATTEMPTS: '5',
        DUCTSTREAM_RETRY_MAX_BACKOFF: '60',
        DUCTSTREAM_TAKEOVER_AFTER: '3',
        DUCTSTREAM_STEP_IDLE_MAX_MS: '5000',
      }).runner,
    ).toMatchObject({
      stepIdleMaxMs: 5000,
      stepMaxAttempts: 5,
      retryMaxBackoffMs: 60000,
      takeoverAfterMs: 3000,
    });
    expect(readServiceEnv({ DUCTSTREAM_POSTGRES_DSN: 'postgres://u:p@h:5432/state' })).toMatchObject({
      checkpointBackend: 'postgres',
      dbosSystemDatabaseUrl: 'postgres://u:p@h:5432/state_dbos_sys',
    });
  });

  it.each([
    [{ DUCTSTREAM_WIRE_FORMAT: 'xml' }, /DUCTSTREAM_WIRE_FORMAT: unknown wire format "xml"/],
    [{ DUCTSTREAM_WIRE_ENFORCE: 'yes please' }, /DUCTSTREAM_WIRE_ENFORCE: "yes please" is not a boolean/],
    [{ DUCTSTREAM_CHECKPOINT_BACKEND: 'redis' }, /DUCTSTREAM_CHECKPOINT_BACKEND: unknown backend "redis"/],
    [{ DUCTSTREAM_CHECKPOINT_BACKEND: 'postgres' }, /postgres checkpoints need DUCTSTREAM_POSTGRES_DSN/],
    [{ DUCTSTREAM_POSTGRES_DSN: 'not a url' }, /DUCTSTREAM_POSTGRES_DSN: is not a postgres URL/],
    [{ DUCTSTREAM_DBOS_SCHEDULE: 'every ten seconds' }, /DUCTSTREAM_DBOS_SCHEDULE: "every ten seconds" is not a cron expression/],
    [{ DUCTSTREAM_STEP_MAX_ROWS: '0' }, /DUCTSTREAM_STEP_MAX_ROWS: "0" is not a positive whole number/],
    [{ DUCTSTREAM_MAX_WRITE_ROWS: 'lots' }, /DUCTSTREAM_MAX_WRITE_ROWS: "lots" is not a positive whole number/],
    [{ DUCTSTREAM_STEP_MAX_ATTEMPTS: '-1' }, /DUCTSTREAM_STEP_MAX_ATTEMPTS: "-1" is not a whole number/],
    [{ DUCTSTREAM_RETRY_MAX_BACKOFF: '0' }, /DUCTSTREAM_RETRY_MAX_BACKOFF: "0" is not a number of seconds/],
    [{ DUCTSTREAM_TAKEOVER_AFTER: '1e9' }, /DUCTSTREAM_TAKEOVER_AFTER: "1e9" is not a number of seconds/],
    [{ DUCTSTREAM_PROGRESS_INTERVAL: 'often' }, /DUCTSTREAM_PROGRESS_INTERVAL: "often" is not a positive whole number/],
    [{ DUCTSTREAM_SUPERVISOR_INTERVAL: '0' }, /DUCTSTREAM_SUPERVISOR_INTERVAL: "0" is not a positive whole number/],
    [{ DUCTSTREAM_LOG_LEVEL: 'verbose' }, /DUCTSTREAM_LOG_LEVEL: "verbose" is not a log level/],
    [{ DUCTSTREAM_DBOS_LOG_LEVEL: 'loud' }, /DUCTSTREAM_DBOS_LOG_LEVEL: "loud" is not a log level/],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => readServiceEnv(env)).toThrow(message);
  });

  it('reads the intervals and log levels of the process', () => {
    expect(readServiceEnv({}).ops).toMatchObject({ progressIntervalMs: 5000, supervisorIntervalMs: 5000, dbosLogLevel: 'warn', logLevel: 'info' });
    const ops = readServiceEnv({ DUCTSTREAM_PROGRESS_INTERVAL: '2', DUCTSTREAM_SUPERVISOR_INTERVAL: '1', DUCTSTREAM_DBOS_LOG_LEVEL: 'INFO' }).ops;
    expect(ops).toMatchObject({ progressIntervalMs: 2000, supervisorIntervalMs: 1000, dbosLogLevel: 'info' });
    expect(logLevelFromEnv({ DUCTSTREAM_LOG_LEVEL: 'debug' })).toBe('debug');
    expect(logLevelFromEnv({ DUCTSTREAM_LOG_LEVEL: 'verbose' })).toBe('info');
    expect(awsRegionFromEnv({ AWS_DEFAULT_REGION: 'eu-west-1' })).toBe('eu-west-1');
    expect(awsRegionFromEnv({ AWS_REGION: 'us-west-2', AWS_DEFAULT_REGION: 'eu-west-1' })).toBe('us-west-2');
    expect(awsRegionFromEnv({})).toBeUndefined();
  });

  it('accepts 6-field cron with seconds', () => {
    expect(validateCron('*/10  * * * * *', 'X')).toBe('*/10 * * * * *');
  });

  it("puts a standalone worker's DBOS system database beside the source", () => {
    expect(systemDatabaseUrlFor(readServiceEnv({}), 'postgres://u@h/app')).toBe('postgres://u@h/app_ductstream_dbos_sys');
    expect(() => systemDatabaseUrlFor(readServiceEnv({}), 'host=h dbname=app')).toThrow(/DBOS_SYSTEM_DATABASE_URL/);
  });
});
