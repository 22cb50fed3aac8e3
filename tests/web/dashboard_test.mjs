// The dashboard in a real browser (issue 14): headless Chromium (Debian's /usr/bin/chromium) driven
// by playwright-core (web/package.json devDependency, installed by `npm ci --prefix web`) against
// `streamforge run` fed by exchange-sim replaying the recorded BTCUSDT capture
// (../shared/data/hftbacktest_ws_spot, klines derived by scripts/derive_klines.py as
// scripts/scenario2.sh does). Registered with ctest as web.DashboardInChromium
// (tests/web/CMakeLists.txt); by hand:
//
//   SF_STREAMFORGE_BIN=build/bin/streamforge SF_REPO_ROOT=$PWD node tests/web/dashboard_test.mjs
//
// Environment: SF_STREAMFORGE_BIN (default <repo>/build/bin/streamforge), SF_REPO_ROOT (default:
// two levels above this file), SF_BUILD_DIR (default <repo>/build; screenshots go to
// <build>/web-screenshots/), SF_SHARED_DATA (default <repo>/../shared/data), SF_CHROMIUM (default
// /usr/bin/chromium), SF_UPDATE_SCREENSHOT=1 (also write docs/images/dashboard.png),
// SF_KEEP_TMP=1 (keep the temp dir with the logs and the store even on success),
// SF_DASHBOARD_FROM_SOURCE=1 (serve /app.js and /style.css from web/src instead of the copies
// embedded in the binary: for trying a page change without a rebuild; never in CI).
//
// The capture is split in two at 2024-08-09 00:03:00 UTC (receive time). Part 1 (~18 s at speed
// 30, SF_DASHBOARD_SPEED) feeds the live checks; the platform is then SIGKILLed and restarted on the same port and
// store with a second exchange-sim playing part 2 (its REST depth snapshot is the book at the split,
// computed here from the recorded snapshot and diffs), so that the reconnect check sees trades
// with ids above everything before the restart, without reloading the page.
//
// No test framework: each check prints one line; the exit code is 0 when all passed, 1 otherwise.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(process.env.SF_REPO_ROOT || path.join(HERE, '..', '..'));
const BIN = path.resolve(process.env.SF_STREAMFORGE_BIN || path.join(REPO, 'build', 'bin', 'streamforge'));
const BUILD = path.resolve(process.env.SF_BUILD_DIR || path.join(REPO, 'build'));
const SHARED = path.resolve(process.env.SF_SHARED_DATA || path.join(REPO, '..', 'shared', 'data'));
const CHROMIUM = process.env.SF_CHROMIUM || '/usr/bin/chromium';
const PLAYWRIGHT = path.join(REPO, 'web', 'node_modules', 'playwright-core', 'index.mjs');
const CAPTURES = ['btcusdt_20240808.gz', 'btcusdt_20240809.gz'].map((f) => path.join(SHARED, 'hftbacktest_ws_spot', f));
const SHOTS = path.join(BUILD, 'web-screenshots');
const SYMBOL = 'BTCUSDT';
const SPLIT_NS = 1723161780000000000n; // 2024-08-09T00:03:00Z, receive time of the capture lines
// Part 1 at 30x the recorded pace: about 600 trades/s and 300 book updates/s reach the page.
const SPEED_1 = process.env.SF_DASHBOARD_SPEED || '30';
const SPEED_2 = '5';
const HARD_TIMEOUT_MS = 8 * 60 * 1000;
const MIN_FRAMES_3S = 90; // 30 fps over 3 s
const RANGE = 'from=2024-08-08&to=2024-08-10';

