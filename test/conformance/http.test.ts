import { conformanceSuite } from './suite';
import { httpSubject } from './readers/http';

conformanceSuite(httpSubject(['json', 'avro', 'proto']));
