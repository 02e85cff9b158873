// Client-compatibility check: runs ioredis 5 and 6 and node-redis 5 and 6,
// over RESP2 and RESP3 (the 6.x default), against a Redis-protocol server and
// asserts every reply.
//
//   node run.mjs HOST:PORT [PASSWORD]
//
// Each library's connections go through a small recording proxy in this
// process, so error replies that the libraries swallow on purpose (they ignore
// a failing CLIENT SETINFO, for instance) are still seen: an error reply the
// suite did not ask for fails the run and is printed with the command that
// caused it. A direct connection (no proxy) per library checks that the proxy
// hides nothing.
//
// All keys live under a random prefix and are deleted at the end, so the
// script can run against a server holding other data. The last line is
// "N passed, M failed"; the exit status is non-zero when anything failed.
//
// Environment: CLIENTS_ONLY, a regular expression, runs only the library
// variants whose names match (e.g. "^ioredis 5"); CLIENTS_TIMEOUT_MS bounds
// the whole run (default 90000); CLIENTS_SUITE=short runs the handshake,
// AUTH and a few commands per variant instead of the whole suite.

import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import * as ioredis5Mod from 'ioredis';
import * as ioredis6Mod from 'ioredis6';
import * as nodeRedis5Mod from 'redis';
import * as nodeRedis6Mod from 'redis6';

// The version each library reports with CLIENT SETINFO LIB-VER: its own
// package's for ioredis, @redis/client's (beside the redis package) for
// node-redis.
const require = createRequire(import.meta.url);
const versionOf = (pkg, inner = pkg) => createRequire(require.resolve(`${pkg}/package.json`))(`${inner}/package.json`).version;
const ioredis5 = { kind: 'ioredis', mod: ioredis5Mod, version: versionOf('ioredis') };
const ioredis6 = { kind: 'ioredis', mod: ioredis6Mod, version: versionOf('ioredis6') };
const nodeRedis5 = { kind: 'node-redis', mod: nodeRedis5Mod, version: versionOf('redis', '@redis/client') };
const nodeRedis6 = { kind: 'node-redis', mod: nodeRedis6Mod, version: versionOf('redis6', '@redis/client') };

const usage = 'usage: node run.mjs HOST:PORT [PASSWORD]';
const [addrArg, password] = process.argv.slice(2);
if (!addrArg || process.argv.length > 4) {
  console.error(usage);
  process.exit(2);
}
const sep = addrArg.lastIndexOf(':');
const host = sep > 0 ? addrArg.slice(0, sep).replace(/^\[|\]$/g, '') : '127.0.0.1';
const port = Number(addrArg.slice(sep + 1));
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`bad address ${JSON.stringify(addrArg)}; ${usage}`);
  process.exit(2);
}

// The whole run is bounded in time, whatever a client does.
const TIMEOUT_MS = Number(process.env.CLIENTS_TIMEOUT_MS || 90_000);
setTimeout(() => {
  console.log(`FAIL run: timed out after ${TIMEOUT_MS} ms`);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}, TIMEOUT_MS).unref();

// ---------------------------------------------------------------------------
// Results, and warnings printed by the libraries (any is a failure).

let passed = 0;
let failed = 0;

async function check(name, fn) {
  const start = Date.now();
  try {
    await fn();
    passed++;
    const ms = Date.now() - start;
    console.log(`ok   ${name}${ms >= 1000 ? ` (${(ms / 1000).toFixed(1)}s)` : ''}`);
  } catch (err) {
    failed++;
    const where = err && err.stack ? (err.stack.split('\n').find((l) => l.includes('run.mjs')) || '').trim() : '';
    const msg = err && err.message !== undefined ? `${err.name}: ${err.message}` : String(err);
    console.log(`FAIL ${name}: ${msg.replace(/\n/g, '\n     ')}${where ? `\n     ${where}` : ''}`);
  }
}

const warnings = [];
for (const level of ['warn', 'error']) {
  const orig = console[level].bind(console);
  console[level] = (...args) => {
    warnings.push(`console.${level}: ${args.map(String).join(' ')}`);
    orig(...args);
  };
}
process.on('warning', (w) => warnings.push(`process warning: ${w.name}: ${w.message}`));

// ---------------------------------------------------------------------------
// RESP reader, for the proxy. parse(buf, off) returns [value, next offset],
// or undefined when buf does not yet hold the whole value.

function parse(buf, off) {
  const nl = buf.indexOf('\r\n', off, 'latin1');
  if (nl < 0) return undefined;
  const t = String.fromCharCode(buf[off]);
  const line = buf.toString('latin1', off + 1, nl);
  let pos = nl + 2;
  switch (t) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(':
      return [{ t, s: line }, pos];
    case '$': case '=': case '!': {
      const n = Number(line);
      if (n < 0) return [{ t, s: null }, pos];
      if (buf.length < pos + n + 2) return undefined;
      return [{ t, s: buf.toString('latin1', pos, pos + n) }, pos + n + 2];
    }
    case '*': case '~': case '%': case '>': case '|': {
      let n = Number(line);
      if (n < 0) return [{ t, a: null }, pos];
      if (t === '%' || t === '|') n *= 2;
      const a = [];
      for (let i = 0; i < n; i++) {
        const r = parse(buf, pos);
        if (!r) return undefined;
        a.push(r[0]);
        pos = r[1];
      }
      if (t === '|') { // an attribute precedes the real reply
        const r = parse(buf, pos);
        if (!r) return undefined;
        return r;
      }
      return [{ t, a }, pos];
    }
    default: // an inline command (client side only): words up to CRLF
      return [{ t: '*', a: line.split(/\s+/).filter(Boolean).map((s) => ({ t: '$', s })) }, pos];
  }
}

