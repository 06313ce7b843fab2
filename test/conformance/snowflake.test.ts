import { conformanceSuite } from './suite';
import { snowflakeSubject } from './readers/snowflake';

conformanceSuite(snowflakeSubject());
