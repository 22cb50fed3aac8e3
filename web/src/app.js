// StreamForge live dashboard: plain browser JS, no bundler, no framework.
// Served by `streamforge run` at /app.js; lightweight-charts' standalone build (global
// `LightweightCharts`) at /vendor/lightweight-charts.js. Protocols: docs/visualizer.md,
// docs/queue-manager.md. Every server string reaches the DOM through textContent / createElement
// (never innerHTML), so the strict Content-Security-Policy holds and data cannot inject markup.
'use strict';

(function () {
  // ------------------------------------------------------------------------------ basics

  const errors = [];
  let frames = 0;

  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function setText(e, text) {
    const s = String(text);
    if (e.textContent !== s) e.textContent = s;
  }

  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
  }

  function errMessage(err) {
    if (err && typeof err === 'object' && 'message' in err) return String(err.message);
    return String(err);
  }

  let errTimer = 0;
  function report(where, err) {
    const msg = where + ': ' + errMessage(err);
    errors.push(msg);
    if (errors.length > 200) errors.splice(0, errors.length - 200);
    const bar = $('errbar');
    if (bar) {
      setText($('errText'), msg + (errors.length > 1 ? '  (' + errors.length + ' errors)' : ''));
      bar.hidden = false;
      clearTimeout(errTimer);
      errTimer = setTimeout(() => { bar.hidden = true; }, 15000);
    }
  }

  window.addEventListener('error', (e) => report('error', e.error || e.message));
  window.addEventListener('unhandledrejection', (e) => report('unhandled', e.reason));

  const TABS = ['market', 'book', 'trades', 'workflows', 'topics', 'models'];
  const INTERVALS = ['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h',
    '1d', '3d', '1w', '1M'];
  const QUICK_INTERVALS = ['1m', '5m', '15m', '1h', '4h', '1d'];
  const INTERVAL_MS = {
    '1s': 1e3, '1m': 6e4, '3m': 18e4, '5m': 3e5, '15m': 9e5, '30m': 18e5, '1h': 36e5,
    '2h': 72e5, '4h': 144e5, '6h': 216e5, '8h': 288e5, '12h': 432e5, '1d': 864e5,
    '3d': 2592e5, '1w': 6048e5, '1M': 2678e6,
  };
  const SYMBOL_RE = /^[A-Za-z0-9._-]{1,32}$/;
  const TOPIC_RE = /^[A-Za-z0-9._-]{1,249}$/;
  const HISTORY_LIMIT = 1000;
  const MAX_CANDLES = 5000;
  const TAPE_SIZE = 200;
  const TOPIC_ROWS = 500;
  const HEAT_COLUMNS = 300;
  const HEAT_MIN_MS = 200;
  // Indicator columns as docs/analytics.md names them with their default parameters (the
  // indicator-calculator's default set); live records of other periods are drawn too.
  const HISTORY_INDICATORS = ['ema_20', 'bb_upper_20_2', 'bb_middle_20_2', 'bb_lower_20_2',
    'rsi_14', 'macd_12_26_9', 'macd_signal_12_26_9', 'macd_hist_12_26_9'];

  const state = {
    tab: 'market',
    symbol: 'BTCUSDT',
    interval: '1m',
    depth: 20,
    gen: 0, // bumped on every symbol / interval change: late async results of older ones are dropped
  };

  // UTC formatting (the chart's time axis is UTC too).
  function pad(n, w) { return String(n).padStart(w || 2, '0'); }
  function fmtTimeMs(ms, withMs) {
    if (!Number.isFinite(ms) || ms <= 0) return '—';
    const d = new Date(ms);
    let s = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds());
    if (withMs) s += '.' + pad(d.getUTCMilliseconds(), 3);
    return s;
  }
  function fmtDateTimeMs(ms) {
    if (!Number.isFinite(ms) || ms <= 0) return '—';
    const d = new Date(ms);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      fmtTimeMs(ms, false);
  }
  function fmtAge(seconds) {
    if (!Number.isFinite(seconds) || seconds <= 0) return '';
    const s = Math.max(0, Date.now() / 1000 - seconds);
    if (s < 60) return Math.floor(s) + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ago';
    return Math.floor(s / 86400) + 'd ago';
  }

  // Decimal strings: displayed with a fixed number of decimals per symbol (the most significant
  // decimals seen so far), never through floating point.
  function sigDecimals(s) {
    if (typeof s !== 'string') return 0;
    const dot = s.indexOf('.');
    if (dot < 0) return 0;
    let end = s.length;
    while (end > dot + 1 && s.charCodeAt(end - 1) === 48) end--;
    return end - dot - 1;
  }
  function fmtDec(s, dp) {
    if (typeof s !== 'string') s = s === undefined || s === null ? '' : String(s);
    if (dp === undefined || dp === null || dp < 0) return s;
    const dot = s.indexOf('.');
    const intPart = dot < 0 ? s : s.slice(0, dot);
    let frac = dot < 0 ? '' : s.slice(dot + 1);
    frac = frac.length >= dp ? frac.slice(0, dp) : frac.padEnd(dp, '0');
    return dp > 0 ? intPart + '.' + frac : intPart;
  }
  // Exact decimal arithmetic for spread and mid.
  function scaled(s, scale) {
    const neg = s.startsWith('-');
    if (neg) s = s.slice(1);
    const dot = s.indexOf('.');
    const i = dot < 0 ? s : s.slice(0, dot);
    const f = (dot < 0 ? '' : s.slice(dot + 1)).padEnd(scale, '0').slice(0, scale);
    const v = BigInt((i || '0') + f);
    return neg ? -v : v;
  }
  function unscaled(v, scale) {
    const neg = v < 0n;
    let s = (neg ? -v : v).toString().padStart(scale + 1, '0');
    if (scale > 0) s = s.slice(0, s.length - scale) + '.' + s.slice(s.length - scale);
    return (neg ? '-' : '') + s;
  }
  const decRe = /^-?\d+(\.\d+)?$/;
  function decSpreadMid(ask, bid) {
    if (!decRe.test(ask) || !decRe.test(bid)) return null;
    const scale = Math.max(ask.length - ask.indexOf('.') - 1, bid.length - bid.indexOf('.') - 1, 0);
    const a = scaled(ask, scale), b = scaled(bid, scale);
    return { spread: unscaled(a - b, scale), mid: unscaled((a + b) * 5n, scale + 1) };
  }
  const fmtNum = (v, dp) => (Number.isFinite(v) ? v.toFixed(dp) : '—');
  function fmtCount(v) {
    if (!Number.isFinite(v)) return '—';
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + 'B';
    if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
    return String(Math.round(v));
  }
  function fmtCompact(v) {
    if (!Number.isFinite(v)) return '—';
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + 'B';
    if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
    if (a >= 100) return v.toFixed(1);
    if (a >= 1) return v.toFixed(3);
    return v.toPrecision(3);
  }

  const precision = { price: 2, qty: 0, symbol: '' };
  function notePrice(s) { const d = sigDecimals(s); if (d > precision.price) precision.price = Math.min(d, 8); }
  function noteQty(s) { const d = sigDecimals(s); if (d > precision.qty) precision.qty = Math.min(d, 8); }

  // ------------------------------------------------------------------------------ auth + REST

  const auth = { token: '', inUrl: false, blocked: false };
  (function initToken() {
    const t = new URLSearchParams(location.search).get('access_token');
    if (t) {
      auth.token = t;
      try { localStorage.setItem('sf_token', t); } catch (e) { auth.inUrl = true; }
      return;
    }
    try { auth.token = localStorage.getItem('sf_token') || ''; } catch (e) { auth.token = ''; }
  })();

  function needAuth(message) {
    // Without a valid token every request fails the same way: stop the sockets' retries until the
    // user gives one (the page reloads with it).
    auth.blocked = true;
    for (const s of Object.values(sockets)) s.pause();
    const f = $('auth');
    if (!f.hidden) return;
    f.hidden = false;
    setText($('authMsg'), message || '');
    $('authToken').focus();
  }

  class ApiError extends Error {
    constructor(status, body) {
      let msg = 'HTTP ' + status;
      if (body && typeof body === 'object' && body.error) msg += ': ' + body.error;
      else if (typeof body === 'string' && body) msg += ': ' + body.slice(0, 200);
      if (body && typeof body === 'object' && body.fields && typeof body.fields === 'object') {
        msg += ' (' + Object.entries(body.fields).map(([k, v]) => k + ': ' + v).join('; ') + ')';
      }
      super(msg);
      this.status = status;
      this.body = body;
    }
  }

  function authHeaders(extra) {
    const h = new Headers(extra || {});
    if (auth.token) h.set('Authorization', 'Bearer ' + auth.token);
    return h;
  }

  async function api(path, opts) {
    opts = opts || {};
    const headers = authHeaders({ Accept: 'application/json' });
    let body;
    if (opts.json !== undefined) {
      headers.set('Content-Type', 'application/json');
      body = JSON.stringify(opts.json);
    }
    const res = await fetch(path, {
      method: opts.method || 'GET', headers, body, signal: opts.signal, cache: 'no-store',
    });
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = text; }
    }
    if (res.status === 401) needAuth('the server answered 401 for ' + path.split('?')[0]);
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }

  function qs(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    return q.toString();
  }

  // ------------------------------------------------------------------------------ WebSockets

  const sockets = {};

  class Socket {
    constructor(name, path, onMessage) {
      this.name = name;
      this.path = path;
      this.onMessage = onMessage;
      this.ws = null;
      this.connected = false;
      this.attempt = 0;
      this.timer = 0;
      this.subs = new Map(); // key -> message, re-sent on every (re)connect
      this.onOpen = [];
      this.dot = null;
      sockets[name] = this;
    }

    url() {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      let u = proto + '//' + location.host + this.path;
      if (auth.token) u += '?access_token=' + encodeURIComponent(auth.token);
      return u;
    }

    start() {
      if (this.ws || this.timer) return;
      this.open();
    }

    open() {
      this.timer = 0;
      let ws;
      try {
        ws = new WebSocket(this.url());
      } catch (e) {
        report('ws ' + this.name, e);
        this.retry();
        return;
      }
      this.ws = ws;
      ws.onopen = () => {
        this.connected = true;
        this.attempt = 0;
        for (const m of this.subs.values()) ws.send(JSON.stringify(m));
        updateDots();
        for (const h of this.onOpen) {
          try { h(); } catch (e) { report('ws ' + this.name + ' open', e); }
        }
      };
      // A frame may carry several messages, one per line (the dashboard's feeds batch them).
      ws.onmessage = (ev) => {
        if (typeof ev.data !== 'string') return;
        for (const line of ev.data.split('\n')) {
          if (!line) continue;
          let m;
          try { m = JSON.parse(line); } catch (e) { report('ws ' + this.name + ' message', e); continue; }
          if (!m || typeof m !== 'object') continue;
          try { this.onMessage(m); } catch (e) { report('ws ' + this.name + ' handler', e); }
        }
      };
      ws.onerror = () => { /* a close event follows */ };
      ws.onclose = () => {
        if (this.ws !== ws) return;
        this.ws = null;
        this.connected = false;
        updateDots();
        this.retry();
      };
      updateDots();
    }

    pause() {
      clearTimeout(this.timer);
      this.timer = 0;
      if (this.ws) this.ws.close();
      updateDots();
    }

    // Exponential backoff 0.5 s -> 10 s, with jitter (80..100 % of the step).
    retry() {
      if (this.timer || auth.blocked) return;
      const step = Math.min(10000, 500 * Math.pow(2, this.attempt));
      this.attempt = Math.min(this.attempt + 1, 10);
      this.timer = setTimeout(() => this.open(), step * (0.8 + 0.2 * Math.random()));
    }

    send(m) {
      if (this.ws && this.connected) this.ws.send(JSON.stringify(m));
    }

    setSub(key, m) {
      this.subs.set(key, m);
      this.send(m);
    }

    dropSub(key, unsubscribe) {
      if (!this.subs.has(key)) return;
      this.subs.delete(key);
      if (unsubscribe) this.send(unsubscribe);
    }
  }

  function updateDots() {
    for (const s of Object.values(sockets)) {
      if (!s.dot) continue;
      const cls = s.connected ? 'dot ok' : (s.ws || s.timer ? 'dot retry' : 'dot off');
      if (s.dot.className !== cls) s.dot.className = cls;
      s.dot.parentElement.title = '/ws/' + s.name + ': ' + (s.connected ? 'connected'
        : s.ws ? 'connecting' : s.timer ? 'reconnecting' : auth.blocked ? 'needs an access token' : 'idle');
    }
  }

  // ------------------------------------------------------------------------------ render loop

  const renderers = [];
  function frame() {
    frames++;
    for (const r of renderers) {
      try { r(); } catch (e) { report('render', e); }
    }
    requestAnimationFrame(frame);
  }

  // Canvas sizes come from a ResizeObserver (never measured while drawing).
  const canvasSizes = new Map();
  const resizeObs = typeof ResizeObserver === 'function' ? new ResizeObserver((entries) => {
    for (const en of entries) {
      const c = en.target;
      const r = en.contentRect;
      canvasSizes.set(c, { w: r.width, h: r.height });
      if (c === $('heatCanvas')) heat.dirty = true;
      if (c === $('depthCanvas')) book.depthDirty = true;
    }
  }) : null;

  function prepCanvas(c) {
    const sz = canvasSizes.get(c);
    if (!sz || sz.w < 2 || sz.h < 2) return null;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(sz.w * dpr), h = Math.round(sz.h * dpr);
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    const ctx = c.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx, w: sz.w, h: sz.h };
  }

  // ------------------------------------------------------------------------------ sorted series

  // Points keyed by time, kept sorted; flush() sends them to chart series with update() when only
  // the last point changed or points were appended, setData() otherwise.
  class SortedSeries {
    constructor(cap) {
      this.items = []; // {t, v}
      this.index = new Map();
      this.cap = cap;
      this.full = true;
      this.dirty = true;
      this.minTouched = Infinity;
      this.renderedLen = 0;
    }

    upsert(t, v, ifAbsent) {
      const found = this.index.get(t);
      const n = this.items.length;
      if (found) {
        if (ifAbsent) return;
        found.v = v;
        if (n && this.items[n - 1] === found) this.touch(n - 1);
        else { this.full = true; this.dirty = true; }
        return;
      }
      const item = { t, v };
      this.index.set(t, item);
      if (!n || t > this.items[n - 1].t) {
        this.items.push(item);
        this.touch(n);
      } else {
        let lo = 0, hi = n;
        while (lo < hi) { const mid = (lo + hi) >> 1; if (this.items[mid].t < t) lo = mid + 1; else hi = mid; }
        this.items.splice(lo, 0, item);
        this.full = true;
        this.dirty = true;
      }
      if (this.items.length > this.cap) {
        const gone = this.items.splice(0, this.items.length - this.cap);
        for (const g of gone) this.index.delete(g.t);
        this.full = true;
      }
    }

    touch(i) {
      if (i < this.minTouched) this.minTouched = i;
      this.dirty = true;
    }

    // targets: [[series, convert], ...]; returns true when something was sent.
    flush(targets) {
      if (!this.dirty) return false;
      const n = this.items.length;
      if (this.full || this.minTouched < this.renderedLen - 1) {
        for (const [series, conv] of targets) series.setData(this.items.map(conv));
      } else {
        for (let i = this.minTouched; i < n; i++) {
          for (const [series, conv] of targets) series.update(conv(this.items[i]));
        }
      }
      this.full = false;
      this.dirty = false;
      this.minTouched = Infinity;
      this.renderedLen = n;
      return true;
    }

    first() { return this.items.length ? this.items[0].t : null; }
    last() { return this.items.length ? this.items[this.items.length - 1] : null; }
  }

  // ------------------------------------------------------------------------------ market state

  const mkt = {
    candles: new SortedSeries(MAX_CANDLES), // open_time_us -> candle record (strings as received)
    rendered: [], // candle records the chart holds
    ind: new Map(), // name -> {store: SortedSeries, series, kind}
    sources: [],
    source: null,
    sourcesLoaded: false,
    sourcesStale: false, // the last refresh failed: retried on the next /ws/queues (re)connect
    loadingOlder: false,
    exhausted: false,
    historyLoaded: false,
    emptyShown: null,
    hover: false,
    notice: [],
    lastTrade: null,
    ticker: null,
    quoteDirty: true,
    serverError: '',
  };

  const LC = window.LightweightCharts;
  let chart = null, candleSeries = null, volumeSeries = null, panes = {};

  const COLORS = {
    up: '#26a69a', down: '#ef5350', upVol: 'rgba(38,166,154,0.45)', downVol: 'rgba(239,83,80,0.45)',
    text: '#8b95a5', grid: '#161c25', border: '#232a35',
  };
  const EMA_COLORS = ['#f0b90b', '#c678dd', '#61afef', '#e5c07b'];

  function indicatorKind(name) {
    if (/^ema_\d/.test(name)) return { pane: 0, type: 'line', color: EMA_COLORS[Object.keys(emaSeen).length % EMA_COLORS.length], width: 1 };
    let m = /^bb_(upper|middle|lower)_/.exec(name);
    if (m) return { pane: 0, type: 'line', color: m[1] === 'middle' ? 'rgba(120,144,200,0.6)' : 'rgba(120,144,200,0.9)', width: 1, style: m[1] === 'middle' ? 2 : 0 };
    if (/^rsi_\d/.test(name)) return { pane: 'rsi', type: 'line', color: '#c678dd', width: 1 };
    if (/^macd_hist_/.test(name)) return { pane: 'macd', type: 'hist' };
    if (/^macd_signal_/.test(name)) return { pane: 'macd', type: 'line', color: '#f0b90b', width: 1 };
    if (/^macd_\d/.test(name)) return { pane: 'macd', type: 'line', color: '#61afef', width: 1 };
    return null;
  }
  let emaSeen = {};

  function priceFormat() {
    const p = Math.max(0, Math.min(8, precision.price));
    return { type: 'price', precision: p, minMove: Math.pow(10, -p) };
  }

  function createChart() {
    if (chart) { chart.remove(); chart = null; }
    panes = {};
    emaSeen = {};
    if (!LC) { report('chart', new Error('lightweight-charts did not load (/vendor/lightweight-charts.js)')); return; }
    chart = LC.createChart($('chart'), {
      autoSize: true,
      layout: {
        background: { type: LC.ColorType.Solid, color: '#0b0e13' },
        textColor: COLORS.text,
        fontSize: 11,
        attributionLogo: false, // its <style> element would break the CSP; the footer links instead
        panes: { separatorColor: COLORS.border, separatorHoverColor: 'rgba(120,130,150,0.2)' },
      },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      rightPriceScale: { borderColor: COLORS.border },
      timeScale: { borderColor: COLORS.border, timeVisible: true, secondsVisible: state.interval === '1s', rightOffset: 4 },
      crosshair: { mode: LC.CrosshairMode.Normal },
    });
    candleSeries = chart.addSeries(LC.CandlestickSeries, {
      upColor: COLORS.up, downColor: COLORS.down, wickUpColor: COLORS.up, wickDownColor: COLORS.down,
      borderVisible: false, priceFormat: priceFormat(),
    });
    candleSeries.priceScale().applyOptions({ scaleMargins: { top: 0.06, bottom: 0.26 } });
    volumeSeries = chart.addSeries(LC.HistogramSeries, {
      priceFormat: { type: 'volume' }, priceScaleId: 'volume', lastValueVisible: false, priceLineVisible: false,
    });
    volumeSeries.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    chart.subscribeCrosshairMove(onCrosshair);
    chart.timeScale().subscribeVisibleLogicalRangeChange(onRangeChange);
    for (const ind of mkt.ind.values()) ind.series = null;
  }

  function paneIndex(key) {
    if (key === 0) return 0;
    if (panes[key] === undefined) {
      panes[key] = chart.panes().length;
    }
    return panes[key];
  }

  function seriesFor(name, ind) {
    if (ind.series || !chart) return ind.series;
    const k = ind.kind;
    const pi = paneIndex(k.pane);
    const common = { lastValueVisible: false, priceLineVisible: false, title: '' };
    if (k.type === 'hist') {
      ind.series = chart.addSeries(LC.HistogramSeries, { ...common, color: 'rgba(97,175,239,0.5)' }, pi);
    } else {
      ind.series = chart.addSeries(LC.LineSeries, {
        ...common, color: k.color, lineWidth: k.width, lineStyle: k.style || 0,
        crosshairMarkerVisible: false, lastValueVisible: k.pane !== 0,
        priceFormat: k.pane === 0 ? priceFormat() : { type: 'price', precision: 2, minMove: 0.01 },
      }, pi);
    }
    if (k.pane === 'rsi' && !panes.rsiLines) {
      panes.rsiLines = true;
      ind.series.createPriceLine({ price: 70, color: 'rgba(239,83,80,0.5)', lineWidth: 1, lineStyle: 2, axisLabelVisible: false });
      ind.series.createPriceLine({ price: 30, color: 'rgba(38,166,154,0.5)', lineWidth: 1, lineStyle: 2, axisLabelVisible: false });
    }
    if (pi > 0) {
      const ps = chart.panes();
      if (ps[0]) ps[0].setStretchFactor(3);
      if (ps[pi]) ps[pi].setStretchFactor(1);
    }
    ind.store.full = true;
    ind.store.dirty = true;
    return ind.series;
  }

  const toBar = (it) => {
    const r = it.v;
    return { time: Math.floor(r.open_time / 1e6), open: +r.open, high: +r.high, low: +r.low, close: +r.close };
  };
  const toVol = (it) => {
    const r = it.v;
    return { time: Math.floor(r.open_time / 1e6), value: +r.volume, color: +r.close >= +r.open ? COLORS.upVol : COLORS.downVol };
  };
  const toInd = (it) => ({ time: Math.floor(it.t / 1e6), value: it.v });
  const toHist = (it) => ({ time: Math.floor(it.t / 1e6), value: it.v, color: it.v >= 0 ? 'rgba(38,166,154,0.55)' : 'rgba(239,83,80,0.55)' });

  function addCandle(r, fromHistory) {
    if (!r || r.symbol !== state.symbol || r.interval !== state.interval) return;
    const t = r.open_time;
    if (!Number.isFinite(t)) return;
    notePrice(r.close);
    mkt.candles.upsert(t, r, fromHistory);
    mkt.quoteDirty = true;
  }

  function addIndicator(r, fromHistory) {
    if (!r || r.symbol !== state.symbol || r.interval !== state.interval) return;
    if (typeof r.name !== 'string' || !Number.isFinite(r.value) || !Number.isFinite(r.open_time)) return;
    let ind = mkt.ind.get(r.name);
    if (!ind) {
      const kind = indicatorKind(r.name);
      if (!kind) return;
      if (/^ema_/.test(r.name)) emaSeen[r.name] = true;
      ind = { store: new SortedSeries(MAX_CANDLES), series: null, kind };
      mkt.ind.set(r.name, ind);
    }
    ind.store.upsert(r.open_time, r.value, fromHistory);
  }

  let lastPrecisionApplied = -1;
  function renderChart() {
    if (!chart) return;
    if (precision.price !== lastPrecisionApplied && mkt.candles.items.length) {
      lastPrecisionApplied = precision.price;
      candleSeries.applyOptions({ priceFormat: priceFormat() });
    }
    // setData keeps the view anchored to the newest bar, so older bars loaded on a scroll to the
    // left appear without a jump.
    if (mkt.candles.flush([[candleSeries, toBar], [volumeSeries, toVol]])) {
      mkt.rendered = mkt.candles.items.map((it) => it.v);
      if (!mkt.hover) legendPending = true; // the legend follows the open candle
      // A few candles (a live source that has just started) would sit squeezed at the right
      // edge at the default spacing: widen the bars while fewer than ~150 fill the chart.
      const n = mkt.rendered.length;
      if (n > 0 && n < 150 && n !== mkt.spacedFor) {
        mkt.spacedFor = n;
        const width = $('chart').clientWidth || 1000;
        chart.timeScale().applyOptions({ barSpacing: Math.max(6, Math.min(40, width / (n + 16))) });
        chart.timeScale().scrollToRealTime();
      }
    }
    const empty = mkt.historyLoaded && mkt.rendered.length === 0;
    if (empty !== mkt.emptyShown) {
      mkt.emptyShown = empty;
      const e = $('chartEmpty');
      e.hidden = !empty;
      setText(e, empty ? 'no candles stored for ' + state.symbol + ' ' + state.interval + ' in the last ' + HISTORY_LIMIT + ' intervals' +
        (mkt.source ? '' : ', and no live source') : '');
    }
    for (const [name, ind] of mkt.ind) {
      const s = seriesFor(name, ind);
      if (!s) continue;
      ind.store.flush([[s, ind.kind.type === 'hist' ? toHist : toInd]]);
    }
  }

  function onCrosshair(param) {
    mkt.hover = !!(param && param.time !== undefined);
    let r = null;
    if (param && param.time !== undefined) {
      const it = mkt.candles.index.get(param.time * 1e6);
      if (it) r = it.v;
    }
    if (!r) { const last = mkt.candles.last(); r = last ? last.v : null; }
    renderLegend(r, param && param.time !== undefined ? param.time : null);
  }

  function renderLegend(r, time) {
    const lg = $('legend');
    clear(lg);
    lg.appendChild(el('span', 'lg-sym', state.symbol + ' · ' + state.interval + ' · UTC'));
    if (!r) return;
    const up = +r.close >= +r.open;
    const add = (label, value, cls) => {
      lg.appendChild(el('span', 'lg-label', label));
      lg.appendChild(el('span', cls || (up ? 'up' : 'down'), value));
    };
    add('', fmtDateTimeMs(r.open_time / 1000), 'lg-time');
    add('O', fmtDec(r.open, precision.price));
    add('H', fmtDec(r.high, precision.price));
    add('L', fmtDec(r.low, precision.price));
    add('C', fmtDec(r.close, precision.price));
    add('V', fmtCompact(+r.volume), 'lg-vol');
    if (r.is_closed === false) lg.appendChild(el('span', 'lg-open', 'open'));
    if (time !== null) {
      for (const [name, ind] of mkt.ind) {
        const it = ind.store.index.get(time * 1e6);
        if (it) add(name, fmtNum(it.v, Math.abs(it.v) >= 100 ? 2 : 4), 'lg-ind');
      }
    }
  }

  let legendPending = false;
  let legendAt = 0;
  function renderLegendLatest() {
    if (!legendPending || mkt.hover) return;
    const now = performance.now();
    if (now - legendAt < 100) return;
    legendAt = now;
    legendPending = false;
    const last = mkt.candles.last();
    renderLegend(last ? last.v : null, null);
  }

  // History: newest `limit` records before `toMs` (or now).
  async function loadHistory(gen, toMs) {
    const iv = INTERVAL_MS[state.interval] || 6e4;
    const to = toMs || Date.now() + iv;
    const from = Math.max(0, Math.floor(to - iv * HISTORY_LIMIT));
    const base = { symbol: state.symbol, interval: state.interval, from, to: toMs ? Math.floor(toMs) : undefined, limit: HISTORY_LIMIT };
    const candlesP = api('/api/v1/history/candles?' + qs(base));
    const indP = HISTORY_INDICATORS.map((name) =>
      api('/api/v1/history/indicators?' + qs({ ...base, name })).catch((e) => { if (e.status !== 401) report('history ' + name, e); return null; }));
    let got = 0;
    try {
      const res = await candlesP;
      if (gen !== state.gen) return 0;
      const recs = res && Array.isArray(res.records) ? res.records : [];
      for (const r of recs) if (r && r.type === 'candle') { addCandle(r, true); got++; }
    } catch (e) {
      if (gen === state.gen && e.status !== 401) report('history candles', e);
    }
    const inds = await Promise.all(indP);
    if (gen !== state.gen) return got;
    for (const res of inds) {
      const recs = res && Array.isArray(res.records) ? res.records : [];
      for (const r of recs) if (r && r.type === 'indicator') addIndicator(r, true);
    }
    legendPending = true;
    if (!toMs) { mkt.historyLoaded = true; mkt.emptyShown = null; }
    return got;
  }

  function onRangeChange(range) {
    if (!range || range.from > 10 || mkt.loadingOlder || mkt.exhausted) return;
    const first = mkt.candles.first();
    if (first === null) return;
    mkt.loadingOlder = true;
    const gen = state.gen;
    loadHistory(gen, first / 1000).then((n) => {
      if (gen !== state.gen) return;
      if (n === 0) mkt.exhausted = true;
    }).finally(() => { if (gen === state.gen) mkt.loadingOlder = false; });
  }

  // ------------------------------------------------------------------------------ sources

  async function loadSources() {
    try {
      const res = await api('/api/v1/market/sources');
      mkt.sources = res && Array.isArray(res.sources) ? res.sources : [];
      mkt.sourcesStale = false;
    } catch (e) {
      // A failed refresh keeps the sources we had: the server restarting (a refresh timer firing
      // while it is down) must not drop the live subscription. The refresh is retried when
      // /ws/queues is back; a request that failed for lack of a connection is not an error of its
      // own (the connection dots show it), an HTTP error or a failed first load is.
      mkt.sourcesStale = true;
      if (e.status !== 401 && (e instanceof ApiError || !mkt.sourcesLoaded)) report('market sources', e);
      if (!mkt.sourcesLoaded) mkt.sources = [];
    }
    mkt.sourcesLoaded = true;
    updateSymbolList();
    topicsSuggestDirty = true;
  }

  function pickSource(symbol) {
    for (const s of mkt.sources) {
      if (!s || !Array.isArray(s.symbols)) continue;
      if (s.symbols.some((x) => typeof x === 'string' && x.toUpperCase() === symbol)) return s;
    }
    return null;
  }

  function sourceSymbols() {
    const out = new Set();
    for (const s of mkt.sources) if (s && Array.isArray(s.symbols)) for (const x of s.symbols) if (typeof x === 'string') out.add(x.toUpperCase());
    return [...out].sort();
  }

  function updateSymbolList() {
    const dl = $('symbolList');
    clear(dl);
    for (const s of new Set([...sourceSymbols(), state.symbol])) {
      const o = document.createElement('option');
      o.value = s;
      dl.appendChild(o);
    }
  }

  function renderNotice() {
    const n = $('marketNotice');
    clear(n);
    const lines = [];
    if (mkt.sourcesLoaded && !mkt.source) {
      const syms = sourceSymbols();
      lines.push(['warn', 'no live source for ' + state.symbol + ' — start the realtime-monitor workflow' +
        (syms.length ? ' (live sources: ' + syms.join(', ') + ')' : ' (no symbol has a live source now)') +
        '; showing stored history only.']);
    } else if (mkt.source) {
      const s = mkt.source;
      let line = 'live: ' + String(s.queue_id || '?') + (s.status ? ' (' + s.status + ')' : '');
      if (!s.topics || !s.topics.candles) line += ' · no live candle topic: the chart shows stored history';
      else if (s.interval && s.interval !== state.interval) line += ' · live candles are ' + s.interval + '; ' + state.interval + ' shows stored history only';
      lines.push(['info', line]);
    }
    if (mkt.serverError) lines.push(['err', 'server: ' + mkt.serverError]);
    for (const [cls, text] of lines) n.appendChild(el('div', cls, text));
    n.hidden = lines.length === 0;
    // the same line on the book and trades views
    for (const id of ['bookNotice', 'tapeNotice']) {
      const x = $(id);
      if (!x) continue;
      x.hidden = !(mkt.sourcesLoaded && !mkt.source);
      setText(x, x.hidden ? '' : 'no live source for ' + state.symbol + ' — start the realtime-monitor workflow');
    }
  }

  const ROLES = ['trades', 'depth', 'candles', 'indicators', 'book_ticker'];

  function subscribeMarket() {
    const ms = sockets.market;
    const src = mkt.source;
    if (!src || !src.topics) {
      ms.dropSub('market', null);
      return;
    }
    const topics = {};
    for (const r of ROLES) if (typeof src.topics[r] === 'string' && src.topics[r]) topics[r] = src.topics[r];
    ms.setSub('market', { subscribe: 'market', symbol: state.symbol, topics, depth: state.depth });
  }

  function unsubscribeMarket(symbol) {
    sockets.market.dropSub('market', { unsubscribe: 'market', symbol });
  }

  // A new workflow may bring a source: re-read them (debounced) when workflows change status.
  let sourcesTimer = 0;
  function refreshSourcesSoon() {
    if (sourcesTimer) return;
    sourcesTimer = setTimeout(async () => {
      sourcesTimer = 0;
      const before = mkt.source ? JSON.stringify(mkt.source.topics) + mkt.source.queue_id : '';
      await loadSources();
      mkt.source = pickSource(state.symbol);
      const after = mkt.source ? JSON.stringify(mkt.source.topics) + mkt.source.queue_id : '';
      if (before !== after) subscribeMarket();
      renderIntervals();
      renderNotice();
    }, 1000);
  }

  // ------------------------------------------------------------------------------ market messages

  function onMarketMessage(m) {
    const type = m.type;
    if (m.v !== undefined) {
      if (m.symbol !== state.symbol) return;
      if (type === 'trade' || type === 'agg_trade') addTrade(m);
      else if (type === 'gap') addGap(m);
      else if (type === 'candle') addCandle(m, false);
      else if (type === 'indicator') addIndicator(m, false);
      else if (type === 'book_ticker') { mkt.ticker = m; mkt.quoteDirty = true; }
      return;
    }
    switch (type) {
      case 'book':
        if (m.symbol === undefined || m.symbol === state.symbol) setBook(m);
        break;
      case 'snapshot':
        if (m.symbol !== state.symbol) return;
        if (Array.isArray(m.candles)) for (const r of m.candles) addCandle(r, false);
        if (Array.isArray(m.indicators)) for (const r of m.indicators) addIndicator(r, false);
        if (Array.isArray(m.trades)) {
          for (const r of m.trades) {
            if (!r || r.symbol !== state.symbol) continue;
            if (r.type === 'gap') addGap(r);
            else if (r.type === 'trade' || r.type === 'agg_trade') addTrade(r);
          }
        }
        if (m.book && typeof m.book === 'object') setBook(m.book);
        if (m.book_ticker && typeof m.book_ticker === 'object') { mkt.ticker = m.book_ticker; mkt.quoteDirty = true; }
        legendPending = true;
        break;
      case 'dropped':
        addDropped(m.count);
        break;
      case 'error':
        mkt.serverError = String(m.error === undefined ? 'error' : typeof m.error === 'string' ? m.error : JSON.stringify(m.error));
        renderNotice();
        break;
      default:
        break; // subscribed and future message types
    }
  }

  // ------------------------------------------------------------------------------ header quote

  function renderQuote() {
    if (!mkt.quoteDirty) return;
    mkt.quoteDirty = false;
    const last = mkt.lastTrade ? mkt.lastTrade.price : (mkt.candles.last() ? mkt.candles.last().v.close : null);
    const q = $('qLast');
    setText(q, last ? fmtDec(last, precision.price) : '—');
    // change over 24 h when the loaded candles reach back that far
    let chg = '';
    let cls = 'chg';
    const items = mkt.candles.items;
    if (last && items.length) {
      const lastT = items[items.length - 1].t;
      const target = lastT - 864e8;
      if (items[0].t <= target) {
        let lo = 0, hi = items.length - 1;
        while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (items[mid].t <= target) lo = mid; else hi = mid - 1; }
        const ref = +items[lo].v.close;
        if (ref > 0) {
          const pct = (+last / ref - 1) * 100;
          chg = (pct >= 0 ? '+' : '') + pct.toFixed(2) + '% 24h';
          cls = pct >= 0 ? 'chg up' : 'chg down';
        }
      }
    }
    setText($('qChange'), chg);
    if ($('qChange').className !== cls) $('qChange').className = cls;
    const t = mkt.ticker;
    const lb = book.rendered;
    const bid = t ? t.bid_price : (lb && lb.bids[0] ? lb.bids[0][0] : null);
    const ask = t ? t.ask_price : (lb && lb.asks[0] ? lb.asks[0][0] : null);
    setText($('qBid'), bid ? fmtDec(bid, precision.price) : '—');
    setText($('qAsk'), ask ? fmtDec(ask, precision.price) : '—');
  }

  // ------------------------------------------------------------------------------ order book

  const book = {
    latest: null,
    dirty: false,
    depthDirty: false,
    depthAt: 0,
    rendered: null,
    rows: { bids: [], asks: [] },
    lastColumnAt: 0,
  };
  const heat = { cols: [], trades: [], dirty: false };

  function levels(a) {
    if (!Array.isArray(a)) return [];
    const out = [];
    for (const l of a) if (Array.isArray(l) && l.length >= 2) out.push([String(l[0]), String(l[1])]);
    return out;
  }

  function setBook(m) {
    book.latest = m;
    book.dirty = true;
    mkt.quoteDirty = true;
    const now = performance.now();
    if (now - book.lastColumnAt >= HEAT_MIN_MS) {
      book.lastColumnAt = now;
      const parse = (a) => {
        const ls = levels(a);
        const out = new Float64Array(ls.length * 2);
        for (let i = 0; i < ls.length; i++) { out[2 * i] = +ls[i][0]; out[2 * i + 1] = +ls[i][1]; }
        return out;
      };
      const et = Number.isFinite(m.event_time) && m.event_time > 0 ? m.event_time / 1000 : Date.now();
      heat.cols.push({ t: et, bids: parse(m.bids), asks: parse(m.asks), ok: m.state === 'in_sync' });
      if (heat.cols.length > HEAT_COLUMNS) heat.cols.splice(0, heat.cols.length - HEAT_COLUMNS);
      heat.dirty = true;
    }
  }

  // The model of the ladder is updated every frame (visible or not); the DOM only when visible.
  function updateBookModel() {
    if (!book.dirty) return false;
    book.dirty = false;
    book.depthDirty = true;
    const m = book.latest;
    const bids = levels(m.bids), asks = levels(m.asks);
    for (const l of bids) { notePrice(l[0]); noteQty(l[1]); }
    for (const l of asks) { notePrice(l[0]); noteQty(l[1]); }
    book.rendered = {
      last_update_id: m.last_update_id === undefined ? null : m.last_update_id,
      state: typeof m.state === 'string' ? m.state : 'waiting',
      known: typeof m.known === 'string' ? m.known : null,
      event_time: m.event_time,
      bids, asks,
    };
    return true;
  }

  function ladderRow() {
    const r = el('div', 'lrow');
    r._cum = r.appendChild(el('div', 'bar cum'));
    r._size = r.appendChild(el('div', 'bar size'));
    r._p = r.appendChild(el('span', 'p'));
    r._q = r.appendChild(el('span', 'q'));
    r._c = r.appendChild(el('span', 'c'));
    return r;
  }

  function renderLadderSide(container, rowsArr, lv, cums, maxCum, maxSize, reverse) {
    const n = lv.length;
    while (rowsArr.length < n) {
      const r = ladderRow();
      rowsArr.push(r);
    }
    // rows in display order; asks are reversed so the best ask sits next to the spread
    if (container.childElementCount !== n) {
      clear(container);
      for (let i = 0; i < n; i++) container.appendChild(rowsArr[i]);
    }
    for (let i = 0; i < n; i++) {
      const j = reverse ? n - 1 - i : i;
      const row = rowsArr[i];
      const [p, q] = lv[j];
      setText(row._p, fmtDec(p, precision.price));
      setText(row._q, fmtDec(q, precision.qty));
      setText(row._c, fmtNum(cums[j], precision.qty));
      // bars scale on the compositor (transform), never through layout
      const cw = 'scaleX(' + (maxCum > 0 ? (cums[j] / maxCum).toFixed(3) : '0') + ')';
      const sw = 'scaleX(' + (maxSize > 0 ? (+q / maxSize).toFixed(3) : '0') + ')';
      if (row._cw !== cw) { row._cw = cw; row._cum.style.transform = cw; }
      if (row._sw !== sw) { row._sw = sw; row._size.style.transform = sw; }
    }
  }

  let ladderDomStale = true;
  function renderBook() {
    const changed = updateBookModel();
    const visible = state.tab === 'book';
    if (visible && (changed || ladderDomStale)) {
      ladderDomStale = false;
      renderLadderDom();
    } else if (changed) {
      ladderDomStale = true;
    }
    const now = performance.now();
    if (visible && book.depthDirty && now - book.depthAt >= 50) { // a chart of shapes: 20 Hz is plenty
      book.depthDirty = false;
      book.depthAt = now;
      drawDepth();
    }
    if (visible && heat.dirty) {
      heat.dirty = false;
      drawHeat();
    }
    if (visible) {
      const b = book.rendered;
      setText($('bookAge'), b && Number.isFinite(b.event_time) && b.event_time > 0
        ? 'event ' + fmtTimeMs(b.event_time / 1000, true) + ' UTC' : '');
    }
  }

  function renderLadderDom() {
    const b = book.rendered;
    const st = b ? b.state : 'waiting';
    const stCls = ['in_sync', 'resyncing', 'waiting'].includes(st) ? st : 'unknown';
    setText($('bookState'), st);
    $('bookState').className = 'badge s-' + stCls;
    setText($('bookKnown'), b && b.known ? 'known: ' + b.known : '');
    $('bookKnown').title = b && b.known === 'top' ? 'anchored by a partial snapshot: levels below its deepest are unknown' : '';
    setText($('bookUpdateId'), 'last_update_id ' + (b && b.last_update_id !== null ? String(b.last_update_id) : '—'));
    const ladder = $('ladder');
    const stale = st !== 'in_sync';
    ladder.classList.toggle('stale', stale && !!b);
    const sl = $('ladderStale');
    sl.hidden = !(stale && b);
    setText(sl, st === 'resyncing' ? 'RESYNCING — book not in sync' : st === 'waiting' ? 'WAITING for a snapshot' : st.toUpperCase());
    if (!b) {
      clear($('ladderAsks'));
      clear($('ladderBids'));
      setText($('ladderMidPrice'), mkt.source ? 'waiting for the book' : 'no book');
      setText($('ladderSpread'), '');
      return;
    }
    const cum = (lv) => { const out = new Array(lv.length); let s = 0; for (let i = 0; i < lv.length; i++) { s += +lv[i][1]; out[i] = s; } return out; };
    const bc = cum(b.bids), ac = cum(b.asks);
    const maxCum = Math.max(bc.length ? bc[bc.length - 1] : 0, ac.length ? ac[ac.length - 1] : 0);
    let maxSize = 0;
    for (const l of b.bids) maxSize = Math.max(maxSize, +l[1]);
    for (const l of b.asks) maxSize = Math.max(maxSize, +l[1]);
    renderLadderSide($('ladderAsks'), book.rows.asks, b.asks, ac, maxCum, maxSize, true);
    renderLadderSide($('ladderBids'), book.rows.bids, b.bids, bc, maxCum, maxSize, false);
    if (b.bids.length && b.asks.length) {
      const sm = decSpreadMid(b.asks[0][0], b.bids[0][0]);
      if (sm) {
        setText($('ladderMidPrice'), 'mid ' + fmtDec(sm.mid, precision.price + 1));
        const bps = (+sm.spread / +sm.mid) * 1e4;
        const bpsText = Number.isFinite(bps) ? (Math.abs(bps) >= 1 ? bps.toFixed(2) : bps.toPrecision(2)) : '—';
        setText($('ladderSpread'), 'spread ' + fmtDec(sm.spread, precision.price) + ' (' + bpsText + ' bp)');
      }
    } else {
      setText($('ladderMidPrice'), '—');
      setText($('ladderSpread'), b.bids.length || b.asks.length ? 'one-sided book' : 'empty book');
    }
  }

  function drawDepth() {
    const c = prepCanvas($('depthCanvas'));
    if (!c) return;
    const { ctx, w, h } = c;
    ctx.fillStyle = '#0b0e13';
    ctx.fillRect(0, 0, w, h);
    const b = book.rendered;
    if (!b || (!b.bids.length && !b.asks.length)) {
      ctx.fillStyle = COLORS.text;
      ctx.font = '12px system-ui, sans-serif';
      ctx.fillText(b ? 'empty book' : 'no book yet', 12, 20);
      return;
    }
    const bids = b.bids.map((l) => [+l[0], +l[1]]), asks = b.asks.map((l) => [+l[0], +l[1]]);
    let cb = 0, ca = 0;
    const cbids = bids.map(([p, q]) => [p, (cb += q)]);
    const casks = asks.map(([p, q]) => [p, (ca += q)]);
    const lo = bids.length ? bids[bids.length - 1][0] : asks[0][0];
    const hi = asks.length ? asks[asks.length - 1][0] : bids[0][0];
    const span = Math.max(hi - lo, 1e-12);
    const maxY = Math.max(cb, ca, 1e-12);
    const padL = 8, padR = 8, padT = 10, padB = 20;
    const x = (p) => padL + (p - lo) / span * (w - padL - padR);
    const y = (v) => h - padB - v / maxY * (h - padT - padB);
    const area = (pts, line, fill, dir) => {
      if (!pts.length) return;
      ctx.beginPath();
      ctx.moveTo(x(pts[0][0]), y(0));
      let prevY = y(0);
      for (const [p, cum] of pts) {
        const px = x(p);
        ctx.lineTo(px, prevY);
        prevY = y(cum);
        ctx.lineTo(px, prevY);
      }
      const edge = dir < 0 ? padL : w - padR;
      ctx.lineTo(edge, prevY);
      ctx.lineTo(edge, y(0));
      ctx.closePath();
      ctx.fillStyle = fill;
      ctx.fill();
      ctx.strokeStyle = line;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    };
    area(cbids, COLORS.up, 'rgba(38,166,154,0.22)', -1);
    area(casks, COLORS.down, 'rgba(239,83,80,0.22)', 1);
    ctx.fillStyle = COLORS.text;
    ctx.font = '10px ui-monospace, monospace';
    ctx.textBaseline = 'alphabetic';
    const dp = precision.price;
    ctx.textAlign = 'left';
    ctx.fillText(lo.toFixed(dp), padL, h - 5);
    ctx.textAlign = 'right';
    ctx.fillText(hi.toFixed(dp), w - padR, h - 5);
    if (bids.length && asks.length) {
      const mid = (bids[0][0] + asks[0][0]) / 2;
      ctx.textAlign = 'center';
      ctx.fillText(mid.toFixed(dp + 1), x(mid), h - 5);
      ctx.strokeStyle = 'rgba(200,200,200,0.25)';
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(x(mid), padT);
      ctx.lineTo(x(mid), h - padB);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.textAlign = 'left';
    ctx.fillText(fmtCompact(maxY), padL + 2, padT + 8);
    if (b.state !== 'in_sync') {
      ctx.fillStyle = 'rgba(11,14,19,0.55)';
      ctx.fillRect(0, 0, w, h);
      ctx.fillStyle = '#e5c07b';
      ctx.textAlign = 'center';
      ctx.font = '12px system-ui, sans-serif';
      ctx.fillText(b.state.toUpperCase(), w / 2, h / 2);
    }
  }

  // 256-step colour ramp for resting size: deep blue -> cyan -> yellow -> white.
  const HEAT_PALETTE = (() => {
    const stops = [[0, [12, 18, 40]], [0.35, [20, 90, 160]], [0.6, [30, 190, 200]], [0.82, [240, 210, 60]], [1, [255, 255, 240]]];
    const out = [];
    for (let i = 0; i < 256; i++) {
      const t = i / 255;
      let k = 0;
      while (k < stops.length - 2 && t > stops[k + 1][0]) k++;
      const [t0, c0] = stops[k], [t1, c1] = stops[k + 1];
      const f = (t - t0) / (t1 - t0);
      out.push('rgb(' + c0.map((v, j) => Math.round(v + (c1[j] - v) * f)).join(',') + ')');
    }
    return out;
  })();

  function drawHeat() {
    const c = prepCanvas($('heatCanvas'));
    if (!c) return;
    const { ctx, w, h } = c;
    ctx.fillStyle = '#05070b';
    ctx.fillRect(0, 0, w, h);
    const cols = heat.cols;
    const axisW = 64;
    const pw = w - axisW;
    if (!cols.length || pw < 10) {
      ctx.fillStyle = COLORS.text;
      ctx.font = '12px system-ui, sans-serif';
      ctx.fillText('no book updates yet', 12, 20);
      return;
    }
    let lo = Infinity, hi = -Infinity, tick = Infinity;
    const sizes = [];
    for (const col of cols) {
      for (const arr of [col.bids, col.asks]) {
        for (let i = 0; i < arr.length; i += 2) {
          const p = arr[i];
          if (p < lo) lo = p;
          if (p > hi) hi = p;
          sizes.push(arr[i + 1]);
          if (i >= 2) { const d = Math.abs(p - arr[i - 2]); if (d > 0 && d < tick) tick = d; }
        }
      }
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return;
    if (!Number.isFinite(tick)) tick = Math.pow(10, -precision.price);
    const margin = Math.max((hi - lo) * 0.03, tick);
    lo -= margin; hi += margin;
    const span = Math.max(hi - lo, 1e-12);
    sizes.sort((a, b) => a - b);
    const ref = Math.max(sizes[Math.floor(sizes.length * 0.97)] || 0, 1e-12);
    const logRef = Math.log1p(ref);
    const colW = pw / HEAT_COLUMNS;
    const x0 = pw - cols.length * colW;
    const y = (p) => h - (p - lo) / span * h;
    const bandH = Math.max(1, tick / span * h);
    for (let ci = 0; ci < cols.length; ci++) {
      const col = cols[ci];
      const cx = x0 + ci * colW;
      for (const arr of [col.bids, col.asks]) {
        for (let i = 0; i < arr.length; i += 2) {
          const k = Math.min(255, Math.floor(Math.log1p(arr[i + 1]) / logRef * 255));
          ctx.fillStyle = HEAT_PALETTE[k];
          ctx.fillRect(cx, y(arr[i]) - bandH / 2, colW + 0.5, bandH);
        }
      }
      if (!col.ok) {
        ctx.fillStyle = 'rgba(5,7,11,0.6)';
        ctx.fillRect(cx, 0, colW + 0.5, h);
      }
    }
    // best bid / best ask lines
    const line = (side, color) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1;
      ctx.beginPath();
      let started = false;
      for (let ci = 0; ci < cols.length; ci++) {
        const arr = cols[ci][side];
        if (!arr.length) { started = false; continue; }
        const px = x0 + ci * colW, py = y(arr[0]);
        if (!started) { ctx.moveTo(px, py); started = true; } else ctx.lineTo(px, py);
        ctx.lineTo(px + colW, py);
      }
      ctx.stroke();
    };
    line('bids', COLORS.up);
    line('asks', COLORS.down);
    // trades as bubbles sized by quantity: per column and side one bubble at the volume-weighted
    // price (order-flow style), so a busy market costs at most two bubbles per column
    const t0 = cols[0].t;
    const trades = heat.trades;
    let k = 0;
    while (k < trades.length && trades[k].t < t0) k++;
    if (k > 0) trades.splice(0, k);
    const agg = new Float64Array(cols.length * 4); // buyQ, buyPQ, sellQ, sellPQ
    for (const tr of trades) {
      let a = 0, bIdx = cols.length - 1;
      while (a < bIdx) { const mid = (a + bIdx + 1) >> 1; if (cols[mid].t <= tr.t) a = mid; else bIdx = mid - 1; }
      const o = a * 4 + (tr.sell ? 2 : 0);
      agg[o] += tr.q;
      agg[o + 1] += tr.q * tr.p;
    }
    let maxQ = 0;
    for (let i = 0; i < agg.length; i += 2) if (agg[i] > maxQ) maxQ = agg[i];
    for (let ci = 0; ci < cols.length; ci++) {
      for (let side = 0; side < 2; side++) {
        const q = agg[ci * 4 + side * 2];
        if (!(q > 0)) continue;
        const p = agg[ci * 4 + side * 2 + 1] / q;
        const r = 1.5 + 5 * Math.sqrt(maxQ > 0 ? q / maxQ : 0);
        ctx.beginPath();
        ctx.arc(x0 + (ci + 0.5) * colW, y(p), r, 0, Math.PI * 2);
        ctx.fillStyle = side ? 'rgba(239,83,80,0.6)' : 'rgba(38,166,154,0.6)';
        ctx.fill();
      }
    }
    // price axis
    ctx.fillStyle = '#0b0e13';
    ctx.fillRect(pw, 0, axisW, h);
    ctx.fillStyle = COLORS.text;
    ctx.font = '10px ui-monospace, monospace';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    const nTicks = Math.max(2, Math.floor(h / 40));
    for (let i = 0; i <= nTicks; i++) {
      const p = lo + span * i / nTicks;
      ctx.fillText(p.toFixed(precision.price), pw + 4, Math.min(h - 6, Math.max(6, y(p))));
    }
    ctx.textBaseline = 'top';
    ctx.fillStyle = 'rgba(5,7,11,0.7)';
    ctx.fillRect(0, 0, 150, 16);
    ctx.fillStyle = COLORS.text;
    ctx.fillText(fmtTimeMs(cols[0].t, false) + ' – ' + fmtTimeMs(cols[cols.length - 1].t, false) + ' UTC', 4, 3);
    ctx.textBaseline = 'alphabetic';
  }

  // ------------------------------------------------------------------------------ trades tape

  const tape = {
    rows: [], // sorted by key descending: {kind, key, rec?, text?}
    pending: [],
    ids: new Set(),
    gaps: new Set(),
    maxId: -Infinity,
    minKept: -Infinity,
    full: false,
    renderedIds: [],
    domStale: true,
    changed: false,
    stats: [], // {t ms, q}
    statsHead: 0,
    lastStatsAt: 0,
    lastMergeAt: 0,
    markerSeq: 0,
    els: new Map(), // row key -> element
    freshEls: [],
    fmtSig: '',
  };

  function addTrade(r) {
    const id = r.trade_id;
    if (typeof id !== 'number' || !Number.isFinite(id)) return;
    if (tape.ids.has(id)) return;
    if (tape.full && id < tape.minKept) return;
    tape.ids.add(id);
    tape.pending.push({ kind: 'trade', key: id, rec: r });
    if (id > tape.maxId) tape.maxId = id;
    notePrice(r.price);
    noteQty(r.quantity);
    const t = Number.isFinite(r.timestamp) ? r.timestamp / 1000 : Date.now();
    const q = +r.quantity;
    tape.stats.push({ t, q });
    if (tape.stats.length - tape.statsHead > 100000) tape.statsHead = tape.stats.length - 100000;
    if (!mkt.lastTrade || id >= mkt.lastTrade.trade_id) { mkt.lastTrade = r; mkt.quoteDirty = true; }
    heat.trades.push({ t, p: +r.price, q, sell: r.is_buyer_maker === true });
    if (heat.trades.length > 4000) heat.trades.splice(0, heat.trades.length - 4000);
  }

  function addGap(r) {
    const a = r.first_missing_id, b = r.last_missing_id;
    if (!Number.isFinite(a) || !Number.isFinite(b)) return;
    const key = a + '-' + b;
    if (tape.gaps.has(key)) return;
    tape.gaps.add(key);
    tape.pending.push({
      kind: 'gap', key: b + 0.5,
      text: 'missing trade ids ' + a + '–' + b + ': ' + (typeof r.reason === 'string' ? r.reason : 'no reason given'),
    });
  }

  function addDropped(count) {
    const n = Number.isFinite(count) ? count : 0;
    tape.markerSeq++;
    const base = Number.isFinite(tape.maxId) ? tape.maxId : 0;
    tape.pending.push({ kind: 'dropped', key: base + 0.25 + tape.markerSeq * 1e-6, text: 'dropped ' + n + ' (this page read too slowly)' });
  }

  function mergeTape() {
    if (!tape.pending.length) return false;
    const all = tape.rows.concat(tape.pending);
    tape.pending = [];
    all.sort((x, y) => y.key - x.key);
    const keep = [];
    let trades = 0;
    let minKept = Infinity;
    for (const r of all) {
      if (trades >= TAPE_SIZE) {
        if (r.kind === 'trade') tape.ids.delete(r.key);
        else if (r.kind === 'gap') { /* stays in tape.gaps so a replay does not re-add it */ }
        continue;
      }
      keep.push(r);
      if (r.kind === 'trade') { trades++; if (r.key < minKept) minKept = r.key; }
    }
    tape.rows = keep;
    tape.full = trades >= TAPE_SIZE;
    tape.minKept = minKept;
    tape.renderedIds = keep.filter((r) => r.kind === 'trade').map((r) => r.key);
    return true;
  }

  function tapeRowEl(d) {
    if (d.kind !== 'trade') {
      const m = el('div', 'tape-row marker ' + d.kind);
      m.appendChild(el('span', 't', d.text));
      return m;
    }
    const r = d.rec;
    const e = el('div', 'tape-row ' + (r.is_buyer_maker === true ? 'sell' : 'buy'));
    e.appendChild(el('span', 't', fmtTimeMs(r.timestamp / 1000, true)));
    e.appendChild(el('span', 'p', fmtDec(r.price, precision.price)));
    e.appendChild(el('span', 'q', fmtDec(r.quantity, precision.qty)));
    e.appendChild(el('span', 'id', String(r.trade_id)));
    return e;
  }

  // The tape's model and DOM move together at most every TAPE_MIN_MS (nobody reads faster, and at
  // 1,000 updates/s redrawing every frame costs the frame rate). Rows are keyed by trade id: new
  // trades are inserted at the top and old ones removed at the bottom; nothing else is touched.
  const TAPE_MIN_MS = 50;
  function renderTape() {
    const now = performance.now();
    if (now - tape.lastMergeAt >= TAPE_MIN_MS && mergeTape()) { tape.lastMergeAt = now; tape.domStale = true; }
    if (now - tape.lastStatsAt > 250) {
      tape.lastStatsAt = now;
      renderTapeStats();
    }
    if (state.tab !== 'trades' || !tape.domStale) return;
    tape.domStale = false;
    const box = $('tape');
    const sig = precision.price + '/' + precision.qty;
    if (tape.fmtSig !== sig) { tape.fmtSig = sig; tape.els = new Map(); clear(box); }
    for (const e of tape.freshEls) e.classList.remove('fresh');
    tape.freshEls = [];
    const rows = tape.rows;
    if (!rows.length) {
      clear(box);
      tape.els = new Map();
      box.appendChild(el('div', 'empty', mkt.source ? 'waiting for trades' : 'no trades: no live source for ' + state.symbol));
      return;
    }
    let cur = box.firstChild;
    while (cur && cur._key === undefined) { const n = cur.nextSibling; box.removeChild(cur); cur = n; }
    const first = tape.els.size === 0;
    for (const d of rows) {
      let e = tape.els.get(d.key);
      if (!e) {
        e = tapeRowEl(d);
        e._key = d.key;
        tape.els.set(d.key, e);
        if (!first && d.kind === 'trade') { e.classList.add('fresh'); tape.freshEls.push(e); }
      }
      if (e === cur) { cur = cur.nextSibling; continue; }
      box.insertBefore(e, cur);
    }
    while (cur) {
      const n = cur.nextSibling;
      tape.els.delete(cur._key);
      box.removeChild(cur);
      cur = n;
    }
  }

  function renderTapeStats() {
    const s = tape.stats;
    let newest = Date.now();
    if (s.length > tape.statsHead) newest = Math.max(newest, s[s.length - 1].t);
    const from = newest - 10000;
    while (tape.statsHead < s.length && s[tape.statsHead].t < from - 5000) tape.statsHead++;
    if (tape.statsHead > 50000) { tape.stats = s.slice(tape.statsHead); tape.statsHead = 0; }
    let n = 0, v = 0;
    const arr = tape.stats;
    for (let i = tape.statsHead; i < arr.length; i++) if (arr[i].t >= from) { n++; v += arr[i].q; }
    setText($('tpsRate'), (n / 10).toFixed(1));
    setText($('tpsVol'), fmtCompact(v / 10));
  }

  // ------------------------------------------------------------------------------ workflows

  const wf = {
    map: new Map(), // queue_id -> workflow
    dirty: true,
    cards: new Map(), // queue_id -> {card, sig}
    selected: '',
    filter: '',
    templates: [],
    events: [],
    eventKeys: new Set(),
    evLastTs: 0,
    evEnded: '',
    evAbort: null,
    evSource: null,
    evGen: 0,
    evDirty: false,
    evRendered: 0,
    stopping: new Set(),
    cardErrors: new Map(),
  };
  const KNOWN_STATUS = new Set(['pending', 'starting', 'running', 'finished', 'failed', 'interrupted',
    'loading', 'started', 'error', 'restarting', 'stopping', 'pong']);
  const statusClass = (s) => 's-' + (KNOWN_STATUS.has(s) ? s : 'unknown');
  const TERMINAL = new Set(['finished', 'failed', 'interrupted']);

  function onQueuesMessage(m) {
    if (m.type === 'workflows' && Array.isArray(m.workflows)) {
      const prev = wf.map;
      wf.map = new Map();
      for (const w of m.workflows) if (w && typeof w.queue_id === 'string') wf.map.set(w.queue_id, w);
      wf.dirty = true;
      topicsSuggestDirty = true;
      if (prev.size && [...wf.map.keys()].some((k) => !prev.has(k))) refreshSourcesSoon();
    } else if (m.type === 'workflow' && m.workflow && typeof m.workflow.queue_id === 'string') {
      const w = m.workflow;
      const old = wf.map.get(w.queue_id);
      wf.map.set(w.queue_id, w);
      wf.dirty = true;
      topicsSuggestDirty = true;
      if (!old || old.status !== w.status) refreshSourcesSoon();
      if (TERMINAL.has(w.status)) wf.stopping.delete(w.queue_id);
    } else if (m.type === 'error') {
      setText($('wfError'), 'server: ' + String(m.error));
    }
  }

  const svgNS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, text) {
    const e = document.createElementNS(svgNS, tag);
    if (attrs) for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  let svgSeq = 0;

  function trunc(s, n) { s = String(s); return s.length > n ? s.slice(0, n - 1) + '…' : s; }

  function stageGraph(w) {
    const stages = Array.isArray(w.stages) ? w.stages.filter((s) => s && typeof s.name === 'string') : [];
    const byName = new Map(stages.map((s) => [s.name, s]));
    const col = new Map();
    const depsOf = (s) => [...(Array.isArray(s.inputs) ? s.inputs : []), ...(Array.isArray(s.after) ? s.after : [])]
      .filter((d) => typeof d === 'string' && byName.has(d));
    const colOf = (s, seen) => {
      if (col.has(s.name)) return col.get(s.name);
      if (seen.has(s.name)) return 0; // a cycle: should not happen, templates are checked
      seen.add(s.name);
      let c = 0;
      for (const d of depsOf(s)) c = Math.max(c, colOf(byName.get(d), seen) + 1);
      col.set(s.name, c);
      return c;
    };
    for (const s of stages) colOf(s, new Set());
    const columns = [];
    for (const s of stages) { const c = col.get(s.name); (columns[c] = columns[c] || []).push(s); }
    const BW = 168, BH = 50, GX = 34, GY = 10, PAD = 4;
    const rows = Math.max(1, ...columns.map((c) => (c ? c.length : 0)));
    const W = PAD * 2 + columns.length * BW + Math.max(0, columns.length - 1) * GX;
    const H = PAD * 2 + rows * BH + (rows - 1) * GY;
    const root = svg('svg', { class: 'dag', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img' });
    const mid = 'arr' + (++svgSeq);
    const defs = svg('defs');
    const marker = svg('marker', { id: mid, viewBox: '0 0 8 8', refX: 7, refY: 4, markerWidth: 6, markerHeight: 6, orient: 'auto' });
    marker.appendChild(svg('path', { d: 'M0,0 L8,4 L0,8 z', class: 'arrowhead' }));
    defs.appendChild(marker);
    root.appendChild(defs);
    const pos = new Map();
    columns.forEach((c, ci) => (c || []).forEach((s, ri) => pos.set(s.name, { x: PAD + ci * (BW + GX), y: PAD + ri * (BH + GY) })));
    for (const s of stages) {
      const to = pos.get(s.name);
      const edge = (d, cls) => {
        const from = pos.get(d);
        if (!from) return;
        const x1 = from.x + BW, y1 = from.y + BH / 2, x2 = to.x, y2 = to.y + BH / 2;
        const mx = (x1 + x2) / 2;
        root.appendChild(svg('path', { d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 1},${y2}`, class: 'edge ' + cls, 'marker-end': `url(#${mid})` }));
      };
      for (const d of Array.isArray(s.inputs) ? s.inputs : []) edge(d, s.start === 'alongside' ? 'alongside' : 'input');
      for (const d of Array.isArray(s.after) ? s.after : []) edge(d, 'after');
    }
    for (const s of stages) {
      const p = pos.get(s.name);
      const g = svg('g', { class: 'stage ' + statusClass(s.status), transform: `translate(${p.x},${p.y})` });
      const title = [s.name + ' (' + String(s.service || '') + ')', 'status: ' + String(s.status),
        'attempt: ' + String(s.attempt), 'records written: ' + String(s.records_written)];
      if (s.output_topic) title.push('output: ' + String(s.output_topic));
      if (s.message) title.push('message: ' + String(s.message));
      if (s.last_event_at) title.push('last event: ' + fmtDateTimeMs(s.last_event_at * 1000) + ' UTC');
      g.appendChild(svg('title', null, title.join('\n')));
      g.appendChild(svg('rect', { width: BW, height: BH, rx: 4, class: 'box' }));
      g.appendChild(svg('rect', { width: 4, height: BH, class: 'status-bar' }));
      g.appendChild(svg('text', { x: 10, y: 14, class: 'name' }, trunc(s.name, 24)));
      g.appendChild(svg('text', { x: 10, y: 28, class: 'sub' },
        trunc(String(s.status) + ' · a' + String(s.attempt) + ' · ' + fmtCount(+s.records_written || 0) + ' rec', 30)));
      const last = s.message ? String(s.message) : (s.last_event_at ? 'event ' + fmtAge(s.last_event_at) : String(s.service || ''));
      g.appendChild(svg('text', { x: 10, y: 42, class: 'msg' }, trunc(last, 30)));
      root.appendChild(g);
    }
    return root;
  }

  function workflowCard(w) {
    const card = el('div', 'wf-card');
    card.dataset.queue = String(w.queue_id);
    const head = card.appendChild(el('div', 'wf-head'));
    head.appendChild(el('span', 'badge ' + statusClass(w.status), String(w.status)));
    head.appendChild(el('span', 'wf-id mono', String(w.queue_id)));
    head.appendChild(el('span', 'muted', String(w.template || '')));
    const params = w.params && typeof w.params === 'object' ? w.params : {};
    if (params.symbol) head.appendChild(el('span', 'wf-sym', String(params.symbol)));
    head.appendChild(el('span', 'muted', fmtAge(w.created_at)));
    const running = !TERMINAL.has(w.status);
    if (running) {
      const stopping = w.stop_requested === true || wf.stopping.has(w.queue_id);
      const btn = head.appendChild(el('button', 'stop', stopping ? 'stopping…' : 'Stop'));
      btn.type = 'button';
      btn.disabled = stopping;
      btn.addEventListener('click', (ev) => { ev.stopPropagation(); stopWorkflow(w.queue_id); });
    }
    if (w.message) card.appendChild(el('div', 'wf-msg', String(w.message)));
    const cerr = wf.cardErrors.get(w.queue_id);
    if (cerr) card.appendChild(el('div', 'err', cerr));
    const g = card.appendChild(el('div', 'wf-dag'));
    g.appendChild(stageGraph(w));
    card.addEventListener('click', () => selectWorkflow(w.queue_id));
    return card;
  }

  function renderWorkflows() {
    if (!wf.dirty || state.tab !== 'workflows') return;
    wf.dirty = false;
    const list = $('wfList');
    const all = [...wf.map.values()].sort((a, b) => (b.created_at || 0) - (a.created_at || 0));
    const shown = all.filter((w) => !wf.filter || w.status === wf.filter).slice(0, 200);
    setText($('wfCount'), shown.length + ' of ' + all.length);
    const want = [];
    for (const w of shown) {
      const sig = JSON.stringify(w) + '|' + wf.stopping.has(w.queue_id) + '|' + (wf.cardErrors.get(w.queue_id) || '') + '|' + Math.floor(Date.now() / 60000);
      let c = wf.cards.get(w.queue_id);
      if (!c || c.sig !== sig) {
        c = { card: workflowCard(w), sig };
        wf.cards.set(w.queue_id, c);
      }
      c.card.classList.toggle('selected', w.queue_id === wf.selected);
      want.push(c.card);
    }
    for (const id of [...wf.cards.keys()]) if (!wf.map.has(id)) wf.cards.delete(id);
    // reconcile children in order
    let i = 0;
    for (const c of want) {
      const at = list.children[i];
      if (at !== c) list.insertBefore(c, at || null);
      i++;
    }
    while (list.children.length > want.length) list.removeChild(list.lastChild);
    if (!want.length) list.appendChild(el('div', 'empty', all.length ? 'no workflow with this status' : 'no workflows yet: start one from a template'));
  }

  async function stopWorkflow(id) {
    wf.stopping.add(id);
    wf.cardErrors.delete(id);
    wf.dirty = true;
    try {
      await api('/queues/' + encodeURIComponent(id) + '/stop', { method: 'POST' });
    } catch (e) {
      wf.stopping.delete(id);
      wf.cardErrors.set(id, 'stop failed: ' + errMessage(e));
    }
    wf.dirty = true;
  }

  // Telemetry of the selected workflow: the stored events, then live (SSE).
  function selectWorkflow(id) {
    if (wf.selected === id && (wf.evAbort || wf.evSource)) return;
    stopFollow();
    wf.selected = id;
    wf.events = [];
    wf.eventKeys = new Set();
    wf.evLastTs = 0;
    wf.evEnded = '';
    wf.evRendered = 0;
    wf.evDirty = true;
    wf.dirty = true;
    clear($('evList'));
    setText($('evQueue'), id);
    writeUrl();
    const gen = ++wf.evGen;
    setEvState('loading');
    api('/queues/' + encodeURIComponent(id) + '/events').then((events) => {
      if (gen !== wf.evGen) return;
      if (Array.isArray(events)) for (const e of events) addEvent(e);
      const w = wf.map.get(id);
      if (w && TERMINAL.has(w.status)) { wf.evEnded = w.status; setEvState('ended: ' + w.status); return; }
      follow(id, gen, 0);
    }).catch((e) => {
      if (gen !== wf.evGen) return;
      setEvState('error');
      if (e.status === 404) addNote('no such workflow (404)');
      else { addNote(errMessage(e)); if (e.status !== 401) report('events', e); }
    });
  }

  function stopFollow() {
    wf.evGen++;
    if (wf.evAbort) { wf.evAbort.abort(); wf.evAbort = null; }
    if (wf.evSource) { wf.evSource.close(); wf.evSource = null; }
  }

  function setEvState(s) {
    const e = $('evState');
    setText(e, s);
    e.className = 'badge ' + (s === 'live' ? 's-running' : s.startsWith('ended') ? 's-finished' : s === 'error' ? 's-failed' : 's-pending');
  }

  function addNote(text) {
    wf.events.push({ note: text });
    wf.evDirty = true;
  }

  function addEvent(e) {
    if (!e || typeof e !== 'object') return;
    const key = [e.producer, e.timestamp, e.status, e.records_written, e.message].join('|');
    if (wf.eventKeys.has(key)) return;
    wf.eventKeys.add(key);
    wf.events.push(e);
    if (Number.isFinite(e.timestamp) && e.timestamp > wf.evLastTs) wf.evLastTs = e.timestamp;
    if (wf.events.length > 3000) { wf.events.splice(0, 1000); wf.evRendered = 0; clear($('evList')); }
    wf.evDirty = true;
  }

  function followUrl(id) {
    const q = { follow: 1 };
    if (wf.evLastTs > 0) q.after = (wf.evLastTs - 0.001).toFixed(6); // dedupe drops the repeats
    return '/queues/' + encodeURIComponent(id) + '/events?' + qs(q);
  }

  function follow(id, gen, attempt) {
    if (gen !== wf.evGen || wf.evEnded) return;
    const retry = () => {
      if (gen !== wf.evGen || wf.evEnded) return;
      setEvState('reconnecting');
      const d = Math.min(10000, 500 * Math.pow(2, attempt)) * (0.8 + 0.2 * Math.random());
      setTimeout(() => follow(id, gen, Math.min(attempt + 1, 10)), d);
    };
    const onData = (event, data) => {
      if (gen !== wf.evGen) return;
      if (event === 'telemetry') {
        try { addEvent(JSON.parse(data)); } catch (e) { report('event data', e); }
      } else if (event === 'end') {
        let st = 'ended';
        try { st = String(JSON.parse(data).status || 'ended'); } catch (e) { /* keep */ }
        wf.evEnded = st;
        setEvState('ended: ' + st);
        stopFollowOnly();
      } else if (event === 'error') {
        let msg = data;
        try { msg = String(JSON.parse(data).error); } catch (e) { /* raw */ }
        addNote('stream: ' + msg);
      }
    };
    if (!auth.token && typeof EventSource === 'function') {
      const es = new EventSource(followUrl(id));
      wf.evSource = es;
      es.onopen = () => { if (gen === wf.evGen) { attempt = 0; setEvState('live'); } };
      es.addEventListener('telemetry', (e) => onData('telemetry', e.data));
      es.addEventListener('end', (e) => onData('end', e.data));
      es.addEventListener('error', (e) => {
        if (gen !== wf.evGen) { es.close(); return; }
        if (typeof e.data === 'string') onData('error', e.data); // the server's own error event
        es.close();
        if (wf.evSource === es) wf.evSource = null;
        retry();
      });
      return;
    }
    const ctl = new AbortController();
    wf.evAbort = ctl;
    (async () => {
      const res = await fetch(followUrl(id), {
        headers: authHeaders({ Accept: 'text/event-stream' }), signal: ctl.signal, cache: 'no-store',
      });
      if (res.status === 401) { needAuth('401 on the event stream'); throw new ApiError(401, null); }
      if (!res.ok || !res.body) throw new ApiError(res.status, await res.text().catch(() => ''));
      if (gen === wf.evGen) { attempt = 0; setEvState('live'); }
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        let idx;
        while ((idx = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, idx);
          buf = buf.slice(idx + 2);
          let event = 'message';
          const data = [];
          for (const line of block.split('\n')) {
            if (!line || line[0] === ':') continue;
            const c = line.indexOf(':');
            const field = c < 0 ? line : line.slice(0, c);
            let v = c < 0 ? '' : line.slice(c + 1);
            if (v[0] === ' ') v = v.slice(1);
            if (field === 'event') event = v;
            else if (field === 'data') data.push(v);
          }
          if (data.length) onData(event, data.join('\n'));
        }
      }
    })().then(() => {
      if (wf.evAbort === ctl) wf.evAbort = null;
      retry(); // ended without `end`: the connection dropped
    }, (e) => {
      if (wf.evAbort === ctl) wf.evAbort = null;
      if (ctl.signal.aborted) return;
      if (e && e.status === 401) { setEvState('error'); return; }
      if (e && e.status === 404) { setEvState('error'); addNote('no such workflow (404)'); return; }
      retry();
    });
  }

  function stopFollowOnly() {
    if (wf.evAbort) { const a = wf.evAbort; wf.evAbort = null; a.abort(); }
    if (wf.evSource) { wf.evSource.close(); wf.evSource = null; }
  }

  function renderEvents() {
    if (!wf.evDirty || state.tab !== 'workflows') return;
    wf.evDirty = false;
    const box = $('evList');
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 24;
    if (wf.evRendered === 0) clear(box);
    const frag = document.createDocumentFragment();
    for (let i = wf.evRendered; i < wf.events.length; i++) {
      const e = wf.events[i];
      if (e.note) { frag.appendChild(el('div', 'ev-row note', e.note)); continue; }
      const row = el('div', 'ev-row ' + statusClass(e.status));
      const ts = el('span', 'mono', fmtDateTimeMs(e.timestamp * 1000).slice(5));
      ts.title = fmtDateTimeMs(e.timestamp * 1000) + ' UTC';
      row.appendChild(ts);
      row.appendChild(el('span', 'mono prod', String(e.producer === undefined ? '' : e.producer)));
      row.appendChild(el('span', 'st', String(e.status === undefined ? '' : e.status)));
      row.appendChild(el('span', 'num', e.records_written === undefined ? '' : String(e.records_written)));
      row.appendChild(el('span', 'msg', String(e.message === undefined ? '' : e.message)));
      frag.appendChild(row);
    }
    wf.evRendered = wf.events.length;
    box.appendChild(frag);
    if (!wf.events.length) {
      if (!box.firstChild) box.appendChild(el('div', 'empty', wf.selected ? 'no events yet' : 'Select a workflow to see its telemetry.'));
    } else {
      const empty = box.querySelector('.empty');
      if (empty) box.removeChild(empty);
    }
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  // Start form: templates from GET /workflows; parameters as names, or {name: {required, default,
  // help}} maps, or [{name, ...}] lists (whichever the server sends).
  const TOP_LEVEL = new Set(['symbol', 'from', 'to', 'interval']);

  function normParams(p) {
    if (Array.isArray(p)) {
      return p.map((x) => (typeof x === 'string' ? { name: x }
        : x && typeof x === 'object' && typeof x.name === 'string'
          ? { name: x.name, required: x.required === true, def: x.default, help: x.help } : null)).filter(Boolean);
    }
    if (p && typeof p === 'object') {
      return Object.entries(p).map(([k, v]) => (v && typeof v === 'object'
        ? { name: k, required: v.required === true, def: v.default, help: v.help } : { name: k, def: v }));
    }
    return [];
  }

  async function loadTemplates() {
    try {
      const res = await api('/workflows');
      const list = Array.isArray(res) ? res : res && Array.isArray(res.templates) ? res.templates : res && Array.isArray(res.workflows) ? res.workflows : [];
      wf.templates = list.filter((t) => t && typeof t.name === 'string');
    } catch (e) {
      if (e.status !== 401) report('templates', e);
      wf.templates = [];
    }
    const sel = $('tplSelect');
    clear(sel);
    for (const t of wf.templates) {
      const o = el('option', null, t.name);
      o.value = t.name;
      sel.appendChild(o);
    }
    if (wf.templates.some((t) => t.name === 'realtime-monitor')) sel.value = 'realtime-monitor';
    renderTemplateForm();
  }

  function renderTemplateForm() {
    const t = wf.templates.find((x) => x.name === $('tplSelect').value);
    const box = $('tplParams');
    clear(box);
    clear($('startErrors'));
    setText($('startMsg'), '');
    setText($('tplDesc'), t ? String(t.description || '') : (wf.templates.length ? '' : 'no templates'));
    $('startBtn').disabled = !t;
    if (!t) return;
    for (const p of normParams(Array.isArray(t.parameter_specs) ? t.parameter_specs : t.parameters)) {
      const lab = box.appendChild(el('label', 'field'));
      lab.appendChild(el('span', null, p.name + (p.required ? ' *' : '')));
      const inp = lab.appendChild(el('input'));
      inp.name = p.name;
      inp.dataset.param = p.name;
      inp.spellcheck = false;
      if (p.required) inp.required = true;
      const help = p.help ? String(p.help) : '';
      const def = p.def !== undefined && p.def !== null ? String(p.def) : '';
      inp.placeholder = def ? 'default ' + def : help || (p.name === 'from' || p.name === 'to' ? 'YYYY-MM-DD' : '');
      if (help) inp.title = help;
      if (p.name === 'symbol') inp.value = state.symbol;
      lab.appendChild(el('span', 'ferr'));
    }
  }

  async function submitStart(ev) {
    ev.preventDefault();
    const name = $('tplSelect').value;
    if (!name) return;
    const body = { template: name };
    const params = {};
    for (const inp of $('tplParams').querySelectorAll('input[data-param]')) {
      const v = inp.value.trim();
      const k = inp.dataset.param;
      if (!v) continue;
      if (TOP_LEVEL.has(k)) body[k] = k === 'symbol' ? v.toUpperCase() : v;
      else params[k] = v;
    }
    if (Object.keys(params).length) body.params = params;
    for (const f of $('tplParams').querySelectorAll('.ferr')) setText(f, '');
    clear($('startErrors'));
    setText($('startMsg'), 'starting…');
    $('startBtn').disabled = true;
    try {
      const w = await api('/queues', { method: 'POST', json: body });
      const id = w && typeof w.queue_id === 'string' ? w.queue_id : '';
      setText($('startMsg'), 'started ' + id);
      if (w && id) { wf.map.set(id, w); wf.dirty = true; selectWorkflow(id); }
      refreshSourcesSoon();
    } catch (e) {
      setText($('startMsg'), '');
      const list = $('startErrors');
      const b = e.body;
      if (e.status === 401) list.appendChild(el('li', null, 'not authorised (401): enter a token above'));
      else if (e.status === 403) list.appendChild(el('li', null, 'forbidden (403): ' + (b && b.error ? b.error : 'this token lacks the operate scope')));
      else if (b && typeof b === 'object') {
        list.appendChild(el('li', null, 'HTTP ' + e.status + ': ' + String(b.error || 'error')));
        if (b.fields && typeof b.fields === 'object') {
          for (const [k, v] of Object.entries(b.fields)) {
            const pname = k.startsWith('params.') ? k.slice(7) : k;
            const inp = [...$('tplParams').querySelectorAll('input[data-param]')].find((x) => x.dataset.param === pname);
            if (inp) setText(inp.parentElement.querySelector('.ferr'), String(v));
            else list.appendChild(el('li', null, k + ': ' + String(v)));
          }
        }
      } else list.appendChild(el('li', null, errMessage(e)));
    } finally {
      $('startBtn').disabled = false;
    }
  }

  // ------------------------------------------------------------------------------ topic inspector

  const tp = {
    topic: '', type: '', symbol: '',
    paused: false,
    rows: [], // {kind, ...} oldest first, at most TOPIC_ROWS
    seq: 0,
    renderedSeq: 0,
    cleared: false,
    received: 0,
    dropped: 0,
  };
  let topicsSuggestDirty = true;
  const rowData = new WeakMap();

  function onTopicsMessage(m) {
    switch (m.type) {
      case 'record':
        if (m.topic !== tp.topic) return;
        tp.received++;
        pushTopicRow({ kind: 'record', m });
        break;
      case 'dropped':
        tp.dropped += Number.isFinite(m.count) ? m.count : 0;
        pushTopicRow({ kind: 'dropped', text: 'dropped ' + String(m.count) + ' (this page read too slowly)' });
        break;
      case 'subscribed':
        setTopicStatus('watching ' + String(m.topic));
        break;
      case 'unsubscribed':
        break;
      case 'error':
        setTopicStatus('server: ' + String(m.error), true);
        break;
      default:
        break;
    }
  }

  function pushTopicRow(r) {
    r.seq = ++tp.seq;
    tp.rows.push(r);
    if (tp.rows.length > TOPIC_ROWS * 2) tp.rows.splice(0, tp.rows.length - TOPIC_ROWS);
  }

  function setTopicStatus(text, isErr) {
    const s = $('topicStatus');
    setText(s, text);
    s.className = isErr ? 'err' : 'muted';
  }

  function watchTopic(ev) {
    if (ev) ev.preventDefault();
    const topic = $('topicInput').value.trim();
    const type = $('topicType').value;
    const symbol = $('topicSymbol').value.trim().toUpperCase();
    if (!topic) { setTopicStatus('enter a topic name', true); return; }
    if (!TOPIC_RE.test(topic)) { setTopicStatus('a topic name is [A-Za-z0-9._-], 1..249 characters', true); return; }
    if (symbol && !SYMBOL_RE.test(symbol)) { setTopicStatus('bad symbol filter', true); return; }
    const ts = sockets.topics;
    if (tp.topic && tp.topic !== topic) ts.dropSub('topic', { unsubscribe: tp.topic });
    if (tp.topic !== topic) clearTopicRows();
    tp.topic = topic; tp.type = type; tp.symbol = symbol;
    const msg = { subscribe: topic };
    if (type) msg.type = type;
    if (symbol) msg.symbol = symbol;
    ts.setSub('topic', msg);
    setTopicStatus(ts.connected ? 'subscribing…' : 'waiting for /ws/topics');
    writeUrl();
  }

  function clearTopicRows() {
    tp.rows = [];
    tp.renderedSeq = tp.seq;
    tp.cleared = true;
  }

  function topicRowEl(r) {
    if (r.kind !== 'record') return el('div', 'topic-row marker', r.text);
    const m = r.m;
    const row = el('div', 'topic-row');
    row.appendChild(el('span', 'mono t', Number.isFinite(m.timestamp_ms) ? fmtDateTimeMs(m.timestamp_ms) + '.' + pad(m.timestamp_ms % 1000, 3) : '—'));
    row.appendChild(el('span', 'mono', String(m.partition) + ':' + String(m.offset)));
    row.appendChild(el('span', 'mono key', m.key === undefined || m.key === null ? '' : String(m.key)));
    const v = typeof m.value === 'string' ? m.value : JSON.stringify(m.value);
    row.appendChild(el('span', 'mono val', v));
    rowData.set(row, v);
    return row;
  }

  function toggleTopicRow(ev) {
    const row = ev.target.closest('.topic-row');
    if (!row || !rowData.has(row)) return;
    const next = row.nextSibling;
    if (next && next.classList && next.classList.contains('topic-pretty')) { next.remove(); return; }
    const raw = rowData.get(row);
    let text = raw;
    try { text = JSON.stringify(JSON.parse(raw), null, 2); } catch (e) { /* not JSON: shown as it is */ }
    row.after(el('pre', 'topic-pretty', text));
  }

  function renderTopics() {
    if (state.tab !== 'topics') return;
    const box = $('topicRows');
    if (tp.cleared) { clear(box); tp.cleared = false; }
    const pendingNew = tp.seq - tp.renderedSeq;
    setText($('topicPause'), tp.paused ? 'Resume' + (pendingNew > 0 ? ' (' + Math.min(pendingNew, TOPIC_ROWS) + ' new)' : '') : 'Pause');
    if (tp.paused || pendingNew <= 0) return;
    // newest first: prepend what came since the last frame (at most the newest TOPIC_ROWS)
    const fresh = [];
    for (let i = tp.rows.length - 1; i >= 0 && tp.rows[i].seq > tp.renderedSeq && fresh.length < TOPIC_ROWS; i--) fresh.push(tp.rows[i]);
    tp.renderedSeq = tp.seq;
    if (fresh.length >= TOPIC_ROWS) clear(box);
    const frag = document.createDocumentFragment();
    for (const r of fresh) frag.appendChild(topicRowEl(r));
    const empty = box.querySelector('.empty');
    if (empty) empty.remove();
    box.insertBefore(frag, box.firstChild);
    let n = 0;
    for (let c = box.firstChild; c;) {
      const next = c.nextSibling;
      if (c.classList.contains('topic-pretty')) { if (n >= TOPIC_ROWS) c.remove(); } else if (++n > TOPIC_ROWS) c.remove();
      c = next;
    }
    if (tp.rows.length > TOPIC_ROWS) tp.rows.splice(0, tp.rows.length - TOPIC_ROWS);
  }

  let lastSuggest = 0;
  function renderTopicSuggestions() {
    if (!topicsSuggestDirty) return;
    const now = performance.now();
    if (now - lastSuggest < 1000) return;
    lastSuggest = now;
    topicsSuggestDirty = false;
    const names = new Set();
    for (const s of mkt.sources) if (s && s.topics && typeof s.topics === 'object') for (const v of Object.values(s.topics)) if (typeof v === 'string' && v) names.add(v);
    for (const w of wf.map.values()) for (const s of Array.isArray(w.stages) ? w.stages : []) if (s && typeof s.output_topic === 'string' && s.output_topic) names.add(s.output_topic);
    const dl = $('topicList');
    clear(dl);
    for (const n of [...names].sort()) {
      const o = document.createElement('option');
      o.value = n;
      dl.appendChild(o);
    }
  }

  // ------------------------------------------------------------------------------ models

  // The Models tab: trained model versions (GET /api/v1/models: gnn-trainer's metrics.json,
  // docs/gnn.md "Output") with the model against its baselines, and the stored graphs
  // (GET /api/v1/graphs; the snapshot of an `assets` graph drawn as a circle). Loaded when the tab
  // is shown (at most every MODELS_REFRESH_MS) and on Refresh; drawn when data arrives, not per
  // frame. Under the selected model: gnn-infer's stored predictions over time against what then
  // happened (GET /api/v1/models/{name}/predictions).

  const MODELS_REFRESH_MS = 15000;
  // [key, label, direction]: 1 = higher is better, -1 = lower is better, 0 = not compared
  const CLS_METRICS = [['n', 'n', 0], ['accuracy', 'accuracy', 1], ['balanced_accuracy', 'balanced acc.', 1],
    ['macro_f1', 'macro F1', 1], ['roc_auc_ovr', 'ROC-AUC (OvR)', 1]];
  const REG_METRICS = [['n', 'n', 0], ['rmse', 'RMSE', -1], ['mae', 'MAE', -1], ['r2', 'R²', 1]];
  const VERDICT_METRICS = { cls: ['macro_f1', 'balanced_accuracy'], reg: ['rmse', 'mae', 'r2'] };
  const LONG_LABELS = { balanced_accuracy: 'balanced accuracy', roc_auc_ovr: 'ROC-AUC' };
  const BASELINE_ORDER = ['majority', 'train_mean', 'persistence', 'logistic_regression', 'linear_regression'];
  const DIRECTION_NAMES = ['DOWN', 'FLAT', 'UP'];
  const DIRECTION_CLASS = { 0: 'd-down', 1: 'd-flat', 2: 'd-up' };
  const CURVE_COLORS = { loss: '#e5c07b', val: '#61afef', best: '#f0b90b' };

  const mdl = {
    list: [], // entries as served: {name, version, metrics} | {name, version, error}
    rendered: [], // [{name, version, task, verdict}] as last rendered (test hook)
    rows: new Map(), // key -> row element
    selected: '', // 'name/version'
    loading: false,
    loadedAt: 0,
    gen: 0,
    chart: null,
    lossSeries: null,
    valSeries: null,
    markers: null,
    graphs: [],
    graph: '', // the assets graph drawn
    graphTime: null, // requested snapshot time (unix us), null = the newest
    snap: null, // {name, kind, time, nodes, edges} as last drawn (test hook)
    snapGen: 0,
    listError: '',
    graphsError: '',
    listSig: null,
    graphsSig: null,
    pred: null, // {model, task, count, scored, hits, mae} as last drawn (test hook)
    predChart: null,
    predSeries: [],
    predMarkers: null,
    predGen: 0,
  };

  const modelKey = (m) => String(m.name) + '/' + String(m.version);
  const finite = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const isObj = (v) => !!v && typeof v === 'object' && !Array.isArray(v);

  function modelKind(metrics) {
    if (!isObj(metrics)) return null;
    if (metrics.task === 'direction') return 'cls';
    if (metrics.task === 'volatility') return 'reg';
    const m = isObj(metrics.test) && isObj(metrics.test.model) ? metrics.test.model : null;
    if (m && 'macro_f1' in m) return 'cls';
    if (m && 'rmse' in m) return 'reg';
    return null;
  }

  function fmtMetric(key, v) {
    v = finite(v);
    if (v === null) return '—';
    if (key === 'n') return String(Math.round(v));
    const a = Math.abs(v);
    if (a >= 1) return v.toFixed(3);
    if (a >= 0.01 || a === 0) return v.toFixed(4);
    return String(Number(v.toPrecision(3))); // small errors (volatility RMSE): 3 significant digits

  }

  function metricDefs(kind) { return kind === 'reg' ? REG_METRICS : CLS_METRICS; }
  function metricLabel(kind, key) { const d = metricDefs(kind).find((x) => x[0] === key); return d ? d[1] : key; }
  function metricDir(kind, key) { const d = metricDefs(kind).find((x) => x[0] === key); return d ? d[2] : 0; }

  // [[key, entry]]: the model first, then the known baselines in their order, then anything else.
  function splitEntries(split) {
    if (!isObj(split)) return [];
    const out = [];
    if (isObj(split.model)) out.push(['model', split.model]);
    for (const k of BASELINE_ORDER) if (isObj(split[k])) out.push([k, split[k]]);
    for (const k of Object.keys(split).sort()) {
      if (k !== 'model' && !BASELINE_ORDER.includes(k) && isObj(split[k])) out.push([k, split[k]]);
    }
    return out;
  }

  function joinAnd(a) { return a.length <= 1 ? a.join('') : a.slice(0, -1).join(', ') + ' and ' + a[a.length - 1]; }

  // The model against every baseline on the task's key metrics (strictly better = beats; a
  // baseline without a value for the metric is left out). {text, cls: good | mixed | bad | none}
  function verdictFor(split, kind) {
    if (!kind) return { text: 'unknown task: nothing to compare', cls: 'none' };
    if (!isObj(split) || !isObj(split.model)) return { text: 'no metrics for the model', cls: 'none' };
    const bases = splitEntries(split).filter(([k]) => k !== 'model');
    if (!bases.length) return { text: 'no baselines to compare with', cls: 'none' };
    const beats = [], fails = [], missing = [];
    for (const key of VERDICT_METRICS[kind]) {
      const label = LONG_LABELS[key] || metricLabel(kind, key);
      const dir = metricDir(kind, key);
      const mv = finite(split.model[key]);
      if (mv === null) { missing.push(label); continue; }
      const lost = [];
      let compared = 0;
      for (const [bk, b] of bases) {
        const bv = finite(b[key]);
        if (bv === null) continue;
        compared++;
        if (!(dir > 0 ? mv > bv : mv < bv)) lost.push(bk + ' (' + fmtMetric(key, bv) + ')');
      }
      if (!compared) missing.push(label);
      else if (lost.length) fails.push('does not beat ' + joinAnd(lost) + ' on ' + label + ' (model ' + fmtMetric(key, mv) + ')');
      else beats.push(label);
    }
    const parts = [];
    if (beats.length) parts.push('beats every baseline on ' + joinAnd(beats));
    parts.push(...fails);
    if (missing.length) parts.push('no values to compare on ' + joinAnd(missing));
    const cls = !fails.length && beats.length ? 'good' : beats.length ? 'mixed' : fails.length ? 'bad' : 'none';
    return { text: parts.join('; '), cls };
  }

  function fmtDateUs(us) {
    const ms = finite(us) === null ? NaN : us / 1000;
    if (!Number.isFinite(ms) || ms <= 0) return '—';
    return fmtDateTimeMs(ms).slice(0, 16);
  }

  // ---- list

  async function loadModelsTab() {
    if (mdl.loading) return;
    mdl.loading = true;
    mdl.loadedAt = Date.now();
    const gen = ++mdl.gen;
    setText($('modelsCount'), 'loading…');
    // an unchanged answer (the periodic refresh) is not re-rendered: selection and scroll stay
    const modelsP = api('/api/v1/models').then((res) => {
      if (gen !== mdl.gen) return false;
      const list = res && Array.isArray(res.models) ? res.models.filter((m) => isObj(m) && m.name !== undefined) : [];
      const sig = JSON.stringify(list);
      if (sig === mdl.listSig && !mdl.listError) return false;
      mdl.listSig = sig;
      mdl.list = list;
      mdl.listError = '';
      return true;
    }, (e) => {
      if (gen !== mdl.gen) return false;
      mdl.list = [];
      mdl.listSig = '';
      mdl.listError = errMessage(e);
      if (e.status !== 401) report('models', e);
      return true;
    }).then((changed) => { if (changed && gen === mdl.gen) renderModelsList(); });
    const graphsP = api('/api/v1/graphs').then((res) => {
      if (gen !== mdl.gen) return false;
      const list = res && Array.isArray(res.graphs) ? res.graphs.filter((g) => isObj(g) && typeof g.name === 'string') : [];
      const sig = JSON.stringify(list);
      if (sig === mdl.graphsSig && !mdl.graphsError) return false;
      mdl.graphsSig = sig;
      mdl.graphs = list;
      mdl.graphsError = '';
      return true;
    }, (e) => {
      if (gen !== mdl.gen) return false;
      mdl.graphs = [];
      mdl.graphsSig = '';
      mdl.graphsError = errMessage(e);
      if (e.status !== 401) report('graphs', e);
      return true;
    }).then((changed) => { if (changed && gen === mdl.gen) renderGraphsList(); });
    try {
      await Promise.all([modelsP, graphsP]);
    } catch (e) {
      report('models view', e);
    } finally {
      if (gen === mdl.gen) mdl.loading = false;
    }
  }

  function modelsOnShow() {
    if (!mdl.loading && !auth.blocked && Date.now() - mdl.loadedAt > MODELS_REFRESH_MS) loadModelsTab();
  }

  // A render-loop entry: while the tab is visible, the lists are re-read every MODELS_AUTO_MS (a
  // training run finishing shows up without a click).
  const MODELS_AUTO_MS = 30000;
  function renderModelsTick() {
    if (state.tab !== 'models' || mdl.loading || auth.blocked) return;
    if (Date.now() - mdl.loadedAt > MODELS_AUTO_MS) loadModelsTab();
  }

  function renderModelsList() {
    const box = $('modelsList');
    clear(box);
    mdl.rows = new Map();
    mdl.rendered = [];
    const list = mdl.list;
    if (mdl.listError) {
      setText($('modelsCount'), '');
      box.appendChild(el('div', 'empty err', 'could not list the models: ' + mdl.listError));
    } else if (!list.length) {
      setText($('modelsCount'), '0 versions');
      const e = box.appendChild(el('div', 'empty'));
      e.appendChild(el('div', null, 'No model trained yet.'));
      e.appendChild(el('div', 'muted', 'Train one with the historical-gnn workflow: start it from the Workflows tab ' +
        '(template historical-gnn), or run `bash scripts/run.sh` (builds, then runs it in the embedded platform). ' +
        'gnn-trainer writes MODEL_DIR/<name>/v<N>/metrics.json, listed here.'));
    } else {
      setText($('modelsCount'), list.length + (list.length === 1 ? ' version' : ' versions'));
    }
    for (const m of list) {
      const key = modelKey(m);
      const row = el('div', 'model-row');
      row.tabIndex = 0;
      row.dataset.key = key;
      row.appendChild(el('span', 'mono name', String(m.name))).title = String(m.name);
      row.appendChild(el('span', 'mono', String(m.version)));
      if (!isObj(m.metrics)) {
        const err = m.error !== undefined ? String(m.error) : 'no metrics';
        row.classList.add('error');
        row.appendChild(el('span', 'merr', 'error: ' + err)).title = err;
        mdl.rendered.push({ name: String(m.name), version: String(m.version), task: null, verdict: null, error: err });
      } else {
        const mt = m.metrics;
        const kind = modelKind(mt);
        const v = verdictFor(mt.test, kind);
        const task = typeof mt.task === 'string' ? mt.task : null;
        row.appendChild(el('span', null, task || '?'));
        row.appendChild(el('span', null, typeof mt.model_type === 'string' ? mt.model_type : '?'));
        row.appendChild(el('span', null, isObj(mt.graph) && typeof mt.graph.kind === 'string' ? mt.graph.kind : '?'));
        const when = isObj(mt.split) && isObj(mt.split.test) ? mt.split.test.end_us : null;
        const w = row.appendChild(el('span', 'mono muted', fmtDateUs(when).slice(0, 10)));
        w.title = 'test split ends ' + fmtDateUs(when) + ' UTC';
        const short = { good: 'beats all', mixed: 'partly', bad: 'loses', none: '—' }[v.cls];
        row.appendChild(el('span', 'vb ' + v.cls, short)).title = 'test: ' + v.text;
        mdl.rendered.push({ name: String(m.name), version: String(m.version), task, verdict: v.text });
      }
      row.addEventListener('click', () => selectModel(key));
      row.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); selectModel(key); } });
      mdl.rows.set(key, row);
      box.appendChild(row);
    }
    if (!list.some((m) => modelKey(m) === mdl.selected)) {
      const first = list.find((m) => isObj(m.metrics)) || list[0];
      mdl.selected = first ? modelKey(first) : '';
    }
    for (const [k, r] of mdl.rows) r.classList.toggle('selected', k === mdl.selected);
    renderModelDetail();
    if (state.tab === 'models') writeUrl();
  }

  function selectModel(key) {
    mdl.selected = key;
    for (const [k, r] of mdl.rows) r.classList.toggle('selected', k === key);
    renderModelDetail();
    writeUrl();
  }

  // ---- detail

  function renderModelDetail() {
    const m = mdl.list.find((x) => modelKey(x) === mdl.selected) || null;
    const verdict = $('modelVerdict');
    for (const id of ['modelTest', 'modelValidation', 'modelConfusion', 'modelCurveLegend']) clear($(id));
    setText($('modelTitle'), m ? modelKey(m) : '');
    setText($('modelInfo'), '');
    $('modelDetail').classList.toggle('nomodel', !m || !isObj(m.metrics));
    if (!m || !isObj(m.metrics)) {
      verdict.className = 'verdict ' + (m ? 'bad' : 'none');
      setText(verdict, m ? 'metrics unavailable: ' + String(m.error !== undefined ? m.error : 'no metrics') : (mdl.list.length ? 'select a model version' : 'no model to show'));
      setCurve(null, null);
      return;
    }
    const mt = m.metrics;
    const kind = modelKind(mt);
    const info = [];
    if (typeof mt.model_type === 'string') info.push(mt.model_type);
    if (typeof mt.task === 'string') info.push(mt.task);
    if (isObj(mt.graph)) {
      info.push(String(mt.graph.kind || '?') + ' graph ' + fmtCount(finite(mt.graph.nodes)) + ' nodes / ' +
        fmtCount(finite(mt.graph.edges)) + ' edges / ' + String(finite(mt.graph.features) ?? '?') + ' features');
    }
    if (finite(mt.best_epoch) !== null) {
      info.push('best epoch ' + mt.best_epoch + ' of ' + String(finite(mt.epochs_run) ?? '?') + (mt.stopped_early === true ? ' (stopped early)' : ''));
    }
    if (isObj(mt.config) && finite(mt.config.parameters) !== null) info.push(fmtCount(mt.config.parameters) + ' parameters');
    setText($('modelInfo'), info.join(' · '));
    $('modelInfo').title = info.join('\n');
    const v = verdictFor(mt.test, kind);
    let text = 'Test: ' + v.text;
    if (isObj(mt.config) && mt.config.shuffle_train_labels === true) text += '  (sanity run: train labels shuffled)';
    verdict.className = 'verdict ' + v.cls;
    setText(verdict, text);
    const split = isObj(mt.split) ? mt.split : {};
    metricsBlock($('modelTest'), 'Test', mt.test, kind, split.test, null);
    metricsBlock($('modelValidation'), 'Validation', mt.validation, kind, split.validation, verdictFor(mt.validation, kind));
    confusionBlock($('modelConfusion'), kind, isObj(mt.test) && isObj(mt.test.model) ? mt.test.model.confusion : null);
    setCurve(mt, kind);
    loadPredictions(String(m.name));
  }

  // ---- predictions: gnn-infer's probabilities (or predicted volatility) over time, and what the
  // next candle(s) then did; a marker per scored prediction, green where the argmax was right

  const PRED_COLORS = { up: '#26a69a', down: '#ef5350', flat: '#8a94a6', vol: '#61afef', actual: '#e5c07b' };

  function ensurePredChart() {
    if (mdl.predChart) return true;
    if (!LC || typeof LC.createChart !== 'function') return false;
    mdl.predChart = LC.createChart($('modelPred'), {
      autoSize: true,
      layout: { background: { type: LC.ColorType.Solid, color: '#0b0e13' }, textColor: COLORS.text, fontSize: 10, attributionLogo: false },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      rightPriceScale: { borderColor: COLORS.border },
      timeScale: { borderColor: COLORS.border, timeVisible: true, secondsVisible: false },
      crosshair: { mode: LC.CrosshairMode.Normal },
    });
    return true;
  }

  function setPredSeries(defs) {
    for (const s of mdl.predSeries) mdl.predChart.removeSeries(s);
    mdl.predSeries = defs.map((d) => mdl.predChart.addSeries(LC.LineSeries, {
      color: d.color, lineWidth: d.width || 1, priceLineVisible: false, lastValueVisible: false,
      priceFormat: { type: 'price', precision: d.precision, minMove: Math.pow(10, -d.precision) },
    }));
    mdl.predMarkers = mdl.predSeries.length && typeof LC.createSeriesMarkers === 'function'
      ? LC.createSeriesMarkers(mdl.predSeries[0], []) : null;
  }

  function predEmpty(text) {
    if (mdl.predChart) for (const s of mdl.predSeries) s.setData([]);
    if (mdl.predMarkers) mdl.predMarkers.setMarkers([]);
    const empty = $('modelPredEmpty');
    empty.hidden = false;
    setText(empty, text);
  }

  async function loadPredictions(name) {
    const gen = ++mdl.predGen;
    const lg = $('modelPredLegend');
    clear(lg);
    lg.appendChild(el('span', 'bt', 'Predictions'));
    let res;
    try {
      res = await api('/api/v1/models/' + encodeURIComponent(name) + '/predictions?limit=2000');
    } catch (e) {
      if (gen !== mdl.predGen) return;
      mdl.pred = { model: name, task: null, count: 0, scored: 0, hits: null, mae: null, error: String(e.message || e) };
      predEmpty(e.status === 404 ? 'no such model' : 'could not load predictions: ' + String(e.message || e));
      return;
    }
    if (gen !== mdl.predGen) return;
    const points = isObj(res) && Array.isArray(res.predictions) ? res.predictions.filter((p) => isObj(p) && finite(p.time) !== null) : [];
    const task = isObj(res) && res.task === 'volatility' ? 'volatility' : 'direction';
    const scored = finite(res && res.scored) ?? 0;
    const hits = finite(res && res.hits);
    const mae = finite(res && res.mae);
    mdl.pred = { model: name, task, count: points.length, scored, hits, mae, symbol: res && res.symbol, interval: res && res.interval };
    if (!points.length) {
      lg.appendChild(el('span', 'muted', 'none stored for ' + String((res && res.symbol) || '?') + ' ' + String((res && res.interval) || '') +
        ': run gnn-infer (streamforge gnn-infer --model-name ' + name + ' --graph-name G) to score recent candles'));
      predEmpty('no predictions yet');
      return;
    }
    if (!ensurePredChart()) { predEmpty('lightweight-charts did not load'); return; }
    $('modelPredEmpty').hidden = true;
    const t = (p) => Math.floor(p.time / 1e6);
    // One point per second at most: lightweight-charts needs strictly increasing times.
    const seen = new Set();
    const pts = points.filter((p) => { const k = t(p); if (seen.has(k)) return false; seen.add(k); return true; });
    const line = (key) => pts.map((p) => (finite(p[key]) === null ? { time: t(p) } : { time: t(p), value: p[key] }));
    lg.appendChild(el('span', 'muted', String(res.symbol || '') + ' ' + String(res.interval || '')));
    if (task === 'direction') {
      setPredSeries([{ color: PRED_COLORS.up, precision: 3, width: 2 }, { color: PRED_COLORS.down, precision: 3 }, { color: PRED_COLORS.flat, precision: 3 }]);
      mdl.predSeries[0].setData(line('p_up'));
      mdl.predSeries[1].setData(line('p_down'));
      mdl.predSeries[2].setData(line('p_flat'));
      if (mdl.predMarkers) {
        mdl.predMarkers.setMarkers(pts.filter((p) => finite(p.actual) !== null && finite(p.p_up) !== null).map((p) => ({
          time: t(p),
          position: p.actual === 2 ? 'aboveBar' : p.actual === 0 ? 'belowBar' : 'inBar',
          shape: p.actual === 2 ? 'arrowUp' : p.actual === 0 ? 'arrowDown' : 'circle',
          color: p.predicted === p.actual ? PRED_COLORS.up : PRED_COLORS.down,
          size: 0.6,
        })));
      }
      lg.appendChild(el('span', 'k-up', '— P(up)'));
      lg.appendChild(el('span', 'k-down', '— P(down)'));
      lg.appendChild(el('span', 'k-flat', '— P(flat)'));
      lg.appendChild(el('span', 'muted', 'arrows: what the next candle did (green: predicted right)'));
      lg.appendChild(el('span', null, scored ? 'hit rate ' + (100 * (hits ?? 0) / scored).toFixed(1) + '% of ' + fmtCount(scored) + ' scored' : 'none scored yet'));
    } else {
      setPredSeries([{ color: PRED_COLORS.vol, precision: 5, width: 2 }, { color: PRED_COLORS.actual, precision: 5 }]);
      mdl.predSeries[0].setData(line('predicted'));
      mdl.predSeries[1].setData(line('actual'));
      lg.appendChild(el('span', 'k-val', '— predicted volatility'));
      lg.appendChild(el('span', 'k-loss', '— realised (next ' + String(finite(res.vol_horizon) ?? '?') + ' candles)'));
      lg.appendChild(el('span', null, scored ? 'MAE ' + (mae ?? 0).toPrecision(3) + ' over ' + fmtCount(scored) : 'none scored yet'));
    }
    mdl.predChart.timeScale().fitContent();
  }

  function metricsBlock(box, title, split, kind, span, verdict) {
    const head = box.appendChild(el('div', 'block-head'));
    head.appendChild(el('span', 'bt', title));
    if (isObj(span)) {
      head.appendChild(el('span', 'muted', fmtCount(finite(span.nodes)) + ' nodes · ' + fmtDateUs(span.start_us) +
        ' – ' + fmtDateUs(span.end_us) + ' UTC'));
    }
    if (verdict) head.appendChild(el('span', 'vtext ' + verdict.cls, verdict.text)).title = verdict.text;
    const entries = splitEntries(split);
    if (!entries.length || !kind) {
      box.appendChild(el('div', 'empty', 'no ' + title.toLowerCase() + ' metrics'));
      return;
    }
    const defs = metricDefs(kind);
    const best = {};
    for (const [key, , dir] of defs) {
      if (!dir) continue;
      let b = null;
      for (const [, e] of entries) {
        const v = finite(e[key]);
        if (v !== null && (b === null || (dir > 0 ? v > b : v < b))) b = v;
      }
      best[key] = b;
    }
    const t = box.appendChild(el('table', 'mtable'));
    const hr = t.appendChild(el('thead')).appendChild(el('tr'));
    hr.appendChild(el('th', null, ''));
    for (const [key, label, dir] of defs) {
      const th = hr.appendChild(el('th', null, label));
      th.title = key + (dir > 0 ? ' (higher is better)' : dir < 0 ? ' (lower is better)' : '');
    }
    const tb = t.appendChild(el('tbody'));
    for (const [ek, e] of entries) {
      const tr = tb.appendChild(el('tr', ek === 'model' ? 'is-model' : ''));
      tr.appendChild(el('td', null, ek === 'model' ? 'model (GNN)' : ek.replace(/_/g, ' ')));
      for (const [key, , dir] of defs) {
        const v = finite(e[key]);
        const td = tr.appendChild(el('td', dir && v !== null && v === best[key] ? 'best' : '', fmtMetric(key, v)));
        if (dir && v !== null && v === best[key]) td.title = 'best ' + key;
      }
    }
  }

  function confusionBlock(box, kind, conf) {
    if (kind !== 'cls') return;
    box.appendChild(el('div', 'block-head')).appendChild(el('span', 'bt', 'Confusion (model, test)'));
    const ok = Array.isArray(conf) && conf.length > 0 && conf.every((r) => Array.isArray(r) && r.length === conf.length);
    if (!ok) { box.appendChild(el('div', 'empty', 'no confusion matrix')); return; }
    const k = conf.length;
    const name = (i) => (k === 3 ? DIRECTION_NAMES[i] : String(i));
    const t = box.appendChild(el('table', 'confusion'));
    const hr = t.appendChild(el('thead')).appendChild(el('tr'));
    hr.appendChild(el('th', 'corner', 'true ↓ pred →'));
    for (let j = 0; j < k; j++) hr.appendChild(el('th', null, name(j)));
    hr.appendChild(el('th', null, 'recall'));
    const tb = t.appendChild(el('tbody'));
    for (let i = 0; i < k; i++) {
      const tr = tb.appendChild(el('tr'));
      tr.appendChild(el('th', null, name(i)));
      const row = conf[i].map((x) => finite(x) ?? 0);
      const total = row.reduce((a, b) => a + b, 0);
      for (let j = 0; j < k; j++) {
        const td = tr.appendChild(el('td', i === j ? 'diag' : '', String(row[j])));
        const f = total > 0 ? row[j] / total : 0;
        // CSSOM (not a style attribute): allowed by the page's style-src 'self'
        td.style.backgroundColor = (i === j ? 'rgba(38,166,154,' : 'rgba(239,83,80,') + (0.06 + 0.5 * f).toFixed(3) + ')';
        td.title = name(i) + ' predicted as ' + name(j) + ': ' + row[j] + ' of ' + total + ' (' + (f * 100).toFixed(1) + '%)';
      }
      tr.appendChild(el('td', 'muted', total > 0 ? (row[i] / total).toFixed(3) : '—'));
    }
  }

  // ---- training curve: train loss (left scale) and the validation metric (right scale) per epoch

  function curveDecimals(values) {
    let m = 0;
    for (const v of values) if (v !== null && Math.abs(v) > m) m = Math.abs(v);
    if (!(m > 0)) return 4;
    return Math.max(2, Math.min(8, 3 - Math.floor(Math.log10(m))));
  }

  function ensureCurveChart() {
    if (mdl.chart) return true;
    if (!LC || typeof LC.createOptionsChart !== 'function') {
      if (!mdl.curveWarned) { mdl.curveWarned = true; report('models chart', new Error('lightweight-charts did not load (/vendor/lightweight-charts.js)')); }
      return false;
    }
    mdl.chart = LC.createOptionsChart($('modelCurve'), {
      autoSize: true,
      layout: {
        background: { type: LC.ColorType.Solid, color: '#0b0e13' },
        textColor: COLORS.text,
        fontSize: 10,
        attributionLogo: false, // its <style> element would break the CSP; the footer links instead
      },
      grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
      leftPriceScale: { visible: true, borderColor: COLORS.border },
      rightPriceScale: { visible: true, borderColor: COLORS.border },
      timeScale: { borderColor: COLORS.border, fixLeftEdge: true, fixRightEdge: true },
      localization: { precision: 0 }, // the horizontal scale: epochs
      crosshair: { mode: LC.CrosshairMode.Normal },
      handleScroll: false,
      handleScale: false,
    });
    const common = { lineWidth: 2, priceLineVisible: false, crosshairMarkerRadius: 3 };
    mdl.lossSeries = mdl.chart.addSeries(LC.LineSeries, { ...common, color: CURVE_COLORS.loss, priceScaleId: 'left' });
    mdl.valSeries = mdl.chart.addSeries(LC.LineSeries, { ...common, color: CURVE_COLORS.val, priceScaleId: 'right' });
    if (typeof LC.createSeriesMarkers === 'function') mdl.markers = LC.createSeriesMarkers(mdl.valSeries, []);
    return true;
  }

  function setCurve(mt, kind) {
    const empty = $('modelCurveEmpty');
    const hist = mt && Array.isArray(mt.history) ? mt.history : [];
    const byEpoch = new Map();
    for (const h of hist) if (isObj(h) && finite(h.epoch) !== null) byEpoch.set(h.epoch, h);
    const epochs = [...byEpoch.keys()].sort((a, b) => a - b);
    if (!mt) {
      if (mdl.chart) { mdl.lossSeries.setData([]); mdl.valSeries.setData([]); if (mdl.markers) mdl.markers.setMarkers([]); }
      empty.hidden = false;
      setText(empty, 'no training curve');
      return;
    }
    if (!ensureCurveChart()) return;
    const loss = epochs.map((e) => { const v = finite(byEpoch.get(e).train_loss); return v === null ? { time: e } : { time: e, value: v }; });
    const val = epochs.map((e) => { const v = finite(byEpoch.get(e).val_metric); return v === null ? { time: e } : { time: e, value: v }; });
    const fmt = (pts) => { const dp = curveDecimals(pts.map((p) => (p.value === undefined ? null : p.value))); return { type: 'price', precision: dp, minMove: Math.pow(10, -dp) }; };
    mdl.lossSeries.applyOptions({ priceFormat: fmt(loss) });
    mdl.valSeries.applyOptions({ priceFormat: fmt(val) });
    mdl.lossSeries.setData(loss);
    mdl.valSeries.setData(val);
    const best = finite(mt.best_epoch);
    if (mdl.markers) {
      mdl.markers.setMarkers(best !== null && byEpoch.has(best) && finite(byEpoch.get(best).val_metric) !== null
        ? [{ time: best, position: 'inBar', shape: 'circle', color: CURVE_COLORS.best, size: 1 }] : []);
    }
    mdl.chart.timeScale().fitContent();
    empty.hidden = epochs.length > 0;
    setText(empty, epochs.length ? '' : 'no training history');
    const metricName = typeof mt.validation_metric === 'string' ? mt.validation_metric : (kind === 'reg' ? 'rmse' : 'macro_f1');
    const lg = $('modelCurveLegend');
    lg.appendChild(el('span', 'bt', 'Training'));
    lg.appendChild(el('span', 'k-loss', '— train loss (left)'));
    const dir = metricDir(kind, metricName);
    lg.appendChild(el('span', 'k-val', '— validation ' + metricLabel(kind, metricName) + ' (right' +
      (dir > 0 ? ', higher is better' : dir < 0 ? ', lower is better' : '') + ')'));
    if (best !== null) lg.appendChild(el('span', 'k-best', '● best epoch ' + best));
    lg.appendChild(el('span', 'muted', 'x = epoch'));
  }

  // ---- graphs

  function renderGraphsList() {
    const box = $('graphsList');
    clear(box);
    if (mdl.graphsError) box.appendChild(el('div', 'empty err', 'could not list the graphs: ' + mdl.graphsError));
    else if (!mdl.graphs.length) box.appendChild(el('div', 'empty', 'no graphs stored yet (graph-builder writes them; the historical-gnn workflow builds a candles graph)'));
    for (const g of mdl.graphs) {
      const assets = g.kind === 'assets';
      const item = box.appendChild(el('div', 'graph-item' + (assets ? ' assets' : '') + (assets && g.name === mdl.graph ? ' selected' : '')));
      item.appendChild(el('span', 'gname', g.name)).title = g.name;
      const created = finite(g.created_at);
      item.appendChild(el('span', 'gmeta', String(g.kind || '?') + ' · ' + String(g.interval || '?') + ' · ' +
        fmtCount(finite(g.nodes)) + ' nodes · ' + fmtCount(finite(g.edges)) + ' edges' +
        (created ? ' · ' + fmtDateTimeMs(created * 1000).slice(0, 16) : '')));
      if (assets) {
        item.tabIndex = 0;
        item.title = 'draw ' + g.name;
        item.addEventListener('click', () => selectGraph(g.name, null));
        item.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') selectGraph(g.name, null); });
      } else {
        item.title = 'a candles graph: listed, not drawn';
      }
    }
    const sel = $('graphSelect');
    clear(sel);
    const assets = mdl.graphs.filter((g) => g.kind === 'assets');
    for (const g of assets) {
      const o = el('option', null, g.name);
      o.value = g.name;
      sel.appendChild(o);
    }
    if (!assets.length) {
      const o = el('option', null, 'no assets graph');
      o.value = '';
      sel.appendChild(o);
    }
    const ctl = ['graphSelect', 'graphTime', 'graphEarlier', 'graphLatest'];
    for (const id of ctl) $(id).disabled = !assets.length;
    $('graphForm').querySelector('button[type=submit]').disabled = !assets.length;
    if (!assets.some((g) => g.name === mdl.graph)) { mdl.graph = assets.length ? assets[0].name : ''; mdl.graphTime = null; }
    sel.value = mdl.graph;
    if (mdl.graph) loadSnapshot();
    else {
      mdl.snapGen++;
      mdl.snap = null;
      drawGraphMessage(mdl.graphs.length ? 'no assets graph to draw (candles graphs are only listed)' : 'no graph to draw');
      setText($('graphNote'), '');
    }
  }

  function selectGraph(name, timeUs) {
    mdl.graph = name;
    mdl.graphTime = timeUs;
    $('graphSelect').value = name;
    if (timeUs === null) $('graphTime').value = '';
    for (const it of $('graphsList').querySelectorAll('.graph-item.assets')) {
      it.classList.toggle('selected', it.querySelector('.gname').textContent === name);
    }
    writeUrl();
    loadSnapshot();
  }

  // '' = the newest; unix microseconds; or a UTC date 'YYYY-MM-DD[ HH:MM[:SS]]'.
  function parseGraphTime(s) {
    s = String(s || '').trim();
    if (!s) return null;
    if (/^\d{13,17}$/.test(s)) return Number(s);
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?Z?$/.exec(s);
    if (!m) return NaN;
    const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
    return Number.isFinite(ms) && ms >= 0 ? ms * 1000 : NaN;
  }

  async function loadSnapshot() {
    const name = mdl.graph;
    if (!name) return;
    const gen = ++mdl.snapGen;
    setText($('graphNote'), 'loading…');
    $('graphNote').className = 'muted';
    const q = mdl.graphTime !== null ? '?' + qs({ time: Math.floor(mdl.graphTime) }) : '';
    try {
      const snap = await api('/api/v1/graphs/' + encodeURIComponent(name) + '/snapshot' + q);
      if (gen !== mdl.snapGen) return;
      drawGraph(isObj(snap) ? snap : {}, name);
    } catch (e) {
      if (gen !== mdl.snapGen) return;
      mdl.snap = null;
      const msg = e.status === 404 ? 'no such graph: ' + name : 'snapshot failed: ' + errMessage(e);
      setText($('graphNote'), msg);
      $('graphNote').className = 'err';
      drawGraphMessage(msg);
      if (e.status !== 401) report('graph snapshot', e);
    }
  }

  function drawGraphMessage(text) {
    const box = $('graphView');
    clear(box);
    box.appendChild(el('div', 'empty', text));
  }

  function drawGraph(snap, name) {
    const nodes = (Array.isArray(snap.nodes) ? snap.nodes : []).filter((n) => isObj(n) && finite(n.node_id) !== null);
    const time = finite(snap.time);
    nodes.sort((a, b) => String(a.symbol).localeCompare(String(b.symbol)) || a.node_id - b.node_id);
    const byId = new Map(nodes.map((n) => [n.node_id, n]));
    // correlations are symmetric (both directions, same weight) or top-k (one direction): one line
    // per pair, the stronger |weight|
    const pairs = new Map();
    for (const e of Array.isArray(snap.edges) ? snap.edges : []) {
      if (!isObj(e) || !byId.has(e.src) || !byId.has(e.dst) || e.src === e.dst) continue;
      const w = finite(e.weight);
      if (w === null) continue;
      const key = e.src < e.dst ? e.src + ',' + e.dst : e.dst + ',' + e.src;
      const p = pairs.get(key);
      if (!p) pairs.set(key, { a: e.src, b: e.dst, w, kind: String(e.kind || ''), both: false });
      else { p.both = p.both || p.a !== e.src; if (Math.abs(w) > Math.abs(p.w)) p.w = w; }
    }
    const edges = [...pairs.values()].sort((x, y) => Math.abs(x.w) - Math.abs(y.w));
    mdl.snap = { name: String(snap.name || name), kind: String(snap.kind || ''), time, nodes: nodes.length, edges: edges.length };
    const note = $('graphNote');
    note.className = 'muted';
    if (!nodes.length) {
      setText(note, mdl.graphTime !== null ? 'no snapshot at or before ' + fmtDateUs(mdl.graphTime) + ' UTC' : 'the graph has no nodes');
      drawGraphMessage(note.textContent);
      return;
    }
    setText(note, 'snapshot ' + fmtDateUs(time) + ' UTC · ' + nodes.length + ' nodes · ' + edges.length + ' edges' +
      (snap.interval ? ' · ' + String(snap.interval) : ''));
    $('graphEarlier').disabled = !(time > 0);
    const S = 400, C = S / 2;
    const n = nodes.length;
    const r = Math.max(4, Math.min(14, 260 / n));
    const R = C - r - (n <= 80 ? 58 : 12);
    const root = svg('svg', { class: 'gsnap', viewBox: '0 0 ' + S + ' ' + S, preserveAspectRatio: 'xMidYMid meet', role: 'img' });
    root.appendChild(svg('title', null, String(snap.name || name) + ' at ' + fmtDateUs(time) + ' UTC'));
    const pos = new Map();
    nodes.forEach((nd, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
      pos.set(nd.node_id, { x: C + R * Math.cos(a), y: C + R * Math.sin(a), a });
    });
    const ge = root.appendChild(svg('g', { class: 'gedges' }));
    for (const e of edges) {
      const p = pos.get(e.a), q = pos.get(e.b);
      const aw = Math.min(1, Math.abs(e.w));
      const line = ge.appendChild(svg('line', {
        x1: p.x.toFixed(1), y1: p.y.toFixed(1), x2: q.x.toFixed(1), y2: q.y.toFixed(1),
        class: 'gedge ' + (e.w >= 0 ? 'pos' : 'neg'),
        'stroke-width': (0.5 + 3.5 * aw).toFixed(2), 'stroke-opacity': (0.12 + 0.78 * aw).toFixed(3),
      }));
      line.appendChild(svg('title', null, String(byId.get(e.a).symbol) + (e.both ? ' ↔ ' : ' → ') + String(byId.get(e.b).symbol) +
        ': ' + (e.kind || 'edge') + ' ' + e.w.toFixed(3)));
    }
    const gn = root.appendChild(svg('g', { class: 'gnodes' }));
    for (const nd of nodes) {
      const p = pos.get(nd.node_id);
      const dir = finite(nd.direction);
      const cls = DIRECTION_CLASS[dir] || 'd-unknown';
      const c = gn.appendChild(svg('circle', { cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: r.toFixed(1), class: 'gnode ' + cls }));
      const vol = finite(nd.volatility);
      c.appendChild(svg('title', null, String(nd.symbol) + ' (node ' + nd.node_id + ')\ndirection label: ' +
        (dir !== null && DIRECTION_NAMES[dir] ? DIRECTION_NAMES[dir] : 'unknown') + '\nvolatility label: ' + (vol === null ? 'unknown' : vol.toPrecision(4))));
      if (n <= 80) {
        const lr = R + r + 4;
        const cos = Math.cos(p.a);
        gn.appendChild(svg('text', {
          x: (C + lr * cos).toFixed(1), y: (C + lr * Math.sin(p.a)).toFixed(1),
          'text-anchor': cos > 0.25 ? 'start' : cos < -0.25 ? 'end' : 'middle', 'dominant-baseline': 'middle',
        }, trunc(String(nd.symbol), 12)));
      }
    }
    const box = $('graphView');
    clear(box);
    box.appendChild(root);
  }

  function onGraphForm(ev) {
    ev.preventDefault();
    const name = $('graphSelect').value;
    if (!name) return;
    const t = parseGraphTime($('graphTime').value);
    if (Number.isNaN(t)) {
      setText($('graphNote'), 'time: YYYY-MM-DD HH:MM (UTC), or unix microseconds, or empty for the newest');
      $('graphNote').className = 'err';
      return;
    }
    selectGraph(name, t);
  }

  function modelsInit() {
    $('modelsRefresh').addEventListener('click', () => { mdl.loading = false; mdl.listSig = null; mdl.graphsSig = null; loadModelsTab(); });
    $('graphForm').addEventListener('submit', onGraphForm);
    $('graphSelect').addEventListener('change', () => { if ($('graphSelect').value) selectGraph($('graphSelect').value, null); });
    $('graphLatest').addEventListener('click', () => { if (mdl.graph) selectGraph(mdl.graph, null); });
    $('graphEarlier').addEventListener('click', () => {
      if (!mdl.graph || !mdl.snap || !(mdl.snap.time > 0)) return;
      const t = mdl.snap.time - 1;
      $('graphTime').value = fmtDateUs(mdl.snap.time - 1);
      selectGraph(mdl.graph, t);
    });
  }

  function modelsWriteUrl(q) {
    if (mdl.selected) q.set('model', mdl.selected);
    if (mdl.graph) q.set('graph', mdl.graph);
    if (mdl.graph && mdl.graphTime !== null) q.set('gtime', String(mdl.graphTime));
  }

  function modelsReadUrl(q) {
    const m = q.get('model');
    if (m && m.length <= 500) mdl.selected = m;
    const g = q.get('graph');
    if (g && g.length <= 500) mdl.graph = g;
    const t = q.get('gtime');
    if (g && t && /^\d{1,17}$/.test(t)) {
      mdl.graphTime = Number(t);
      $('graphTime').value = fmtDateUs(mdl.graphTime);
    }
  }

  // ------------------------------------------------------------------------------ URL + tabs

  function writeUrl() {
    const q = new URLSearchParams();
    q.set('tab', state.tab);
    q.set('symbol', state.symbol);
    q.set('interval', state.interval);
    if (state.depth !== 20) q.set('depth', String(state.depth));
    if (tp.topic) q.set('topic', tp.topic);
    if (tp.type) q.set('type', tp.type);
    if (tp.symbol) q.set('tsymbol', tp.symbol);
    if (wf.selected) q.set('queue', wf.selected);
    modelsWriteUrl(q);
    if (auth.inUrl && auth.token) q.set('access_token', auth.token);
    const url = location.pathname + '?' + q.toString();
    if (url !== location.pathname + location.search) history.replaceState(null, '', url);
  }

  function readUrl() {
    const q = new URLSearchParams(location.search);
    const tab = q.get('tab');
    if (tab && TABS.includes(tab)) state.tab = tab;
    const sym = q.get('symbol');
    if (sym && SYMBOL_RE.test(sym)) state.symbol = sym.toUpperCase();
    const iv = q.get('interval');
    if (iv && INTERVALS.includes(iv)) state.interval = iv;
    const d = parseInt(q.get('depth') || '', 10);
    if (Number.isFinite(d) && d >= 1 && d <= 1000) state.depth = d;
    const topic = q.get('topic');
    if (topic && TOPIC_RE.test(topic)) $('topicInput').value = topic;
    const type = q.get('type');
    if (type) $('topicType').value = type;
    const ts = q.get('tsymbol');
    if (ts && SYMBOL_RE.test(ts)) $('topicSymbol').value = ts.toUpperCase();
    modelsReadUrl(q);
    return { topic: topic && TOPIC_RE.test(topic) ? topic : '', queue: q.get('queue') || '' };
  }

  function showTab(tab) {
    state.tab = tab;
    for (const b of document.querySelectorAll('#tabs button')) {
      const on = b.dataset.tab === tab;
      b.classList.toggle('active', on);
      b.setAttribute('aria-selected', on ? 'true' : 'false');
    }
    for (const v of document.querySelectorAll('main > .view')) v.hidden = v.dataset.view !== tab;
    document.body.dataset.tab = tab;
    // the views that draw only while visible catch up now
    ladderDomStale = true;
    book.depthDirty = true;
    heat.dirty = true;
    tape.domStale = true;
    wf.dirty = true;
    wf.evDirty = true;
    if (tab === 'topics') { tp.renderedSeq = Math.max(0, tp.seq - Math.min(tp.rows.length, TOPIC_ROWS)); tp.cleared = true; }
    writeUrl();
    if (tab === 'models') modelsOnShow();
  }

  function renderIntervals() {
    const box = $('intervals');
    clear(box);
    const list = [...QUICK_INTERVALS];
    if (!list.includes(state.interval)) list.push(state.interval);
    if (mkt.source && typeof mkt.source.interval === 'string' && INTERVALS.includes(mkt.source.interval) && !list.includes(mkt.source.interval)) list.push(mkt.source.interval);
    list.sort((a, b) => INTERVAL_MS[a] - INTERVAL_MS[b]);
    for (const iv of list) {
      const b = el('button', iv === state.interval ? 'active' : '', iv);
      b.type = 'button';
      if (mkt.source && mkt.source.interval === iv) b.title = 'live candles';
      b.addEventListener('click', () => setInterval_(iv));
      box.appendChild(b);
    }
  }

  // ------------------------------------------------------------------------------ symbol / interval

  function resetMarketData(keepLive) {
    mkt.candles = new SortedSeries(MAX_CANDLES);
    mkt.rendered = [];
    mkt.ind = new Map();
    mkt.exhausted = false;
    mkt.loadingOlder = false;
    mkt.historyLoaded = false;
    mkt.emptyShown = null;
    mkt.serverError = '';
    if (!keepLive) {
      mkt.lastTrade = null;
      mkt.ticker = null;
      book.latest = null;
      book.rendered = null;
      book.dirty = false;
      ladderDomStale = true;
      book.depthDirty = true;
      heat.cols = [];
      heat.trades = [];
      heat.dirty = true;
      tape.rows = [];
      tape.pending = [];
      tape.ids = new Set();
      tape.gaps = new Set();
      tape.maxId = -Infinity;
      tape.minKept = -Infinity;
      tape.full = false;
      tape.renderedIds = [];
      tape.stats = [];
      tape.statsHead = 0;
      tape.domStale = true;
      precision.price = 2;
      precision.qty = 0;
    }
    mkt.quoteDirty = true;
    lastPrecisionApplied = -1;
  }

  async function loadMarket() {
    const gen = ++state.gen;
    createChart();
    legendPending = true;
    renderIntervals();
    if (!mkt.sourcesLoaded) await loadSources();
    if (gen !== state.gen) return;
    mkt.source = pickSource(state.symbol);
    renderIntervals();
    renderNotice();
    subscribeMarket(); // a new interval too: a fresh snapshot brings its candles
    await loadHistory(gen);
  }

  function setSymbol(sym) {
    sym = String(sym || '').trim().toUpperCase();
    if (!SYMBOL_RE.test(sym)) { $('symbol').value = state.symbol; return; }
    if (sym === state.symbol) return;
    unsubscribeMarket(state.symbol);
    state.symbol = sym;
    $('symbol').value = sym;
    resetMarketData(false);
    updateSymbolList();
    writeUrl();
    loadMarket();
  }

  function setInterval_(iv) {
    if (!INTERVALS.includes(iv) || iv === state.interval) return;
    state.interval = iv;
    resetMarketData(true);
    writeUrl();
    loadMarket();
  }

  // ------------------------------------------------------------------------------ start

  function buildConnDots() {
    const box = $('conn');
    clear(box);
    for (const name of ['market', 'queues', 'topics']) {
      const w = el('span', 'conn-item');
      const dot = w.appendChild(el('span', 'dot off'));
      w.appendChild(el('span', 'conn-label', name));
      sockets[name].dot = dot;
      box.appendChild(w);
    }
    updateDots();
  }

  function init() {
    const url = readUrl();
    $('symbol').value = state.symbol;
    $('depthSelect').value = String(state.depth);
    if ($('depthSelect').value !== String(state.depth)) {
      const o = el('option', null, String(state.depth));
      $('depthSelect').appendChild(o);
      $('depthSelect').value = String(state.depth);
    }
    // extra notice lines on the book and trades views
    const bn = el('div', 'notice warn');
    bn.id = 'bookNotice';
    bn.hidden = true;
    $('view-book').insertBefore(bn, $('view-book').firstChild);
    const tn = el('div', 'notice warn');
    tn.id = 'tapeNotice';
    tn.hidden = true;
    $('view-trades').insertBefore(tn, $('view-trades').firstChild);

    new Socket('market', '/ws/market', onMarketMessage);
    new Socket('queues', '/ws/queues', onQueuesMessage);
    new Socket('topics', '/ws/topics', onTopicsMessage);
    buildConnDots();
    sockets.topics.onOpen.push(() => { if (tp.topic) setTopicStatus('subscribing…'); });
    // Workflows may have started or ended while /ws/queues was away (and a refresh may have failed
    // meanwhile): re-read the sources on every reconnect.
    let queuesOpened = false;
    sockets.queues.onOpen.push(() => {
      if (queuesOpened || mkt.sourcesStale) refreshSourcesSoon();
      queuesOpened = true;
    });

    for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
    $('symbolForm').addEventListener('submit', (e) => { e.preventDefault(); setSymbol($('symbol').value); $('symbol').blur(); });
    $('symbol').addEventListener('change', () => setSymbol($('symbol').value));
    $('depthSelect').addEventListener('change', () => {
      const d = parseInt($('depthSelect').value, 10);
      if (!Number.isFinite(d)) return;
      state.depth = d;
      writeUrl();
      subscribeMarket();
    });
    $('wfFilter').addEventListener('change', () => { wf.filter = $('wfFilter').value; wf.dirty = true; });
    $('tplSelect').addEventListener('change', renderTemplateForm);
    $('startForm').addEventListener('submit', submitStart);
    $('topicForm').addEventListener('submit', watchTopic);
    $('topicType').addEventListener('change', () => { if (tp.topic) watchTopic(); });
    $('topicPause').addEventListener('click', () => { tp.paused = !tp.paused; });
    $('topicClear').addEventListener('click', () => { clearTopicRows(); tp.dropped = 0; });
    $('topicRows').addEventListener('click', toggleTopicRow);
    $('errClose').addEventListener('click', () => { $('errbar').hidden = true; });
    modelsInit();
    $('auth').addEventListener('submit', (e) => {
      e.preventDefault();
      const t = $('authToken').value.trim();
      if (!t) return;
      let stored = false;
      try { localStorage.setItem('sf_token', t); stored = true; } catch (err) { stored = false; }
      const q = new URLSearchParams(location.search);
      if (stored) q.delete('access_token'); else q.set('access_token', t);
      location.replace(location.pathname + '?' + q.toString());
    });

    if (resizeObs) {
      resizeObs.observe($('depthCanvas'));
      resizeObs.observe($('heatCanvas'));
    }

    renderers.push(renderChart, renderLegendLatest, renderQuote, renderBook, renderTape,
      renderWorkflows, renderEvents, renderTopics, renderTopicSuggestions, renderModelsTick);

    showTab(state.tab);
    for (const s of Object.values(sockets)) s.start();
    loadMarket();
    loadTemplates();
    if (url.topic) watchTopic();
    if (url.queue) selectWorkflow(url.queue);
    requestAnimationFrame(frame);
  }

  // ------------------------------------------------------------------------------ test hook

  window.sfDashboard = {
    candles() {
      return mkt.rendered.map((r) => ({
        open_time_us: r.open_time, open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume,
      }));
    },
    ladder() {
      const b = book.rendered;
      if (!b) return { last_update_id: null, state: 'waiting', known: null, bids: [], asks: [] };
      return {
        last_update_id: b.last_update_id, state: b.state, known: b.known,
        bids: b.bids.map((l) => [l[0], l[1]]), asks: b.asks.map((l) => [l[0], l[1]]),
      };
    },
    tape() { return tape.renderedIds.slice(); },
    // Models tab: the model versions as last rendered ({name, version, task, verdict}; an entry the
    // server could not read has task and verdict null and `error`), and the graph snapshot drawn.
    models() { return mdl.rendered.map((m) => ({ ...m })); },
    graph() { return mdl.snap ? { ...mdl.snap } : null; },
    // The selected model's predictions as last drawn: {model, task, count, scored, hits, mae}.
    predictions() { return mdl.pred ? { ...mdl.pred } : null; },
    connected(endpoint) {
      // 'market', '/ws/market' or a whole URL
      const name = String(endpoint || '').split('?')[0].replace(/\/+$/, '').split('/').pop();
      const s = sockets[name];
      return !!(s && s.connected);
    },
    get frames() { return frames; },
    errors,
  };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
