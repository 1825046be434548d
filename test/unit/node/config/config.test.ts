import test from 'ava'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, defaultListen, parseHostPort, readConfigFile, resolveConfig } from '../../../../node/config/config.ts'

test('resolveConfig: defaults < file < flags, and undefined flags do not override', t => {
  const defaults = resolveConfig({}, {})
  t.is(defaults.network, 'local')
  t.deepEqual(defaults.listen, defaultListen('local'))
  t.is(defaults.api, '127.0.0.1:7373')
  t.false(defaults.mdns, 'loopback-only listening never multicasts')
  const fromFile = resolveConfig({ api: '127.0.0.1:9000', rack: 'file-rack' }, { rack: undefined })
  t.is(fromFile.api, '127.0.0.1:9000')
  t.is(fromFile.rack, 'file-rack')
  const fromFlags = resolveConfig({ api: '127.0.0.1:9000', rack: 'file-rack' }, { rack: 'flag-rack' })
  t.is(fromFlags.rack, 'flag-rack')
  t.is(fromFlags.api, '127.0.0.1:9000')
  t.deepEqual(resolveConfig({}, { network: 'public' }).listen, ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'])
  t.true(resolveConfig({}, { listen: ['/ip4/0.0.0.0/tcp/4001'] }).mdns, 'local network on a LAN address uses mDNS by default')
})

test('resolveConfig: each bad value is a one-line ConfigError naming the setting', t => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ api: 'x' }, 'bad config: api must be HOST:PORT, got "x"'],
    [{ api: '127.0.0.1:70000' }, 'bad config: api must be HOST:PORT, got "127.0.0.1:70000"'],
    [{ network: 'mars' }, 'bad config: network must be local or public, got "mars"'],
    [{ mdns: 'yes' }, 'bad config: mdns must be true or false, got "yes"'],
    [{ network: 'public', mdns: true }, 'bad config: mdns can only be enabled with network local'],
    [{ advertIntervalMs: 10 }, 'bad config: advertIntervalMs must be an integer in 500..900000, got 10'],
    [{ logLevel: 'loud' }, 'bad config: logLevel must be debug, info, warn or error, got "loud"'],
    [{ rack: 'r'.repeat(65) }, `bad config: rack must be a string of at most 64 printable characters, got "${'r'.repeat(65)}"`]
  ]
  for (const [flags, message] of cases) {
    const error = t.throws(() => resolveConfig({}, flags), { instanceOf: ConfigError })
    t.is(error?.message, message)
    t.false(error?.message.includes('\n'))
  }
  t.throws(() => resolveConfig({}, { listen: ['not-a-multiaddr'] }), { message: /^bad config: listen must be a multiaddr, got "not-a-multiaddr"/ })
  t.throws(() => resolveConfig({}, { bootstrap: ['/ip4/127.0.0.1/tcp/4001'] }), { message: /^bad config: bootstrap must be a multiaddr ending in \/p2p\/<peer id>/ })
})

test('readConfigFile: absent is empty, unknown keys and non-JSON are ConfigErrors naming the file', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'pylon-config-'))
  t.deepEqual(await readConfigFile(dir), {})
  writeFileSync(join(dir, 'config.json'), '{"api": "127.0.0.1:1", "colour": "blue"}')
  await t.throwsAsync(readConfigFile(dir), { message: /^bad config: unknown setting "colour" in .*config\.json/ })
  writeFileSync(join(dir, 'config.json'), '{nope')
  await t.throwsAsync(readConfigFile(dir), { message: /^bad config: .*config\.json is not JSON/ })
  writeFileSync(join(dir, 'config.json'), '{"rack": "a"}')
  t.deepEqual(await readConfigFile(dir), { rack: 'a' })
})

test('parseHostPort accepts host:port and [v6]:port, refuses the rest', t => {
  t.deepEqual(parseHostPort('127.0.0.1:0'), { host: '127.0.0.1', port: 0 })
  t.deepEqual(parseHostPort('[::1]:7373'), { host: '::1', port: 7373 })
  for (const bad of ['', '7373', 'host:', ':1', 'a b:1', '1.2.3.4:99999']) t.is(parseHostPort(bad), undefined, bad)
})