const show = (s) => {
  const v = JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s);
  return /^[\w.:|@*-]+$/.test(s) ? s : v;
};
const cmdText = (v) => (v.a || []).map((x) => (password && x.s === password ? '<password>' : show(x.s ?? '?'))).join(' ');

// A Proxy listens on loopback and forwards every connection to the server,
// pairing each reply with the command that caused it. Error replies are kept
// in errors as {phase, cmd, err}; expect() declares the ones a suite causes on
// purpose. sent lists every command, for the handshake report.
class Proxy {
  constructor(label) {
    this.label = label;
    this.phase = 'connect';
    this.errors = [];
    this.expected = [];
    this.sent = [];
    this.sockets = new Set();
  }

  async start() {
    this.server = net.createServer((c) => this.#relay(c));
    await new Promise((res, rej) => {
      this.server.once('error', rej);
      this.server.listen(0, '127.0.0.1', res);
    });
    this.port = this.server.address().port;
    return this;
  }

  #relay(client) {
    const upstream = net.connect({ host, port });
    this.sockets.add(client).add(upstream);
    const pending = []; // commands awaiting replies, in order
    let inBuf = Buffer.alloc(0);
    let outBuf = Buffer.alloc(0);
    client.on('data', (chunk) => {
      upstream.write(chunk);
      inBuf = inBuf.length ? Buffer.concat([inBuf, chunk]) : chunk;
      let off = 0;
      for (let r; off < inBuf.length && (r = parse(inBuf, off)); off = r[1]) {
        const text = cmdText(r[0]);
        pending.push({ text, phase: this.phase });
        this.sent.push({ phase: this.phase, cmd: text });
      }
      inBuf = inBuf.subarray(off);
    });
    upstream.on('data', (chunk) => {
      client.write(chunk);
      outBuf = outBuf.length ? Buffer.concat([outBuf, chunk]) : chunk;
      let off = 0;
      for (let r; off < outBuf.length && (r = parse(outBuf, off)); off = r[1]) {
        if (r[0].t === '>') continue; // push message, not a reply
        const cmd = pending.shift() || { text: '(no command)', phase: this.phase };
        if (r[0].t === '-' || r[0].t === '!') this.#error(cmd, r[0].s);
      }
      outBuf = outBuf.subarray(off);
    });
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }

  #error(cmd, err) {
    const i = this.expected.findIndex((e) => e.phase === cmd.phase && e.re.test(err));
    if (i >= 0 && --this.expected[i].n === 0) this.expected.splice(i, 1);
    if (i < 0) this.errors.push({ phase: cmd.phase, cmd: cmd.text, err });
  }

  // expect declares that the next n error replies matching re are wanted.
  expect(re, n = 1) {
    this.expected.push({ phase: this.phase, re, n });
  }

  // unexpected returns the unexpected error replies seen in phase, as text.
  unexpected(phase) {
    return this.errors.filter((e) => e.phase === phase).map((e) => `${e.cmd} -> -${e.err}`);
  }

  handshake() {
    return this.sent.filter((s) => s.phase === 'connect').map((s) => s.cmd.split(' ').slice(0, 3).join(' '));
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise((res) => this.server.close(res));
  }
}

// ---------------------------------------------------------------------------
// A raw connection for what the libraries cannot show: AUTH failures, the
// server's version, INFO, and cleanup.

class Raw {
  static async open() {
    const r = new Raw();
    r.sock = net.connect({ host, port });
    r.sock.setNoDelay(true);
    await new Promise((res, rej) => { r.sock.once('connect', res); r.sock.once('error', rej); });
    r.buf = Buffer.alloc(0);
    r.waiters = [];
    r.sock.on('data', (chunk) => {
      r.buf = Buffer.concat([r.buf, chunk]);
      for (let p; r.waiters.length && (p = parse(r.buf, 0));) {
        r.buf = r.buf.subarray(p[1]);
        r.waiters.shift()(p[0]);
      }
    });
    r.sock.on('error', () => {});
    return r;
  }

