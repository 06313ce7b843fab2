import { conformanceSuite } from './suite';
import { kafkaSubject } from './readers/kafka';

conformanceSuite(kafkaSubject('kafka', ['json', 'avro', 'proto', 'arrow', 'parquet'], { compression: 'gzip' }));
