import { conformanceSuite } from './suite';
import { snowpipeSubject } from './readers/snowpipe';

conformanceSuite(snowpipeSubject());
