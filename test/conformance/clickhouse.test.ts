import { conformanceSuite } from './suite';
import { clickhouseSubject } from './readers/clickhouse';

conformanceSuite(clickhouseSubject('versioned'));
