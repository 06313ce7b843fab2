import { conformanceSuite } from './suite';
import { httpSubject } from './readers/http';

conformanceSuite(httpSubject(['json', 'parquet', 'arrow'], 'batch'));