const t0 = Date.now();
const secs = () => ((Date.now() - t0) / 1000).toFixed(1) + 's';
const results = [];
function pass(name, detail) { results.push({ ok: true, name }); console.log(`PASS ${name}: ${detail}  [${secs()}]`); }
function note(msg) { console.log(`     ${msg}  [${secs()}]`); }
class CheckFailed extends Error {}
function fail(name, detail) {
  results.push({ ok: false, name });
  console.log(`FAIL ${name}: ${detail}  [${secs()}]`);
  throw new CheckFailed(`${name}: ${detail}`);
}
function check(cond, name, detail) { if (!cond) fail(name, detail); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------- processes

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-dashboard-'));
const procs = [];

function start(name, args, env) {
  const out = fs.openSync(path.join(tmp, name + '.out'), 'w');
  const err = fs.openSync(path.join(tmp, name + '.log'), 'w');
  // cwd: the temp dir, so the platform's ./data/models (the Models view) is the test's own.
  const child = spawn(BIN, args, { cwd: tmp, env: { ...process.env, ...env }, stdio: ['ignore', out, err] });
  fs.closeSync(out);
  fs.closeSync(err);
  const p = { name, child, exited: false, code: null };
  child.on('exit', (code, sig) => { p.exited = true; p.code = code === null ? sig : code; });
  child.on('error', (e) => { p.exited = true; p.code = String(e); });
  procs.push(p);
  return p;
}

async function stopProc(p, signal = 'SIGTERM', graceMs = 5000) {
  if (p.exited) return;
  try { p.child.kill(signal); } catch { /* gone */ }
  const until = Date.now() + graceMs;
  while (!p.exited && Date.now() < until) await sleep(50);
  if (!p.exited) {
    try { p.child.kill('SIGKILL'); } catch { /* gone */ }
    while (!p.exited) await sleep(20);
  }
}

function tail(name, n = 15) {
  for (const ext of ['.out', '.log']) {
    const f = path.join(tmp, name + ext);
    if (!fs.existsSync(f)) continue;
    const lines = fs.readFileSync(f, 'utf8').trimEnd().split('\n').slice(-n);
    console.log(`---- ${f} (last ${lines.length} lines)`);
    for (const l of lines) console.log('  ' + l.slice(0, 400));
  }
}

async function waitFor(what, fn, timeoutMs, everyMs = 250) {
  const until = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try { last = await fn(); } catch (e) { last = undefined; if (Date.now() >= until) throw new Error(`${what}: ${e.message}`); }
    if (last) return last;
    if (Date.now() >= until) return null;
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------- HTTP

let api = ''; // http://127.0.0.1:PORT of streamforge run

async function http(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  let data = text;
  try { data = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, data, text };
}
async function getJSON(p) {
  const r = await http('GET', api + p);
  if (r.status !== 200) throw new Error(`GET ${p}: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  return r.data;
}

async function storeTrades(limit) {
  const d = await getJSON(`/api/v1/history/trades?symbol=${SYMBOL}&${RANGE}&limit=${limit}`);
  return d.records.filter((r) => r.type === 'trade');
}
async function storeNewestTradeId() {
  const t = await storeTrades(50);
  return t.length ? Math.max(...t.map((r) => r.trade_id)) : null;
}
async function storeCandles() {
  const d = await getJSON(`/api/v1/history/candles?symbol=${SYMBOL}&interval=1m&${RANGE}&limit=5000`);
  return d.records.filter((r) => r.type === 'candle');
}

// The end of a replay, from the store: the newest stored trade id has not moved for `quietMs`.
async function waitReplayEnd(label, timeoutMs, quietMs = 6000) {
  const until = Date.now() + timeoutMs;
  let last = null, since = Date.now();
  while (Date.now() < until) {
    const id = await storeNewestTradeId();
    if (id !== last) { last = id; since = Date.now(); } else if (id !== null && Date.now() - since >= quietMs) return id;
    await sleep(1000);
  }
  fail(label, `the stored trades were still growing (or empty: newest id ${last}) after ${timeoutMs / 1000} s`);
}

// ---------------------------------------------------------------------------------- replay files

function readLines(gz) {
  return zlib.gunzipSync(fs.readFileSync(gz)).toString('utf8').split('\n').filter((l) => l.length);
}

// Part 1: every line received before SPLIT_NS. Part 2: a REST depth snapshot line holding the
// book at the split (the recorded snapshot plus every diff newer than it up to the split, as
// exchange-sim's true book is built; 1000 levels a side, as recorded), then the rest.
function splitReplay(full, part1, part2) {
  const lines = readLines(full);
  const bids = new Map(), asks = new Map();
  let snapId = null, lastU = null;
  const first = [], second = [], early = []; // early: diffs recorded before the snapshot line
  const apply = (d) => {
    if (d.u <= snapId) return;
    for (const [side, m] of [[d.b, bids], [d.a, asks]]) {
      for (const [p, q] of side) { if (Number(q) === 0) m.delete(p); else m.set(p, q); }
    }
    lastU = d.u;
  };
  for (const line of lines) {
    const sp = line.indexOf(' ');
    const recv = BigInt(line.slice(0, sp));
    const body = line.slice(sp + 1);
    if (recv >= SPLIT_NS) { second.push(line); continue; }
    first.push(line);
    if (body.startsWith('{"lastUpdateId"')) {
      const s = JSON.parse(body);
      snapId = s.lastUpdateId;
      lastU = snapId;
      for (const [p, q] of s.bids) bids.set(p, q);
      for (const [p, q] of s.asks) asks.set(p, q);
      for (const d of early) apply(d);
    } else if (body.includes('"e":"depthUpdate"')) {
      const d = JSON.parse(body).data;
      if (snapId === null) early.push(d); else apply(d);
    }
  }
  if (snapId === null || !second.length || !first.length) throw new Error(`cannot split ${full}: snapshot ${snapId}, ${first.length}/${second.length} lines`);
  const top = (m, desc) => [...m.entries()].sort((a, b) => (desc ? Number(b[0]) - Number(a[0]) : Number(a[0]) - Number(b[0]))).slice(0, 1000);
  const snap = JSON.stringify({ lastUpdateId: lastU, bids: top(bids, true), asks: top(asks, false) });
  const recv2 = second[0].slice(0, second[0].indexOf(' '));
  fs.writeFileSync(part1, zlib.gzipSync(first.join('\n') + '\n'));
  fs.writeFileSync(part2, zlib.gzipSync(recv2 + ' ' + snap + '\n' + second.join('\n') + '\n'));
  return { first: first.length, second: second.length, lastU };
}

async function startSim(name, replay, speed, ports = { rest: 0, ws: 0 }) {
  const p = start(name, ['exchange-sim', '--data', SHARED, '--port', String(ports.rest), '--ws-port', String(ports.ws),
    '--replay', replay, '--speed', speed], {});
  const urls = await waitFor(`${name} start`, () => {
    if (p.exited) return 'exited';
    const l = fs.readFileSync(path.join(tmp, name + '.out'), 'utf8').split('\n').filter(Boolean);
    return l.length >= 2 ? l.slice(0, 2) : null;
  }, 30000, 100);
  if (!urls || urls === 'exited') { tail(name); throw new Error(`${name} did not start`); }
  return { p, rest: urls[0], ws: urls[1] };
}

async function startRun(name, port, sim) {
  const p = start(name, ['run', '--port', String(port), '--sf-store', 'sqlite:' + path.join(tmp, 'streamforge.db')],
    { BINANCE_API_URL: sim.rest, BINANCE_WS_URL: sim.ws });
  const url = await waitFor(`${name} start`, () => {
    if (p.exited) return 'exited';
    const m = /API (http:\/\/127\.0\.0\.1:\d+)/.exec(fs.readFileSync(path.join(tmp, name + '.out'), 'utf8'));
    return m ? m[1] : null;
  }, 30000, 100);
  if (!url || url === 'exited') { tail(name); throw new Error(`${name} did not start`); }
  api = url;
  const ready = await waitFor(`${name} ready`, async () => (await http('GET', api + '/health/ready')).status === 200, 30000, 200);
  if (!ready) { tail(name); throw new Error(`${name}: /health/ready never answered 200`); }
  return p;
}

async function startMonitor() {
  const r = await http('POST', api + '/queues', { template: 'realtime-monitor', symbol: SYMBOL, interval: '1m' });
  if (r.status !== 201) throw new Error(`POST /queues realtime-monitor: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  return r.data.queue_id;
}

const TERMINAL = new Set(['finished', 'failed', 'interrupted']);
async function stopWorkflow(id, timeoutMs = 30000) {
  await http('POST', api + '/queues/' + encodeURIComponent(id) + '/stop');
  return waitFor(`stop ${id}`, async () => {
    const w = await getJSON('/queues/' + encodeURIComponent(id));
    return TERMINAL.has(w.status) ? w.status : null;
  }, timeoutMs, 250);
}

// ---------------------------------------------------------------------------------- page helpers

let page = null;
const consoleErrors = []; // {t, text, outage}
let outage = false; // between the SIGKILL of the platform and the page's reconnection

const hook = (fn, arg) => page.evaluate(fn, arg);
const tapeIds = () => hook(() => window.sfDashboard.tape());
const pageCandles = () => hook(() => window.sfDashboard.candles());
const ladder = () => hook(() => window.sfDashboard.ladder());

function dupes(ids) {
  const seen = new Set(), d = [];
  for (const i of ids) { if (seen.has(i)) d.push(i); seen.add(i); }
  return d;
}

function utc(us) { return new Date(us / 1000).toISOString().slice(11, 16); }

function candleDiff(pageC, storeC) {
  if (pageC.length !== storeC.length) {
    const ps = new Set(pageC.map((c) => c.open_time_us)), ss = new Set(storeC.map((c) => c.open_time));
    const onlyPage = [...ps].filter((t) => !ss.has(t)).map(utc), onlyStore = [...ss].filter((t) => !ps.has(t)).map(utc);
    return `page ${pageC.length} candles, store ${storeC.length} (only on the page: ${onlyPage.join(' ') || '-'}; only in the store: ${onlyStore.join(' ') || '-'})`;
  }
  for (let i = 0; i < pageC.length; i++) {
    const p = pageC[i], s = storeC[i];
    if (p.open_time_us !== s.open_time) return `candle ${i}: open time ${p.open_time_us} on the page, ${s.open_time} in the store`;
    for (const k of ['open', 'high', 'low', 'close', 'volume']) {
      if (p[k] !== s[k]) return `candle ${utc(s.open_time)} ${k}: page "${p[k]}" vs store "${s[k]}"`;
    }
  }
  return '';
}

// Page candles == stored candles (OHLCV strings as the bus and the store carry them: app.js keeps
// the received records unchanged, so no normalisation). The connector writes in batches: wait.
async function checkCandles(name) {
  let diff = 'never compared', pc = [], sc = [];
  const ok = await waitFor(name, async () => {
    [pc, sc] = [await pageCandles(), await storeCandles()];
    diff = sc.length ? candleDiff(pc, sc) : 'no candles in the store';
    return diff === '';
  }, 15000, 500);
  check(ok, name, diff);
  pass(name, `${pc.length} candles equal the store (${utc(sc[0].open_time)}..${utc(sc[sc.length - 1].open_time)} UTC, OHLCV strings identical; last close ${sc[sc.length - 1].close})`);
  return pc;
}

// The tape's newest 50 == the store's newest 50 (by trade id, newest first), no duplicates.
async function checkTape(name) {
  let detail = 'never compared', ids = [], want = [];
  const ok = await waitFor(name, async () => {
    ids = await tapeIds();
    want = (await storeTrades(50)).map((r) => r.trade_id).sort((a, b) => b - a);
    const d = dupes(ids);
    if (d.length) { detail = `duplicated trade ids on the tape: ${d.slice(0, 10).join(', ')}`; return false; }
    const got = ids.slice(0, 50);
    const i = want.findIndex((id, k) => got[k] !== id);
    detail = i < 0 ? '' : `position ${i}: tape ${got[i]} vs store ${want[i]} (tape newest ${got[0]}, store newest ${want[0]}, tape length ${ids.length})`;
    return want.length === 50 && i < 0;
  }, 15000, 500);
  check(ok, name, detail);
  pass(name, `newest 50 trade ids equal the store's (${want[0]}..${want[49]}), ${ids.length} rows, no duplicates`);
  return ids;
}

// The chart is not blank: candles in the hook and, on the chart's canvases, the candle colours
// (#26a69a up / #ef5350 down, app.js COLORS) besides the background.
async function checkChartDrawn(name) {
  const n = (await pageCandles()).length;
  check(n > 0, name, 'sfDashboard.candles() is empty');
  const px = await hook(() => {
    const near = (d, i, c) => Math.abs(d[i] - c[0]) <= 8 && Math.abs(d[i + 1] - c[1]) <= 8 && Math.abs(d[i + 2] - c[2]) <= 8;
    let colours = new Set(), up = 0, down = 0, canvases = 0;
    for (const c of document.querySelectorAll('#chart canvas')) {
      if (!c.width || !c.height) continue;
      canvases++;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] === 0) continue;
        if (colours.size < 10000) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        if (near(d, i, [0x26, 0xa6, 0x9a])) up++;
        if (near(d, i, [0xef, 0x53, 0x50])) down++;
      }
    }
    return { colours: colours.size, up, down, canvases };
  });
  check(px.canvases > 0, name, 'no canvas in #chart');
  check(px.colours > 2 && px.up + px.down > 50, name,
    `the chart looks blank: ${px.colours} colours, ${px.up} up-candle and ${px.down} down-candle pixels on ${px.canvases} canvases`);
  pass(name, `${n} candles, ${px.colours} colours, ${px.up} up / ${px.down} down candle pixels`);
}

