import { parseListenAddress } from '../../src/api/listen';

describe('parseListenAddress (DUCTSTREAM_GRPC_LISTEN)', () => {
  it.each([
    [':8080', '0.0.0.0:8080'],
    ['127.0.0.1:9000', '127.0.0.1:9000'],
    ['localhost:0', 'localhost:0'],
    ['[::1]:8080', '[::1]:8080'],
    [' :8080 ', '0.0.0.0:8080'],
  ])('%s → %s', (input, bind) => expect(parseListenAddress(input)).toBe(bind));

  it.each(['8080', 'host', ':', ':99999', 'a b:80', 'http://x:80'])('rejects %s naming the variable', (input) => {
    expect(() => parseListenAddress(input)).toThrow(/^DUCTSTREAM_GRPC_LISTEN: /);
  });
});
