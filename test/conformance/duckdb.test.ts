import { conformanceSuite } from './suite';
import { duckdbSubject } from './readers/duckdb';

conformanceSuite(duckdbSubject());