async function showTab(tab) {
  await page.click(`#tabs button[data-tab="${tab}"]`);
  await page.waitForFunction((t) => document.body.dataset.tab === t, tab);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

async function shot(file) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const f = path.join(SHOTS, file);
  await page.screenshot({ path: f });
  return f;
}

// ---------------------------------------------------------------------------------- the test

let browser = null;
let keepTmp = process.env.SF_KEEP_TMP === '1';

async function main() {
  // Preflight: everything CI must provide. A missing piece is a failure, never a skip.
  check(fs.existsSync(CHROMIUM), 'preflight', `${CHROMIUM} is missing: CI must install Debian's chromium (apt-get install chromium)`);
  check(fs.existsSync(PLAYWRIGHT), 'preflight', `${PLAYWRIGHT} is missing: run npm ci --prefix web (playwright-core is a devDependency)`);
  check(fs.existsSync(BIN), 'preflight', `${BIN} is missing: build streamforge first`);
  for (const c of CAPTURES) check(fs.existsSync(c), 'preflight', `${c} is missing (the recorded capture; SF_SHARED_DATA sets the data dir)`);
  const py = spawnSync('python3', ['--version']);
  check(py.status === 0, 'preflight', 'python3 is missing (scripts/derive_klines.py)');
  const { chromium } = await import(pathToFileURL(PLAYWRIGHT).href);

  // a. the replay, the platform, the workflow
  const full = path.join(tmp, 'replay-btcusdt-kline_1m.gz');
  const derive = spawnSync('python3', [path.join(REPO, 'scripts', 'derive_klines.py'), full, 'btcusdt', ...CAPTURES], { encoding: 'utf8' });
  check(derive.status === 0, 'replay', `derive_klines.py failed: ${derive.stderr}`);
  const part1 = path.join(tmp, 'replay-part1.gz'), part2 = path.join(tmp, 'replay-part2.gz');
  const split = splitReplay(full, part1, part2);
  note(`replay split at 00:03:00 UTC: ${split.first} + ${split.second} lines (part 2 snapshot at update id ${split.lastU})`);

  let sim = await startSim('sim1', part1, SPEED_1);
  let run = await startRun('run1', 0, sim);
  const port = Number(new URL(api).port);
  const monitor = await startMonitor();
  pass('setup', `exchange-sim ${sim.ws} (part 1, speed ${SPEED_1}), streamforge run ${api}, workflow ${monitor}`);

  // b. the page
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push({ t: secs(), text: m.text(), outage }); });
  page.on('pageerror', (e) => consoleErrors.push({ t: secs(), text: 'pageerror: ' + (e.stack || e.message), outage }));
  if (process.env.SF_DASHBOARD_FROM_SOURCE === '1') {
    // Not the document itself: Chromium's local-network-access checks then treat the page as
    // public and block its WebSockets to 127.0.0.1.
    note('SF_DASHBOARD_FROM_SOURCE=1: /app.js and /style.css come from web/src');
    const files = { '/app.js': 'app.js', '/style.css': 'style.css' };
    await page.route((u) => u.origin === api && files[u.pathname] !== undefined, async (route) => {
      const res = await route.fetch();
      const f = files[new URL(route.request().url()).pathname];
      const headers = { ...res.headers() };
      delete headers['content-length'];
      await route.fulfill({ status: res.status(), headers, body: fs.readFileSync(path.join(REPO, 'web', 'src', f)) });
    });
  }
  const resp = await page.goto(`${api}/?tab=market&symbol=${SYMBOL}&interval=1m`);
  check(resp && resp.status() === 200, 'page', `GET / answered ${resp && resp.status()} (a binary built without the page?)`);
  await page.waitForFunction(() => window.sfDashboard && window.sfDashboard.connected('market'), null, { timeout: 20000 });
  const flowing = await waitFor('trades', async () => (await tapeIds()).length > 0, 30000, 250);
  check(flowing, 'page', 'no trade reached the tape within 30 s of the replay start');
  pass('page', `loaded, /ws/market connected, trades flowing (store newest ${await storeNewestTradeId()})`);

  // f. frame rate while the replay runs (market tab: the chart, the quote, the tape model)
  {
    const before = await storeNewestTradeId();
    const f0 = await hook(() => window.sfDashboard.frames);
    await sleep(3000);
    const f1 = await hook(() => window.sfDashboard.frames);
    const after = await storeNewestTradeId();
    check(after !== before, 'frame rate', 'the replay was not running during the measurement (no new stored trades)');
    check(f1 - f0 >= MIN_FRAMES_3S, 'frame rate', `${f1 - f0} frames in 3 s (${((f1 - f0) / 3).toFixed(1)} fps), want >= ${MIN_FRAMES_3S}`);
    // Trade ids are consecutive on Binance spot: their difference is the trades of those 3 s.
    pass('frame rate', `${f1 - f0} frames in 3 s = ${((f1 - f0) / 3).toFixed(1)} fps while ${Math.round((after - before) / 3)} trades/s flow (plus the book's diffs)`);
  }

  // c. after the end of part 1: chart, tape and ladder against the store
  const endId = await waitReplayEnd('replay part 1 end', 150000);
  note(`part 1 ended: newest stored trade id ${endId}`);
  await checkCandles('candles == store');
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await checkChartDrawn('chart drawn');
  const marketShot = await shot('market.png');
  if (process.env.SF_UPDATE_SCREENSHOT === '1') {
    fs.mkdirSync(path.join(REPO, 'docs', 'images'), { recursive: true });
    fs.copyFileSync(marketShot, path.join(REPO, 'docs', 'images', 'dashboard.png'));
    note('docs/images/dashboard.png updated');
  }
  const idsBefore = await checkTape('tape == store');

  {
    const name = 'ladder == stored snapshot';
    let snap = null, lad = null;
    const same = await waitFor(name, async () => {
      const b = await getJSON(`/api/v1/history/book?symbol=${SYMBOL}&limit=1`);
      snap = b.records && b.records[0];
      lad = await ladder();
      return snap && lad.last_update_id === snap.last_update_id;
    }, 15000, 500);
    check(snap, name, 'no depth snapshot in the store');
    check(same, name, `the ladder stayed at update id ${lad && lad.last_update_id}, the newest stored snapshot is ${snap.last_update_id}`);
    let levels = 0;
    for (const side of ['bids', 'asks']) {
      const n = Math.min(lad[side].length, snap[side].length);
      check(n > 0, name, `no ${side} (page ${lad[side].length}, snapshot ${snap[side].length})`);
      for (let i = 0; i < n; i++) {
        const [pp, pq] = lad[side][i], [sp, sq] = snap[side][i];
        check(pp === sp && pq === sq, name, `${side}[${i}] at update id ${snap.last_update_id}: page ${pp} x ${pq}, snapshot ${sp} x ${sq}`);
      }
      levels += n;
    }
    pass(name, `update id ${snap.last_update_id} (${lad.state}, known ${lad.known}, snapshot ${snap.is_partial ? 'partial' : 'full'}): ${levels} levels equal, best ${lad.bids[0][0]} / ${lad.asks[0][0]}`);
  }
  await showTab('book');
  await page.waitForFunction(() => document.querySelectorAll('#ladderBids .lrow').length > 0, null, { timeout: 5000 });
  await shot('book.png');
  await showTab('trades');
  await page.waitForFunction(() => document.querySelectorAll('#tape .tape-row').length > 0, null, { timeout: 5000 });
  await shot('trades.png');
  pass('screenshots', `market.png, book.png, trades.png in ${SHOTS}`);

  // Models: a trained version (gnn-trainer's metrics.json layout, docs/gnn.md) next to its
  // baselines, and one whose metrics.json is broken, as the platform's model directory holds them.
  {
    const name = 'models view';
    const models = path.join(tmp, 'data', 'models');
    const cls = (acc, bal, f1) => ({ n: 100, accuracy: acc, balanced_accuracy: bal, macro_f1: f1, roc_auc_ovr: null,
      confusion: [[10, 5, 5], [5, 30, 5], [5, 5, 30]] });
    fs.mkdirSync(path.join(models, 'btc-gnn', 'v1'), { recursive: true });
    fs.writeFileSync(path.join(models, 'btc-gnn', 'v1', 'metrics.json'), JSON.stringify({
      format: 'streamforge-gnn-metrics/1', task: 'direction', model_type: 'gat',
      graph: { kind: 'candles', nodes: 1000, edges: 4000, features: 12 },
      split: { test: { nodes: 100, start_us: 1723161000000000, end_us: 1723162000000000 } },
      best_epoch: 3, epochs_run: 5, history: [1, 2, 3, 4, 5].map((e) => ({ epoch: e, train_loss: 1.2 - e / 10, val_metric: 0.3 + e / 50 })),
      test: { model: cls(0.7, 0.66, 0.65), majority: cls(0.4, 0.33, 0.19), persistence: cls(0.5, 0.45, 0.44), logistic_regression: cls(0.6, 0.55, 0.55) },
    }));
    fs.writeFileSync(path.join(models, 'btc-gnn', 'v1', 'meta.json'), JSON.stringify({
      kind: 'candles', interval: '1m', symbols: ['BTCUSDT'], params: { flat_band: 0.0005, vol_horizon: 12 } }));
    fs.mkdirSync(path.join(models, 'btc-gnn', 'v2'), { recursive: true });
    fs.writeFileSync(path.join(models, 'btc-gnn', 'v2', 'metrics.json'), '{"task":"direc');
    await showTab('models');
    const shown = await page.waitForFunction(() => window.sfDashboard.models().length === 2, null, { timeout: 10000 })
      .then(() => true, () => false);
    const listed = await page.evaluate(() => window.sfDashboard.models());
    check(shown, name, `the Models view lists ${JSON.stringify(listed)}`);
    check(listed[0].version === 'v2' && listed[0].error, name, `v2 (broken) first as an error: ${JSON.stringify(listed)}`);
    check(listed[1].version === 'v1' && listed[1].task === 'direction' && listed[1].verdict, name, `v1 with a verdict: ${JSON.stringify(listed)}`);
    // v1 is selected: its predictions are asked for (none stored; its meta.json names the symbol).
    const pred = await page.waitForFunction(() => window.sfDashboard.predictions(), null, { timeout: 10000 })
      .then((h) => h.jsonValue(), () => null);
    check(pred && pred.model === 'btc-gnn' && pred.count === 0 && !pred.error && pred.symbol === 'BTCUSDT', name,
      `predictions panel: ${JSON.stringify(pred)}`);
    await shot('models.png');
    pass(name, `2 versions listed (v2 broken, v1 verdict "${listed[1].verdict}"), predictions asked for`);
  }

  // d. workflows: start test-flow from the form, see it run, stop it from its card
  {
    const name = 'workflow start/stop';
    await showTab('workflows');
    await page.waitForFunction(() => [...document.querySelectorAll('#tplSelect option')].some((o) => o.value === 'test-flow'), null, { timeout: 10000 });
    await page.selectOption('#tplSelect', 'test-flow');
    await page.fill('#tplParams input[data-param="seconds"]', '300');
    await page.click('#startBtn');
    const msg = await page.waitForFunction(() => /^started \S+/.test(document.getElementById('startMsg').textContent)
      ? document.getElementById('startMsg').textContent : null, null, { timeout: 10000 }).then((h) => h.jsonValue()).catch(() => null);
    check(msg, name, `no "started" message; errors: ${await page.textContent('#startErrors')}`);
    const id = msg.slice('started '.length);
    const running = await waitFor(name, async () => {
      const w = await getJSON('/queues/' + encodeURIComponent(id));
      return w.stages && w.stages.length && w.stages.every((s) => s.status === 'running') ? w : null;
    }, 20000, 250);
    check(running, name, `GET /queues/${id}: the stage never showed running`);
    const card = `.wf-card[data-queue="${id}"]`;
    const domRunning = await page.waitForSelector(`${card} g.stage.s-running`, { timeout: 10000 }).catch(() => null);
    check(domRunning, name, `the page's card of ${id} never showed its stage running`);
    await shot('workflows.png');
    const tStop = Date.now();
    await page.click(`${card} button.stop`);
    const ended = await page.waitForFunction((sel) => {
      const g = document.querySelector(sel + ' g.stage');
      return g && (g.classList.contains('s-interrupted') || g.classList.contains('s-finished')) ? g.getAttribute('class') : null;
    }, card, { timeout: 10000 }).then((h) => h.jsonValue()).catch(() => null);
    check(ended, name, `the stage on the page did not turn interrupted/finished within 10 s of Stop (API: ${JSON.stringify((await getJSON('/queues/' + encodeURIComponent(id))).stages.map((s) => s.status))})`);
    const api_ = await getJSON('/queues/' + encodeURIComponent(id));
    pass(name, `${id}: running (API and page), Stop -> page "${ended.replace('stage ', '')}" after ${((Date.now() - tStop) / 1000).toFixed(1)} s, API ${api_.status}/${api_.stages[0].status}`);
  }

  // e. reconnect: SIGKILL the platform, restart it on the same port and store with part 2
  {
    const name = 'reconnect';
    await showTab('trades');
    const maxBefore = Math.max(...idsBefore);
    await page.evaluate(() => { window.__sfNotReloaded = true; });
    outage = true;
    const tKill = Date.now();
    await stopProc(run, 'SIGKILL');
    await stopProc(sim.p);
    // The same ports: a workflow keeps the endpoints it was created with (the platform's
    // BINANCE_* are copied into its stages' env at creation, and a resumed workflow runs with them).
    sim = await startSim('sim2', part2, SPEED_2, { rest: new URL(sim.rest).port, ws: new URL(sim.ws).port });
    run = await startRun('run2', port, sim);
    // The in-process stages of the monitor died with the process; the restarted queue-manager
    // resumes the workflow from the store and self-healing restarts its stages (docs/
    // queue-manager.md), now against the new exchange-sim: same queue id, same topics, so the page
    // must carry on with the source it has. (The Stop of step d made the page schedule a sources
    // refresh 1 s later, which lands while the platform is down: the page must keep its source
    // through that failed request.)
    const resumed = await waitFor(name, async () => {
      const w = await getJSON('/queues/' + encodeURIComponent(monitor));
      const lw = w.stages.find((s) => s.name === 'ws-trades');
      return w.status === 'running' && lw && lw.status === 'running' && lw.attempt > 1 ? w : null;
    }, 30000, 250);
    check(resumed, name, `the realtime-monitor ${monitor} was not resumed with its stages restarted within 30 s: ${JSON.stringify((await getJSON('/queues/' + encodeURIComponent(monitor))).stages.map((s) => [s.name, s.status, s.attempt]))}`);
    const back = await page.waitForFunction(() => window.sfDashboard.connected('market'), null, { timeout: 30000 }).catch(() => null);
    check(back, name, '/ws/market did not reconnect within 30 s of the restart');
    const tBack = Date.now();
    const fresh = await waitFor(name, async () => (await tapeIds())[0] > maxBefore, 60000, 250);
    outage = false;
    const ids = await tapeIds();
    check(await hook(() => window.__sfNotReloaded === true), name, 'the page was reloaded');
    check(fresh, name, `no trade above ${maxBefore} reached the tape within 60 s of the restart (tape newest ${ids[0]}, store newest ${await storeNewestTradeId()}; page errors: ${(await hook(() => window.sfDashboard.errors.slice())).join(' | ') || 'none'}; live sources in the API: ${(await getJSON('/api/v1/market/sources')).sources.map((x) => x.queue_id).join(', ')})`);
    const d = dupes(ids);
    check(d.length === 0, name, `duplicated trade ids after the reconnect: ${d.slice(0, 10).join(', ')}`);
    pass(name, `killed at +0 s, /ws/market back at +${((tBack - tKill) / 1000).toFixed(1)} s, ${monitor} resumed (ws-trades attempt ${resumed.stages.find((s) => s.name === 'ws-trades').attempt}), trades above ${maxBefore} on the tape at +${((Date.now() - tKill) / 1000).toFixed(1)} s (newest ${ids[0]}), no duplicates, no reload`);

    const end2 = await waitReplayEnd('replay part 2 end', 150000);
    note(`part 2 ended: newest stored trade id ${end2}`);
    await checkTape('tape == store after the reconnect');
    await checkCandles('candles == store after the reconnect');
  }

  // b. console and page errors, and the page's own error list
  {
    const name = 'no console errors';
    // Allowed, only while the platform is down (SIGKILL -> the page's reconnection): Chromium
    // itself logs every refused WebSocket connection and failed request to the console as an
    // error ("WebSocket connection to 'ws://...' failed", "Failed to load resource:
    // net::ERR_CONNECTION_REFUSED"); a page cannot suppress these. Anything else fails.
    const allowed = /WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/ws\/(market|queues|topics)[^']*' failed|Failed to load resource: net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE)/;
    const bad = consoleErrors.filter((e) => !(e.outage && allowed.test(e.text)));
    check(bad.length === 0, name, `${bad.length} console/page errors:\n` + bad.slice(0, 10).map((e) => `       [${e.t}] ${e.text.slice(0, 500)}`).join('\n'));
    const own = await hook(() => window.sfDashboard.errors.slice());
    check(own.length === 0, name, `sfDashboard.errors: ${own.slice(0, 10).join(' | ')}`);
    const kinds = [...new Set(consoleErrors.map((e) => e.text.replace(/127\.0\.0\.1:\d+/, 'HOST').slice(0, 90)))];
    pass(name, `none; ${consoleErrors.length} allowed while the platform was down: ${kinds.join(' | ') || '-'}`);
  }
}

