import { conformanceSuite } from './suite';
import { s3Subject } from './readers/s3';

conformanceSuite(s3Subject(['parquet', 'json', 'avro', 'arrow', 'proto']));