  do(...args) {
    const parts = [`*${args.length}\r\n`];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(`$${b.length}\r\n`, b, '\r\n');
    }
    this.sock.write(Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p)))));
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no reply to ${args[0]} within 10s`)), 10_000);
      this.waiters.push((v) => { clearTimeout(timer); res(v); });
    });
  }

  close() { this.sock.destroy(); }
}

// versionAtLeast compares dotted versions ("7.0.15" >= "7.2.0").
function versionAtLeast(v, min) {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] || 0) !== (b[i] || 0)) return (a[i] || 0) > (b[i] || 0);
  }
  return true;
}

// ---------------------------------------------------------------------------
// The suite, written once against a small adapter per library.

const BINARY = Buffer.from([0x00, 0xff, 0x41, 0x00, 0x0d, 0x0a, 0x80, 0xfe, 0x00]);
const BINARY_KEY = Buffer.concat([Buffer.from('bin-key:'), Buffer.from([0x00, 0xff, 0x0d, 0x0a])]);
const BIG = randomBytes(200 * 1024);

// suite runs the representative commands through lib, an adapter with:
//   cmd(name, ...args) -> reply (library types), getBuffer(key) -> Buffer|null,
//   scan(cursor, match, count) -> [cursor string, keys], batch(commands) -> replies,
//   clientInfo() -> CLIENT INFO text.
async function suite(name, lib, proxy, ctx) {
  const p = `ct:${name.replace(/\W+/g, '-')}:${randomBytes(4).toString('hex')}:`;
  // CLIENTS_SUITE=short keeps a few commands (for runs that are about the
  // handshake and AUTH, e.g. with a password).
  const short = process.env.CLIENTS_SUITE === 'short';
  const core = new Set(['PING', 'SET and GET', 'binary value with \\0, \\xff and CRLF bytes', 'batch of 1000 commands in one pipeline',
    'CLIENT INFO shows the library set by CLIENT SETINFO on connect', 'AUTH again on a connected client', 'cleanup']);
  const t = (what, fn) => (short && !core.has(what) ? undefined : check(`${name}: ${what}`, fn));
  const c = lib.cmd;

  await t('PING', async () => assert.equal(await c('PING'), 'PONG'));
  await t('ECHO', async () => assert.equal(await c('ECHO', 'hello world'), 'hello world'));
  await t('SET and GET', async () => {
    assert.equal(await c('SET', `${p}k`, 'v'), 'OK');
    assert.equal(await c('GET', `${p}k`), 'v');
    assert.equal(await c('GET', `${p}missing`), null);
  });
  await t('SET NX / XX', async () => {
    assert.equal(await c('SET', `${p}k`, 'other', 'NX'), null);
    assert.equal(await c('GET', `${p}k`), 'v');
    assert.equal(await c('SET', `${p}nx`, 'first', 'NX'), 'OK');
    assert.equal(await c('SET', `${p}xx`, 'x', 'XX'), null);
    assert.equal(await c('EXISTS', `${p}xx`), 0);
    assert.equal(await c('SET', `${p}nx`, 'second', 'XX'), 'OK');
    assert.equal(await c('GET', `${p}nx`), 'second');
  });
  await t('SET GET returns the old value', async () => {
    assert.equal(await c('SET', `${p}k`, 'v2', 'GET'), 'v');
    assert.equal(await c('GET', `${p}k`), 'v2');
    assert.equal(await c('SET', `${p}getnew`, 'n', 'GET'), null);
  });
  await t('SET EX / PX and TTL / PTTL', async () => {
    assert.equal(await c('SET', `${p}ex`, 'v', 'EX', '100'), 'OK');
    const ttl = await c('TTL', `${p}ex`);
    assert.ok(ttl > 0 && ttl <= 100, `TTL ${ttl}`);
    assert.equal(await c('SET', `${p}px`, 'v', 'PX', '100000'), 'OK');
    const pttl = await c('PTTL', `${p}px`);
    assert.ok(pttl > 0 && pttl <= 100000, `PTTL ${pttl}`);
    assert.equal(await c('SET', `${p}nxex`, 'a', 'NX', 'EX', '50', 'GET'), null);
    assert.equal(await c('SET', `${p}nxex`, 'b', 'NX', 'EX', '50', 'GET'), 'a');
    assert.equal(await c('GET', `${p}nxex`), 'a');
    const t2 = await c('TTL', `${p}nxex`);
    assert.ok(t2 > 0 && t2 <= 50, `TTL ${t2}`);
  });
  await t('SET with a bad expire time is an error', async () => {
    proxy.expect(/^ERR invalid expire time in 'set' command$/);
    await assert.rejects(c('SET', `${p}bad`, 'v', 'EX', '0'), /ERR invalid expire time in 'set' command/);
  });
  await t('MSET / MGET', async () => {
    assert.equal(await c('MSET', `${p}a`, '1', `${p}b`, '2', `${p}c`, '3'), 'OK');
    assert.deepEqual(await c('MGET', `${p}a`, `${p}b`, `${p}missing`, `${p}c`), ['1', '2', null, '3']);
  });
  await t('INCR / INCRBY / DECR / DECRBY', async () => {
    assert.equal(await c('INCR', `${p}n`), 1);
    assert.equal(await c('INCR', `${p}n`), 2);
    assert.equal(await c('INCRBY', `${p}n`, '40'), 42);
    assert.equal(await c('DECR', `${p}n`), 41);
    assert.equal(await c('DECRBY', `${p}n`, '50'), -9);
    assert.equal(await c('GET', `${p}n`), '-9');
  });
  await t('INCRBYFLOAT', async () => {
    assert.equal(String(await c('INCRBYFLOAT', `${p}f`, '1.5')), '1.5');
    assert.equal(String(await c('INCRBYFLOAT', `${p}f`, '0.25')), '1.75');
    assert.equal(String(await c('INCRBYFLOAT', `${p}f`, '-3')), '-1.25');
    assert.equal(await c('GET', `${p}f`), '-1.25');
  });
  await t('INCR on a non-integer is an error', async () => {
    proxy.expect(/^ERR value is not an integer or out of range$/);
    await assert.rejects(c('INCR', `${p}k`), /^(ReplyError: |Error: )?ERR value is not an integer or out of range$/);
  });
  await t('wrong number of arguments is an error', async () => {
    proxy.expect(/^ERR wrong number of arguments for 'get' command$/);
    await assert.rejects(c('GET'), /ERR wrong number of arguments for 'get' command/);
  });
  await t('unknown command is an error', async () => {
    proxy.expect(/^ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' 'y' $/);
    await assert.rejects(c('NOSUCHCMD', 'x', 'y'), /ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' 'y' /);
  });
  await t('EXPIRE / TTL / PERSIST', async () => {
    assert.equal(await c('EXPIRE', `${p}a`, '100'), 1);
    const ttl = await c('TTL', `${p}a`);
    assert.ok(ttl > 0 && ttl <= 100, `TTL ${ttl}`);
    assert.equal(await c('PERSIST', `${p}a`), 1);
    assert.equal(await c('TTL', `${p}a`), -1);
    assert.equal(await c('TTL', `${p}missing`), -2);
    assert.equal(await c('EXPIRE', `${p}missing`, '100'), 0);
    assert.equal(await c('PEXPIRE', `${p}b`, '100000'), 1);
    const pttl = await c('PTTL', `${p}b`);
    assert.ok(pttl > 0 && pttl <= 100000, `PTTL ${pttl}`);
  });
  await t('EXPIRE in the past deletes', async () => {
    assert.equal(await c('SET', `${p}gone`, 'v'), 'OK');
    assert.equal(await c('EXPIRE', `${p}gone`, '-1'), 1);
    assert.equal(await c('EXISTS', `${p}gone`), 0);
  });
  await t('DEL / EXISTS / UNLINK / TYPE', async () => {
    assert.equal(await c('EXISTS', `${p}a`, `${p}c`, `${p}missing`), 2);
    assert.equal(await c('EXISTS', `${p}a`, `${p}a`), 2);
    assert.equal(await c('DEL', `${p}a`, `${p}b`, `${p}missing`), 2);
    assert.equal(await c('EXISTS', `${p}a`, `${p}b`, `${p}c`), 1);
    assert.equal(await c('TYPE', `${p}c`), 'string');
    assert.equal(await c('TYPE', `${p}missing`), 'none');
    assert.equal(await c('UNLINK', `${p}c`), 1);
    assert.equal(await c('EXISTS', `${p}c`), 0);
  });
  await t('APPEND / STRLEN / GETRANGE / SETRANGE', async () => {
    assert.equal(await c('APPEND', `${p}s`, 'Hello'), 5);
    assert.equal(await c('APPEND', `${p}s`, ' World'), 11);
    assert.equal(await c('STRLEN', `${p}s`), 11);
    assert.equal(await c('GETRANGE', `${p}s`, '0', '4'), 'Hello');
    assert.equal(await c('GETRANGE', `${p}s`, '-5', '-1'), 'World');
    assert.equal(await c('SETRANGE', `${p}s`, '6', 'Redis'), 11);
    assert.equal(await c('GET', `${p}s`), 'Hello Redis');
  });
  await t('GETDEL / GETEX / GETSET / SETNX / SETEX', async () => {
    assert.equal(await c('GETEX', `${p}s`, 'EX', '100'), 'Hello Redis');
    const ttl = await c('TTL', `${p}s`);
    assert.ok(ttl > 0 && ttl <= 100, `TTL ${ttl}`);
    assert.equal(await c('GETEX', `${p}s`, 'PERSIST'), 'Hello Redis');
    assert.equal(await c('TTL', `${p}s`), -1);
    assert.equal(await c('GETDEL', `${p}s`), 'Hello Redis');
    assert.equal(await c('GETDEL', `${p}s`), null);
    assert.equal(await c('GETSET', `${p}gs`, 'one'), null);
    assert.equal(await c('GETSET', `${p}gs`, 'two'), 'one');
    assert.equal(await c('SETNX', `${p}gs`, 'three'), 0);
    assert.equal(await c('SETNX', `${p}snx`, 'x'), 1);
    assert.equal(await c('SETEX', `${p}sex`, '100', 'v'), 'OK');
    const t3 = await c('TTL', `${p}sex`);
    assert.ok(t3 > 0 && t3 <= 100, `TTL ${t3}`);
  });
  await t('empty value', async () => {
    assert.equal(await c('SET', `${p}empty`, ''), 'OK');
    assert.equal(await c('GET', `${p}empty`), '');
    assert.equal(await c('STRLEN', `${p}empty`), 0);
    assert.equal(await c('EXISTS', `${p}empty`), 1);
    assert.deepEqual(await lib.getBuffer(`${p}empty`), Buffer.alloc(0));
  });
  await t('binary value with \\0, \\xff and CRLF bytes', async () => {
    assert.equal(await c('SET', `${p}bin`, BINARY), 'OK');
    assert.deepEqual(await lib.getBuffer(`${p}bin`), BINARY);
    assert.equal(await c('STRLEN', `${p}bin`), BINARY.length);
    assert.equal(await c('APPEND', `${p}bin`, BINARY), 2 * BINARY.length);
    assert.deepEqual(await lib.getBuffer(`${p}bin`), Buffer.concat([BINARY, BINARY]));
  });
  await t('binary key', async () => {
    const k = Buffer.concat([Buffer.from(p), BINARY_KEY]);
    assert.equal(await c('SET', k, BINARY), 'OK');
    assert.deepEqual(await lib.getBuffer(k), BINARY);
    assert.equal(await c('EXISTS', k), 1);
  });
  await t('200 KiB random value', async () => {
    assert.equal(await c('SET', `${p}big`, BIG), 'OK');
    assert.ok(BIG.equals(await lib.getBuffer(`${p}big`)), 'value differs');
    assert.equal(await c('STRLEN', `${p}big`), BIG.length);
  });
  await t('SCAN iteration with MATCH and COUNT', async () => {
    const want = new Set();
    const batch = [];
    for (let i = 0; i < 250; i++) {
      want.add(`${p}scan:${i}`);
      batch.push(['SET', `${p}scan:${i}`, String(i)]);
    }
    const replies = await lib.batch(batch);
    assert.ok(replies.every((r) => r === 'OK'), 'SET replies');
    const seen = new Set();
    let cursor = '0';
    let calls = 0;
    do {
      const [next, keys] = await lib.scan(cursor, `${p}scan:*`, 40);
      assert.equal(typeof next, 'string');
      for (const k of keys) {
        assert.ok(want.has(k), `SCAN returned ${k}, which does not match`);
        seen.add(k);
      }
      cursor = next;
      calls++;
      assert.ok(calls < 10_000, 'SCAN did not finish');
    } while (cursor !== '0');
    assert.equal(seen.size, want.size, `SCAN saw ${seen.size} of ${want.size} keys`);
    assert.ok(calls > 1, `a full iteration of 250 keys with COUNT 40 took ${calls} call(s)`);
  });
  await t('batch of 1000 commands in one pipeline', async () => {
    const cmds = [];
    for (let i = 0; i < 500; i++) {
      cmds.push(['SET', `${p}pipe:${i}`, `value-${i}`]);
      cmds.push(['INCR', `${p}pipe:count`]);
    }
    const r1 = await lib.batch(cmds);
    assert.equal(r1.length, 1000);
    for (let i = 0; i < 500; i++) {
      assert.equal(r1[2 * i], 'OK');
      assert.equal(r1[2 * i + 1], i + 1);
    }
    const gets = [];
    for (let i = 0; i < 1000; i++) gets.push(['GET', `${p}pipe:${i % 500}`]);
    const r2 = await lib.batch(gets);
    assert.equal(r2.length, 1000);
    r2.forEach((v, i) => assert.equal(v, `value-${i % 500}`));
  });
  await t('INFO', async () => {
    const info = String(await c('INFO', 'server'));
    assert.match(info, /^# Server\r\n/);
    assert.match(info, /\r\nredis_version:\d+\.\d+\.\d+\r\n/);
    const keyspace = String(await c('INFO', 'keyspace'));
    assert.match(keyspace, /^# Keyspace\r\n(db\d+:keys=\d+,expires=\d+,avg_ttl=\d+.*\r\n)*$/);
  });
  await t('DBSIZE', async () => {
    const n = await c('DBSIZE');
    assert.ok(Number.isInteger(n) && n >= 500, `DBSIZE ${n}`);
  });
  await t('CLIENT SETNAME / GETNAME / ID', async () => {
    assert.equal(await c('CLIENT', 'SETNAME', `compat-${name.replace(/\W+/g, '-')}`), 'OK');
    assert.equal(await c('CLIENT', 'GETNAME'), `compat-${name.replace(/\W+/g, '-')}`);
    assert.ok(Number(await c('CLIENT', 'ID')) > 0);
  });
  if (ctx.setinfo) {
    await t('CLIENT INFO shows the library set by CLIENT SETINFO on connect', async () => {
      const info = String(await lib.clientInfo());
      assert.match(info, new RegExp(` lib-name=${lib.libName} `));
      assert.match(info, new RegExp(` lib-ver=${lib.libVer.replace(/\./g, '\\.')}\\b`));
    });
  }
  if (password) {
    await t('AUTH again on a connected client', async () => {
      assert.equal(await c('AUTH', password), 'OK');
      assert.equal(await c('AUTH', 'default', password), 'OK');
      proxy.expect(/^WRONGPASS invalid username-password pair or user is disabled\.$/);
      await assert.rejects(c('AUTH', `${password}-wrong`), /WRONGPASS invalid username-password pair or user is disabled\./);
      assert.equal(await c('PING'), 'PONG', 'a failed AUTH must not log the connection out');
    });
  }
  await t('cleanup', async () => {
    const keys = [];
    let cursor = '0';
    do {
      const [next, ks] = await lib.scan(cursor, `${p}*`, 500);
      keys.push(...ks);
      cursor = next;
    } while (cursor !== '0');
    const dels = [];
    for (let i = 0; i < keys.length; i += 100) dels.push(['DEL', ...keys.slice(i, i + 100)]);
    if (dels.length) await lib.batch(dels);
    const k = Buffer.concat([Buffer.from(p), BINARY_KEY]);
    await c('DEL', k);
    const [, left] = await lib.scan('0', `${p}*`, 10_000);
    assert.deepEqual(left, []);
  });
}

// ---------------------------------------------------------------------------
// Libraries. Each variant names a library build, how to connect it and an
// adapter for the suite. The 6.x majors default to RESP3 (HELLO 3).

const VARIANTS = [
  { name: 'ioredis 5 (RESP2)', lib: ioredis5, opts: {} },
  { name: 'ioredis 5 with connectionName', lib: ioredis5, opts: { connectionName: 'compat-io5' }, connName: 'compat-io5', handshakeOnly: true },
  { name: 'ioredis 6 (default: RESP3)', lib: ioredis6, opts: {} },
  { name: 'ioredis 6 with connectionName', lib: ioredis6, opts: { connectionName: 'compat-io6' }, connName: 'compat-io6', handshakeOnly: true },
  { name: 'ioredis 6 RESP2', lib: ioredis6, opts: { protocol: 2 } },
  { name: 'node-redis 5 RESP3', lib: nodeRedis5, opts: { RESP: 3 } },
  { name: 'node-redis 5 (default: RESP2)', lib: nodeRedis5, opts: {} },
  { name: 'node-redis 5 RESP2 (HELLO 2)', lib: nodeRedis5, opts: { RESP: 2 } },
  { name: 'node-redis 6 (default: RESP3)', lib: nodeRedis6, opts: {} },
  { name: 'node-redis 6 with name (HELLO 3 SETNAME)', lib: nodeRedis6, opts: { name: 'compat-nr6' }, connName: 'compat-nr6', handshakeOnly: true },
  { name: 'node-redis 5 with name (CLIENT SETNAME)', lib: nodeRedis5, opts: { name: 'compat-nr5' }, connName: 'compat-nr5', handshakeOnly: true },
  { name: 'node-redis 6 RESP2', lib: nodeRedis6, opts: { RESP: 2 } },
];

function ioredisAdapter(lib, r) {
  return {
    libName: 'ioredis',
    libVer: lib.version,
    cmd: (name, ...args) => r.call(name, ...args),
    getBuffer: (k) => r.callBuffer('GET', k),
    scan: async (cursor, match, count) => r.scan(cursor, 'MATCH', match, 'COUNT', count),
    batch: async (cmds) => {
      const res = await r.pipeline(cmds.map((cmd) => ['call', ...cmd])).exec();
      return res.map(([err, v]) => { if (err) throw err; return v; });
    },
    clientInfo: () => r.call('CLIENT', 'INFO'),
    close: async () => assert.equal(await r.quit(), 'OK'),
    typed: (name) => ioredisTyped(name, r),
  };
}

// ioredisTyped runs commands through ioredis's own methods, its scanStream
// and a typed pipeline.
async function ioredisTyped(name, r) {
  const p = `ct:${name.replace(/\W+/g, '-')}:typed:${randomBytes(4).toString('hex')}:`;
  await check(`${name}: typed set/get/mget/incrbyfloat/ttl/exists/scanStream/pipeline/del`, async () => {
    assert.equal(await r.set(`${p}k`, 'v', 'EX', 100, 'NX'), 'OK');
    assert.equal(await r.set(`${p}k`, 'w', 'GET'), 'v');
    assert.equal(await r.get(`${p}k`), 'w');
    assert.deepEqual(await r.mget(`${p}k`, `${p}missing`), ['w', null]);
    assert.equal(await r.incrbyfloat(`${p}f`, 2.5), '2.5');
    assert.equal(await r.incr(`${p}n`), 1);
    assert.equal(await r.expire(`${p}n`, 100), 1);
    const ttl = await r.ttl(`${p}n`);
    assert.ok(ttl > 0 && ttl <= 100, `TTL ${ttl}`);
    assert.equal(await r.exists(`${p}k`, `${p}n`, `${p}missing`), 2);
    const seen = [];
    await new Promise((resolve, reject) => {
      r.scanStream({ match: `${p}*`, count: 1 })
        .on('data', (keys) => seen.push(...keys))
        .on('error', reject)
        .on('end', resolve);
    });
    assert.deepEqual([...new Set(seen)].sort(), [`${p}f`, `${p}k`, `${p}n`]);
    const res = await r.pipeline().set(`${p}pl`, 'x').get(`${p}pl`).incr(`${p}n`).getBuffer(`${p}pl`).exec();
    assert.deepEqual(res, [[null, 'OK'], [null, 'x'], [null, 2], [null, Buffer.from('x')]]);
    assert.equal(await r.del(`${p}k`, `${p}n`, `${p}f`, `${p}pl`), 4);
  });
}

function nodeRedisAdapter(lib, c) {
  const buf = c.withTypeMapping({ [lib.mod.RESP_TYPES.BLOB_STRING]: Buffer });
  const str = (a) => (Buffer.isBuffer(a) ? a : String(a));
  return {
    libName: 'node-redis',
    libVer: lib.version,
    cmd: async (...args) => {
      const v = await c.sendCommand(args.map(str));
      // RESP3 INFO is a verbatim string.
      return v instanceof lib.mod.VerbatimString ? String(v) : v;
    },
    getBuffer: (k) => buf.get(k),
    scan: async (cursor, match, count) => {
      const r = await c.scan(cursor, { MATCH: match, COUNT: count });
      return [r.cursor, r.keys];
    },
    batch: async (cmds) => {
      const m = c.multi();
      for (const cmd of cmds) m.addCommand(cmd.map(str));
      return m.execAsPipeline();
    },
    clientInfo: () => c.sendCommand(['CLIENT', 'INFO']),
    close: () => c.close(),
    typed: (name) => nodeRedisTyped(name, c),
  };
}

// nodeRedisTyped runs a few commands through node-redis's typed methods (not
// sendCommand), whose reply transforms depend on the protocol.
async function nodeRedisTyped(name, c) {
  const p = `ct:${name.replace(/\W+/g, '-')}:typed:${randomBytes(4).toString('hex')}:`;
  await check(`${name}: typed set/get/mGet/incrByFloat/ttl/exists/info/scanIterator/del`, async () => {
    assert.equal(await c.set(`${p}k`, 'v', { EX: 100, NX: true }), 'OK');
    assert.equal(await c.set(`${p}k`, 'w', { GET: true }), 'v');
    assert.equal(await c.get(`${p}k`), 'w');
    assert.deepEqual(await c.mGet([`${p}k`, `${p}missing`]), ['w', null]);
    assert.equal(String(await c.incrByFloat(`${p}f`, 2.5)), '2.5');
    assert.equal(await c.incr(`${p}n`), 1);
    assert.equal(await c.expire(`${p}n`, 100), 1);
    const ttl = await c.ttl(`${p}n`);
    assert.ok(ttl > 0 && ttl <= 100, `TTL ${ttl}`);
    assert.equal(await c.exists([`${p}k`, `${p}n`, `${p}missing`]), 2);
    const info = await c.info('keyspace');
    assert.match(String(info), /^# Keyspace\r\n/);
    const seen = [];
    for await (const keys of c.scanIterator({ MATCH: `${p}*`, COUNT: 1 })) seen.push(...keys);
    assert.deepEqual([...new Set(seen)].sort(), [`${p}f`, `${p}k`, `${p}n`]);
    assert.equal(await c.del([`${p}k`, `${p}n`, `${p}f`]), 3);
  });
}

// connect opens a client of variant v on port_ (with password pw unless it
// is null) and returns it with the list its 'error' events go to.
async function connect(v, port_, pw = password) {
  const auth = pw ? { password: pw } : {};
  const errors = [];
  if (v.lib.kind === 'ioredis') {
    const r = new v.lib.mod.default({
      host: '127.0.0.1', port: port_, ...auth, lazyConnect: true,
      retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 10_000, ...v.opts,
    });
    r.on('error', (e) => errors.push(e));
    const h = { client: r, errors, lib: ioredisAdapter(v.lib, r) };
    try {
      await r.connect();
    } catch (err) {
      r.disconnect();
      err.errors = errors;
      throw err;
    }
    return h;
  }
  const c = v.lib.mod.createClient({
    socket: { host: '127.0.0.1', port: port_, reconnectStrategy: false, connectTimeout: 10_000 },
    ...auth, ...v.opts,
  });
  c.on('error', (e) => errors.push(e));
  try {
    await c.connect();
  } catch (err) {
    if (c.isOpen) c.destroy();
    err.errors = errors;
    throw err;
  }
  return { client: c, errors, lib: nodeRedisAdapter(v.lib, c) };
}

// tolerated reports whether a handshake error reply is one stock Redis of
// the server's version gives too, and that the library ignores by design:
// CLIENT SETINFO before Redis 7.2, and node-redis's CLIENT MAINT_NOTIFICATIONS
// (Redis Enterprise only), both with Redis's exact unknown-subcommand error.
function tolerated(e, ctx) {
  if (/^client MAINT_NOTIFICATIONS .* -> -ERR unknown subcommand 'MAINT_NOTIFICATIONS'\. Try CLIENT HELP\.$/i.test(e)) return true;
  return !ctx.setinfo && /^client SETINFO .* -> -ERR unknown subcommand 'SETINFO'\. Try CLIENT HELP\.$/i.test(e);
}

async function runVariant(v, ctx) {
  const name = v.name;
  const proxy = await new Proxy(name).start();
  let h;
  await check(`${name}: connect`, async () => {
    const before = warnings.length;
    h = await connect(v, proxy.port);
    // Wait for the handshake replies to reach the proxy: one round trip.
    await h.lib.cmd('PING');
    assert.deepEqual(h.errors.map(String), [], 'error events on connect');
    const bad = proxy.unexpected('connect').filter((e) => !tolerated(e, ctx));
    assert.deepEqual(bad, [], `error replies to the connection handshake (${proxy.handshake().join(', ')})`);
    assert.deepEqual(warnings.slice(before), [], 'warnings on connect');
  });
  console.log(`     ${name} handshake: ${proxy.handshake().join(', ') || '(none)'}`);
  for (const e of proxy.unexpected('connect').filter((e) => tolerated(e, ctx))) {
    console.log(`     ${name} handshake error tolerated (stock Redis ${ctx.version} answers the same; the library ignores it): ${e}`);
  }
  if (!h) {
    await proxy.close();
    return;
  }
  proxy.phase = 'commands';
  if (v.connName) {
    await check(`${name}: CLIENT GETNAME is the name set on connect`, async () => {
      assert.equal(await h.lib.cmd('CLIENT', 'GETNAME'), v.connName);
      assert.match(String(await h.lib.clientInfo()), new RegExp(` name=${v.connName} `));
    });
  }
  if (!v.handshakeOnly) {
    await suite(name, h.lib, proxy, ctx);
    if (h.lib.typed && process.env.CLIENTS_SUITE !== 'short') await h.lib.typed(name);
  }
  await check(`${name}: no unexpected error replies or error events`, async () => {
    assert.deepEqual(proxy.unexpected('commands'), []);
    assert.deepEqual(proxy.expected.map((e) => String(e.re)), [], 'expected errors that never came');
    assert.deepEqual(h.errors.map(String), []);
  });
  await check(`${name}: close`, () => h.lib.close());
  await proxy.close();

  // The same library straight to the server, no proxy in between.
  await check(`${name} direct: connect, SET/GET binary, close`, async () => {
    const d = await connect(v, port);
    const k = `ct:direct:${randomBytes(4).toString('hex')}`;
    assert.equal(await d.lib.cmd('SET', k, BINARY), 'OK');
    assert.deepEqual(await d.lib.getBuffer(k), BINARY);
    assert.equal(await d.lib.cmd('DEL', k), 1);
    await d.lib.close();
    assert.deepEqual(d.errors.map(String), []);
  });

  if (password) {
    await check(`${name}: a wrong password fails to connect with WRONGPASS`, async () => {
      const err = await connect(v, port, `${password}-wrong`).then((x) => { x.lib.close(); return null; }, (e) => e);
      assert.ok(err, 'connected with a wrong password');
      const msgs = [err, ...(err.errors || [])].map((e) => e.message);
      assert.ok(msgs.some((m) => /^WRONGPASS invalid username-password pair or user is disabled\.$/.test(m)), `errors: ${msgs.join('; ')}`);
    });
    await check(`${name}: no password gets NOAUTH`, async () => {
      const err = await connect(v, port, null).then(async (x) => {
        // RESP2 clients connect (their handshake errors are ignored); the
        // first command then fails.
        try {
          await x.lib.cmd('GET', 'x');
          return null;
        } catch (e) {
          return e;
        } finally {
          x.client.disconnect ? x.client.disconnect() : x.client.destroy();
        }
      }, (e) => e);
      assert.ok(err, 'GET without a password succeeded');
      const msgs = [err, ...(err.errors || [])].map((e) => e.message);
      // HELLO 3 without AUTH has its own NOAUTH message (Redis 7.2 added "<proto> ").
      assert.ok(msgs.some((m) => m === 'NOAUTH Authentication required.' ||
        /^NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO (<proto> )?AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time$/.test(m)),
        `errors: ${msgs.join('; ')}`);
    });
  }
}

// authChecks uses raw connections: without a password, and with a wrong one.
async function authChecks() {
  await check('AUTH: commands before AUTH get NOAUTH, a wrong password WRONGPASS', async () => {
    const raw = await Raw.open();
    try {
      assert.deepEqual(await raw.do('GET', 'x'), { t: '-', s: 'NOAUTH Authentication required.' });
      assert.deepEqual(await raw.do('AUTH', `${password}-wrong`), { t: '-', s: 'WRONGPASS invalid username-password pair or user is disabled.' });
      assert.deepEqual(await raw.do('HELLO', '3', 'AUTH', 'default', `${password}-wrong`), { t: '-', s: 'WRONGPASS invalid username-password pair or user is disabled.' });
      assert.deepEqual(await raw.do('PING'), { t: '-', s: 'NOAUTH Authentication required.' });
      assert.deepEqual(await raw.do('AUTH', password), { t: '+', s: 'OK' });
      assert.deepEqual(await raw.do('PING'), { t: '+', s: 'PONG' });
    } finally {
      raw.close();
    }
  });
}

// clientSideCacheCheck: node-redis 5's client-side cache (RESP3, CLIENT
// TRACKING ON at connect) serves a repeated GET from its cache, and drops the
// entry when another client writes the key (the server's invalidation push).
async function clientSideCacheCheck() {
  await check('node-redis 5 client-side cache (CLIENT TRACKING): hits, then invalidation', async () => {
    const auth = password ? { password } : {};
    const opts = { socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 10_000 }, ...auth };
    const cached = nodeRedis5.mod.createClient({ ...opts, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 0 } });
    const other = nodeRedis5.mod.createClient(opts);
    const errors = [];
    cached.on('error', (e) => errors.push(e));
    other.on('error', (e) => errors.push(e));
    await cached.connect();
    await other.connect();
    try {
      const key = `csc:${process.pid}`;
      await other.set(key, 'v1');
      assert.equal(await cached.get(key), 'v1');
      assert.equal(await cached.get(key), 'v1');
      const hits = cached.clientSideCache.stats().hitCount;
      assert.ok(hits >= 1, `no cache hit after two GETs (hits ${hits})`);
      await other.set(key, 'v2');
      // The invalidation is pushed on the cached client's connection; wait
      // for it (bounded), then the next GET must see the new value.
      const deadline = Date.now() + 5000;
      let got;
      do {
        await new Promise((r) => setTimeout(r, 20));
        got = await cached.get(key);
      } while (got !== 'v2' && Date.now() < deadline);
      assert.equal(got, 'v2', 'the cached client still serves the old value after another client wrote the key');
      await other.del(key);
      assert.deepEqual(errors, []);
    } finally {
      cached.destroy();
      other.destroy();
    }
  });
}

async function main() {
  const libs = [ioredis5, ioredis6, nodeRedis5, nodeRedis6].map((l) => `${l.kind} ${l.version}`).join(', ');
  console.log(`target ${host}:${port}${password ? ' (with password)' : ''}; ${libs}; node ${process.version}`);
  const ctx = {};
  await check('server version (HELLO 2 over a raw connection)', async () => {
    const raw = await Raw.open();
    try {
      const hello = await raw.do('HELLO', '2', ...(password ? ['AUTH', 'default', password] : []));
      assert.equal(hello.t, '*', `HELLO reply ${JSON.stringify(hello)}`);
      const fields = hello.a.map((x) => x.s);
      ctx.version = fields[fields.indexOf('version') + 1];
      assert.match(ctx.version || '', /^\d+\.\d+\.\d+$/, `HELLO fields ${fields.join(' ')}`);
      // CLIENT SETINFO is Redis 7.2+; clients send it anyway and ignore the error.
      ctx.setinfo = versionAtLeast(ctx.version, '7.2.0');
      console.log(`     redis_version ${ctx.version}${ctx.setinfo ? '' : ' (< 7.2: CLIENT SETINFO errors on connect are tolerated)'}`);
    } finally {
      raw.close();
    }
  });
  if (ctx.version === undefined) return;

  const only = new RegExp(process.env.CLIENTS_ONLY || '');
  for (const v of VARIANTS.filter((x) => only.test(x.name))) await runVariant(v, ctx);
  if (password) await authChecks();
  if (only.test('client-side cache')) await clientSideCacheCheck();
  await check('no warnings printed by the libraries', async () => assert.deepEqual(warnings, []));
}

try {
  await main();
} catch (err) {
  failed++;
  console.log(`FAIL run: ${err && err.stack ? err.stack : err}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