let hardTimer = null;
async function cleanup() {
  clearTimeout(hardTimer);
  if (browser) { try { await browser.close(); } catch { /* gone */ } browser = null; }
  for (const p of [...procs].reverse()) await stopProc(p);
}

let finishing = false;
async function finish(code) {
  if (finishing) return;
  finishing = true;
  await cleanup();
  if (code === 0 && !keepTmp) fs.rmSync(tmp, { recursive: true, force: true });
  else console.log(`logs and store kept in ${tmp}`);
  const failed = results.filter((r) => !r.ok).length;
  console.log(`${code === 0 ? 'PASSED' : 'FAILED'}: ${results.filter((r) => r.ok).length} checks passed, ${failed} failed, ${secs()}`);
  process.exit(code);
}

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { console.log(`got ${sig}`); finish(1); });
hardTimer = setTimeout(() => {
  console.log(`FAIL overall timeout: ${HARD_TIMEOUT_MS / 1000} s`);
  for (const p of procs) tail(p.name, 8);
  finish(1);
}, HARD_TIMEOUT_MS);

main().then(() => finish(0), (e) => {
  if (!(e instanceof CheckFailed)) console.log(`FAIL error: ${e.stack || e}`);
  for (const c of consoleErrors.slice(0, 10)) console.log(`     browser console [${c.t}]: ${c.text.slice(0, 300)}`);
  for (const p of procs) tail(p.name, 8);
  finish(1);
});
