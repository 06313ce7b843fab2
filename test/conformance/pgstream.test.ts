import { conformanceSuite } from './suite';
import { pgstreamSubject } from './readers/pgstream';

conformanceSuite(pgstreamSubject(['json', 'avro', 'proto', 'arrow', 'parquet']));
