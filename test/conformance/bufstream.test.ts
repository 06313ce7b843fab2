import { conformanceSuite } from './suite';
import { kafkaSubject } from './readers/kafka';

conformanceSuite({
  ...kafkaSubject('bufstream', ['avro'], { compression: 'zstd' }),
  skip: { 'crash between write and checkpoint (worker, kill -9)': 'same implementation as kafka, whose suite runs it' },
});
