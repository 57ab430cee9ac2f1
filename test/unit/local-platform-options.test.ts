/** Local mode's switches: read from the environment, refused with a message naming the variable. */
import { ConfigError } from '../../lambdas/config';
import { checkNodeVersion, MIN_NODE_MAJOR, platformOptionsFromEnv } from '../../local/platform';

describe('local mode switches', () => {
  it('leaves every default to startPlatform when nothing is set', () => {
    expect(platformOptionsFromEnv({})).toEqual({});
  });

  it('reads the documented switches', () => {
    const opts = platformOptionsFromEnv({
      PORT: '0',
      API_TOKEN: 'tok-1',
      RETRY_TIME_SCALE: '0.001',
      EGRESS_ALLOW_CIDRS: '10.0.0.0/8',
      ALLOW_HTTP: 'false',
      DATA_DIR: '/tmp/x',
      RETRY_SCHEDULE_SECONDS: '[1,2,3,4,5]',
      LOCAL_PAUSE_DELIVERY: 'true',
      DEFINITION_CACHE_TTL_SECONDS: '0',
    });

    expect(opts).toEqual({
      port: 0,
      token: 'tok-1',
      retryTimeScale: 0.001,
      egressAllowCidrs: '10.0.0.0/8',
      allowHttp: false,
      dataDir: '/tmp/x',
      retrySchedule: [1, 2, 3, 4, 5],
      deliveryPaused: true,
      handlerEnv: { DEFINITION_CACHE_TTL_SECONDS: '0' },
    });
  });

  it('accepts an allow-list of IPv4 and IPv6 CIDRs and bare addresses, spaces around commas', () => {
    expect(
      platformOptionsFromEnv({ EGRESS_ALLOW_CIDRS: '127.0.0.0/8, ::1/128 ,192.168.1.10' })
        .egressAllowCidrs,
    ).toBe('127.0.0.0/8, ::1/128 ,192.168.1.10');
  });

  it('reads LOCAL_PAUSE_DELIVERY as the other boolean switches are read', () => {
    expect(platformOptionsFromEnv({ LOCAL_PAUSE_DELIVERY: 'false' }).deliveryPaused).toBe(false);
    expect(platformOptionsFromEnv({ LOCAL_PAUSE_DELIVERY: '1' }).deliveryPaused).toBe(true);
  });

  it('keeps an explicitly empty allow-list (nothing let through)', () => {
    expect(platformOptionsFromEnv({ EGRESS_ALLOW_CIDRS: '' }).egressAllowCidrs).toBe('');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['RETRY_TIME_SCALE', '0'],
    ['RETRY_TIME_SCALE', 'fast'],
    ['ALLOW_HTTP', 'maybe'],
    ['API_TOKEN', 'has space'],
    ['RETRY_SCHEDULE_SECONDS', '[1,2]'],
    ['EGRESS_ALLOW_CIDRS', 'not-a-cidr'],
    ['EGRESS_ALLOW_CIDRS', '127.0.0.0/8,10.0.0.0/33'],
    ['LOCAL_PAUSE_DELIVERY', 'maybe'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    const read = () => platformOptionsFromEnv({ [name]: value });

    expect(read).toThrow(ConfigError);
    expect(read).toThrow(name);
  });
});

describe('the Node.js local mode runs on', () => {
  it("reads its major from package.json's engines (>=22)", () => {
    expect(MIN_NODE_MAJOR).toBe(22);
  });

  it.each(['22.23.3', '24.1.0'])('accepts Node.js %s', (version) => {
    expect(() => checkNodeVersion(version)).not.toThrow();
  });

  it('refuses an older Node.js, naming it and the npm scripts that bring the right one', () => {
    const check = () => checkNodeVersion('20.20.2');

    expect(check).toThrow(ConfigError);
    expect(check).toThrow('needs Node.js 22 or newer, and this is Node.js 20.20.2');
    expect(check).toThrow('npm start');
  });
});
