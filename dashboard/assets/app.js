// quantrac IOC dashboard: overview map → station → charts, and alerts.
// Plain browser JavaScript with no build step; the only library is uPlot.
// Data comes from the api's JSON routes; times are shown in Asia/Ho_Chi_Minh
// and numbers with the Vietnamese decimal comma (the API itself uses dots).
(function () {
  'use strict';

  const TZ = 'Asia/Ho_Chi_Minh';
  const REFRESH_MS = 5000;

  // ---- language -----------------------------------------------------------
  const T = {
    vi: {
      title: 'Quan trắc môi trường', nav_overview: 'Tổng quan', nav_alerts: 'Cảnh báo',
      stations_online: 'Trạm trực tuyến', alerts_firing: 'Cảnh báo đang phát', completeness: 'Đủ số liệu hôm nay',
      map: 'Bản đồ trạm', table: 'Danh sách trạm', station: 'Trạm', kind: 'Loại', province: 'Tỉnh',
      state: 'Trạng thái', value: 'Giá trị chính', age: 'Cập nhật', all: 'Toàn quốc', all_stations: 'Tất cả trạm',
      online: 'trực tuyến', stale: 'chậm', fault: 'lỗi thiết bị', offline: 'mất kết nối',
      hydrological: 'Thủy văn', air: 'Không khí', weather: 'Khí tượng',
      back: '← Tổng quan', current: 'Giá trị hiện tại', charts: 'Biểu đồ', export: 'Xuất CSV',
      history: 'Lịch sử cảnh báo', none: 'Không có', ack: 'Xác nhận', silence: 'Tạm ẩn 2 giờ',
      firing: 'đang phát', pending: 'chờ', acknowledged: 'đã xác nhận', resolved: 'đã kết thúc',
      on_duty: 'Cán bộ trực ban', message: 'Nội dung', since: 'Từ lúc', severity: 'Mức',
      token_needed: 'Cần mã truy cập (token) có quyền. Thêm ?token=... vào địa chỉ.',
      ack_by: 'Người xác nhận', recent: 'Cảnh báo gần đây', no_data: 'Chưa có số liệu',
      ago_s: 'giây trước', ago_m: 'phút trước', ago_h: 'giờ trước', ago_d: 'ngày trước',
      q00: 'đo', q01: 'hiệu chuẩn', q02: 'lỗi thiết bị', qflag: 'nghi ngờ',
      time: 'Thời gian', alerts_active: 'Cảnh báo hiện hành', state_col: 'Trạng thái', value_col: 'Giá trị',
      sev_critical: 'nghiêm trọng', sev_major: 'cao', sev_warning: 'cảnh báo', sev_info: 'thông tin',
      legend_station: 'Thủy văn / khí tượng', legend_alert: 'có cảnh báo', legend_grey: 'chậm / mất kết nối / lỗi',
      unknown_station: 'Không có trạm này trong danh sách trạm của máy chủ.',
      forbidden: 'Mã truy cập này không đủ quyền cho thao tác (xác nhận, tạm ẩn cảnh báo cần quyền operator).',
      limit: 'ngưỡng', alerts_off: 'Máy chủ chưa bật cảnh báo (alerting.enabled trong cấu hình api).',
    },
    en: {
      title: 'Environmental monitoring', nav_overview: 'Overview', nav_alerts: 'Alerts',
      stations_online: 'Stations online', alerts_firing: 'Alerts firing', completeness: 'Data completeness today',
      map: 'Station map', table: 'Stations', station: 'Station', kind: 'Kind', province: 'Province',
      state: 'State', value: 'Main value', age: 'Updated', all: 'Whole country', all_stations: 'All stations',
      online: 'online', stale: 'stale', fault: 'device error', offline: 'offline',
      hydrological: 'Hydrological', air: 'Air', weather: 'Weather',
      back: '← Overview', current: 'Current values', charts: 'Charts', export: 'Export CSV',
      history: 'Alert history', none: 'None', ack: 'Acknowledge', silence: 'Silence 2 h',
      firing: 'firing', pending: 'pending', acknowledged: 'acknowledged', resolved: 'resolved',
      on_duty: 'On duty now', message: 'Message', since: 'Since', severity: 'Severity',
      token_needed: 'An access token with the right role is needed. Add ?token=... to the address.',
      ack_by: 'Acknowledged by', recent: 'Recent alerts', no_data: 'No data yet',
      ago_s: 's ago', ago_m: 'min ago', ago_h: 'h ago', ago_d: 'd ago',
      q00: 'measuring', q01: 'calibrating', q02: 'device error', qflag: 'suspect',
      time: 'Time', alerts_active: 'Active alerts', state_col: 'State', value_col: 'Value',
      sev_critical: 'critical', sev_major: 'major', sev_warning: 'warning', sev_info: 'info',
      legend_station: 'Hydrological / weather', legend_alert: 'alert', legend_grey: 'stale / offline / fault',
      unknown_station: 'The server lists no station with this id.',
      forbidden: 'This access token may not do that (acknowledging and silencing alerts need the operator role).',
      limit: 'limit', alerts_off: 'Alerting is not enabled on the server (alerting.enabled in the api config).',
    },
  };
  let lang = localStorage.getItem('quantrac.lang') || 'vi';
  const t = (k) => (T[lang] && T[lang][k]) || T.vi[k] || k;

  const PARAMS = {
    water_level_m: { vi: 'Mực nước', en: 'Water level', unit: 'm' },
    rainfall_mm: { vi: 'Lượng mưa', en: 'Rainfall', unit: 'mm' },
    water_temperature_c: { vi: 'Nhiệt độ nước', en: 'Water temperature', unit: '°C' },
    ph: { vi: 'pH', en: 'pH', unit: '' },
    do_mgl: { vi: 'Oxy hòa tan (DO)', en: 'Dissolved oxygen', unit: 'mg/L' },
    tss_mgl: { vi: 'Chất rắn lơ lửng (TSS)', en: 'TSS', unit: 'mg/L' },
    cod_mgl: { vi: 'COD', en: 'COD', unit: 'mg/L' },
    nh4_mgl: { vi: 'Amoni (NH₄⁺)', en: 'Ammonium', unit: 'mg/L' },
    pm25_ugm3: { vi: 'Bụi PM2.5', en: 'PM2.5', unit: 'µg/m³' },
    pm10_ugm3: { vi: 'Bụi PM10', en: 'PM10', unit: 'µg/m³' },
    co_ugm3: { vi: 'CO', en: 'CO', unit: 'µg/m³' },
    no2_ugm3: { vi: 'NO₂', en: 'NO₂', unit: 'µg/m³' },
    so2_ugm3: { vi: 'SO₂', en: 'SO₂', unit: 'µg/m³' },
    o3_ugm3: { vi: 'O₃', en: 'O₃', unit: 'µg/m³' },
    temperature_c: { vi: 'Nhiệt độ', en: 'Temperature', unit: '°C' },
    humidity_percent: { vi: 'Độ ẩm', en: 'Humidity', unit: '%' },
    pressure_hpa: { vi: 'Áp suất', en: 'Pressure', unit: 'hPa' },
    wind_speed_ms: { vi: 'Tốc độ gió', en: 'Wind speed', unit: 'm/s' },
    wind_direction_deg: { vi: 'Hướng gió', en: 'Wind direction', unit: '°' },
    dew_point_c: { vi: 'Điểm sương', en: 'Dew point', unit: '°C' },
    aqi_vn: { vi: 'VN_AQI', en: 'VN_AQI', unit: '' },
  };
  // sortParams puts the station's main parameter first, then the order of
  // PARAMS (pollutants together, then weather), then unknown names A-Z.
  const PARAM_ORDER = Object.keys(PARAMS);
  function sortParams(keys, main) {
    const rank = (m) => (m === main ? -1 : PARAM_ORDER.indexOf(m) < 0 ? PARAM_ORDER.length : PARAM_ORDER.indexOf(m));
    return keys.slice().sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  }
  const paramName = (m) => (PARAMS[m] ? PARAMS[m][lang] : m);
  const paramUnit = (m) => (PARAMS[m] ? PARAMS[m].unit : '');
  const MAIN_PARAM = { hydrological: 'water_level_m', air: 'pm25_ugm3', weather: 'temperature_c' };

  // Lines drawn on charts. Flood alarm levels of Decision 05/2020/QĐ-TTg for
  // the stations the demo has; QCVN 05:2023/BTNMT 24-hour limits for air.
  const THRESHOLDS = {
    water_level_m: { 'HN-LongBien': [[9.5, 'BĐ I', '#ffd400'], [10.5, 'BĐ II', '#ff7e00'], [11.5, 'BĐ III', '#e0262b']] },
    pm25_ugm3: { '*': [[50, 'QCVN 24h', '#ff7e00']] },
    pm10_ugm3: { '*': [[100, 'QCVN 24h', '#ff7e00']] },
  };
  function thresholdsFor(metric, station) {
    const m = THRESHOLDS[metric];
    if (!m) return [];
    return m[station] || m['*'] || [];
  }

  // VN_AQI categories and colours of Decision 1459/QĐ-TCMT.
  const AQI_CATS = [
    [50, '#00e400', 'Tốt', 'Good'], [100, '#ffff00', 'Trung bình', 'Moderate'],
    [150, '#ff7e00', 'Kém', 'Poor'], [200, '#ff0000', 'Xấu', 'Bad'],
    [300, '#8f3f97', 'Rất xấu', 'Very bad'], [Infinity, '#7e0023', 'Nguy hại', 'Hazardous'],
  ];
  // PM2.5 breakpoints of the same decision, used only when the server has no aqi_vn yet.
  const PM25_BP = [[0, 0], [25, 50], [50, 100], [80, 150], [150, 200], [250, 300], [350, 400], [500, 500]];
  function aqiFromPM25(c) {
    for (let i = 1; i < PM25_BP.length; i++) {
      const [c0, i0] = PM25_BP[i - 1], [c1, i1] = PM25_BP[i];
      if (c <= c1) return Math.round(((i1 - i0) / (c1 - c0)) * (c - c0) + i0);
    }
    return 500;
  }
  const aqiCat = (aqi) => AQI_CATS.find((c) => aqi <= c[0]);

  // ---- formatting ---------------------------------------------------------
  const numFmt = () => new Intl.NumberFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', { maximumFractionDigits: 2 });
  const fmtNum = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : numFmt().format(v));
  const dtFmt = (opts) => new Intl.DateTimeFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', Object.assign({ timeZone: TZ }, opts));
  const fmtTime = (ms) => (ms ? dtFmt({ dateStyle: 'short', timeStyle: 'medium' }).format(new Date(ms)) : '–');
  function fmtAge(ms) {
    if (!ms) return '–';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 120) return s + ' ' + t('ago_s');
    if (s < 7200) return Math.round(s / 60) + ' ' + t('ago_m');
    if (s < 172800) return Math.round(s / 3600) + ' ' + t('ago_h');
    return Math.round(s / 86400) + ' ' + t('ago_d');
  }
  function qualityText(q) {
    if (q === undefined || q === null) return '';
    const s = String(q);
    if (s === '00' || s === '0') return t('q00');
    if (s.startsWith('01')) return t('q01');
    if (s.startsWith('02')) return t('q02');
    return t('qflag') + ' (' + s + ')';
  }
  const esc = (s) => String(s === undefined || s === null ? '' : s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

  // ---- API ----------------------------------------------------------------
  (function takeTokenFromURL() {
    const u = new URL(location.href);
    const tok = u.searchParams.get('token');
    if (tok) {
      localStorage.setItem('quantrac.token', tok);
      u.searchParams.delete('token');
      history.replaceState(null, '', u.pathname + u.search + u.hash);
    }
  })();
  const token = () => localStorage.getItem('quantrac.token') || '';

  async function api(path, opts) {
    opts = opts || {};
    const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
    if (token()) headers.Authorization = 'Bearer ' + token();
    if (opts.body && typeof opts.body !== 'string') {
      headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(opts.body);
    }
    const res = await fetch(path, Object.assign({}, opts, { headers }));
    if (res.status === 401 || res.status === 403) {
      const msg = t(res.status === 403 ? 'forbidden' : 'token_needed');
      showBanner(msg);
      throw new Error(msg);
    }
    if (!res.ok) {
      let msg = 'HTTP ' + res.status;
      try { const j = await res.json(); msg += ': ' + (j.error || JSON.stringify(j)); } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    if (res.status === 204) return null;
    return res.json();
  }
  // apiOr returns fallback when a route is missing or fails, so one broken
  // panel never blanks the page.
  async function apiOr(path, fallback) {
    try { return await api(path); } catch (e) { console.warn(path, e.message); return fallback; }
  }
  function showBanner(msg) {
    const b = document.getElementById('banner');
    b.textContent = msg;
    b.hidden = false;
  }

  // fetchStations lists the stations with, as their aqi_vn value, the
  // overall VN_AQI (pollutant="overall"). /api/v1/stations gives one value
  // per metric name, and aqi_vn exists once per pollutant, so its aqi_vn
  // may be any pollutant's sub-index (CO's 7 beside PM2.5 at 160).
  async function fetchStations() {
    const [stations, aqi] = await Promise.all([
      apiOr('/api/v1/stations', []),
      apiOr('/api/v1/latest?match=' + encodeURIComponent('aqi_vn{pollutant="overall"}'), { series: [] }),
    ]);
    const list = Array.isArray(stations) ? stations : (stations && stations.stations) || [];
    const overall = {};
    for (const s of (aqi && aqi.series) || []) {
      const id = s.labels && s.labels.station;
      if (id && typeof s.v === 'number') overall[id] = { t: s.t, v: s.v, q: s.q };
    }
    for (const s of list) {
      if (!s.values) continue;
      delete s.values.aqi_vn;
      if (overall[s.id]) s.values.aqi_vn = overall[s.id];
    }
    return list;
  }

  // Alerts come from the alerting routes; normalise the few fields we show.
  function normAlert(a) {
    const labels = a.labels || {};
    return {
      id: a.id !== undefined ? a.id : a.ID,
      state: a.state || a.State || '',
      severity: a.severity || labels.severity || a.level_severity || 'warning',
      station: a.station || labels.station || '',
      rule: a.rule || a.rule_name || a.name || '',
      level: a.level || '',
      message: a.message || a.summary || a.text || '',
      metric: labels.__name__ || a.metric || '',
      value: a.value,
      limit: a.limit,
      unit: a.unit || '',
      since: toMs(a.fired_at || a.firing_since || a.active_at || a.started_at || a.starts_at || a.created_at),
      ackBy: a.acked_by || a.acknowledged_by || '',
    };
  }
  function toMs(v) {
    if (v === undefined || v === null || v === '') return 0;
    if (typeof v === 'number') return v < 1e12 ? v * 1000 : v;
    const d = Date.parse(v);
    return Number.isNaN(d) ? 0 : d;
  }
  // alertsError holds why the last alert request failed ('' when it
  // worked), so that "no alerts" is never shown when the server has no
  // alerting (a 404) or could not answer.
  let alertsError = '';
  async function fetchAlerts(query) {
    let res;
    try {
      res = await api('/api/v1/alerts' + (query || ''));
      alertsError = '';
    } catch (e) {
      alertsError = e.message.startsWith('HTTP 404') ? t('alerts_off') : e.message;
      console.warn('/api/v1/alerts', e.message);
      return [];
    }
    const list = Array.isArray(res) ? res : (res && (res.alerts || res.data)) || [];
    return list.map(normAlert);
  }
  const noAlertsRow = () => '<tr><td class="muted">' + esc(alertsError || t('none')) + '</td></tr>';

  // ---- station colouring --------------------------------------------------
  // The state column's dot says whether data arrives; the map marker and the
  // swatch beside the main value say what the data shows (AQI, alerts).
  const STATUS_COLOUR = { online: '#00c853', stale: '#ffd400', fault: '#e0262b', offline: '#808080' };
  const KIND_COLOUR = { hydrological: '#3fa7ff', weather: '#00c853' };
  const SEV_COLOUR = { critical: '#e0262b', major: '#ff7e00', warning: '#ffd400', info: '#7fb7ff' };
  const SEV_RANK = { critical: 3, major: 2, warning: 1, info: 0 };
  function stationColour(st, firingByStation) {
    if (st.status === 'stale' || st.status === 'fault' || st.status === 'offline') return '#808080';
    const values = st.values || {};
    if (st.kind === 'air') {
      let aqi = values.aqi_vn ? values.aqi_vn.v : undefined;
      if (aqi === undefined && values.pm25_ugm3) aqi = aqiFromPM25(values.pm25_ugm3.v);
      if (aqi !== undefined) return aqiCat(aqi)[1];
      return '#5fa8d3';
    }
    const alerts = firingByStation[st.id] || [];
    let best = null;
    for (const a of alerts) if (!best || (SEV_RANK[a.severity] || 0) > (SEV_RANK[best.severity] || 0)) best = a;
    if (best) return SEV_COLOUR[best.severity] || '#ffd400';
    return KIND_COLOUR[st.kind] || KIND_COLOUR.weather;
  }

  // ---- map ----------------------------------------------------------------
  let geo = null;
  async function loadGeo() {
    if (!geo) geo = await fetch('vietnam.geo.json').then((r) => r.json());
    return geo;
  }
  // Equirectangular projection scaled by cos(16°N): close enough at Vietnam's
  // latitudes, and trivially invertible for the view box.
  const K = Math.cos((16 * Math.PI) / 180);
  const px = (lon) => lon * K;
  const py = (lat) => -lat;
  function ringPath(ring) {
    let d = '';
    for (let i = 0; i < ring.length; i++) d += (i ? 'L' : 'M') + px(ring[i][0]).toFixed(3) + ',' + py(ring[i][1]).toFixed(3);
    return d + 'Z';
  }
  function featurePath(g) {
    const polys = g.type === 'Polygon' ? [g.coordinates] : g.coordinates;
    return polys.map((p) => p.map(ringPath).join('')).join('');
  }
  function viewBoxFor(stations) {
    let minLon = 102, maxLon = 117.5, minLat = 8, maxLat = 23.6; // mainland and the islands
    stations = (stations || []).filter((s) => typeof s.lat === 'number' && typeof s.lon === 'number' && !(s.lat === 0 && s.lon === 0));
    if (stations.length) {
      minLon = Math.min(...stations.map((s) => s.lon)); maxLon = Math.max(...stations.map((s) => s.lon));
      minLat = Math.min(...stations.map((s) => s.lat)); maxLat = Math.max(...stations.map((s) => s.lat));
      const pad = Math.max(0.15, (maxLon - minLon) * 0.15, (maxLat - minLat) * 0.15);
      minLon -= pad; maxLon += pad; minLat -= pad; maxLat += pad;
    }
    return [px(minLon), py(maxLat), px(maxLon) - px(minLon), maxLat - minLat];
  }

  // ---- views --------------------------------------------------------------
  const view = () => document.getElementById('view');
  let timers = [];
  function clearTimers() { timers.forEach(clearInterval); timers = []; }
  let charts = [];
  function clearCharts() { charts.forEach((c) => c.destroy()); charts = []; }

  const overviewState = { sort: 'state', dir: 1, zoom: '' };

  async function renderOverview() {
    view().innerHTML =
      '<div class="counters">' +
      '<div class="counter"><b id="c-online">–</b><span>' + t('stations_online') + '</span></div>' +
      '<div class="counter"><b id="c-firing">–</b><span>' + t('alerts_firing') + '</span></div>' +
      '<div class="counter"><b id="c-complete">–</b><span>' + t('completeness') + '</span></div>' +
      '</div><div class="overview">' +
      '<div class="panel"><h3>' + t('map') + '</h3><div class="zoom" id="zoom"></div><svg id="map" preserveAspectRatio="xMidYMid meet"></svg>' + legendHTML() + '</div>' +
      '<div class="panel"><h3>' + t('table') + '</h3><table id="stations"><thead></thead><tbody></tbody></table></div>' +
      '</div>';
    const g = await loadGeo();
    const svg = document.getElementById('map');
    let land = '';
    for (const f of g.features) land += '<path class="land' + (f.id === '704' ? ' vn' : '') + '" d="' + featurePath(f.geometry) + '"></path>';
    // The Hoàng Sa and Trường Sa archipelagos are Vietnamese; Natural Earth's
    // outline omits them, so they are marked explicitly.
    land += '<text class="island" x="' + px(111.6) + '" y="' + py(16.5) + '">QĐ Hoàng Sa</text>';
    land += '<text class="island" x="' + px(113.2) + '" y="' + py(9.5) + '">QĐ Trường Sa</text>';
    svg.innerHTML = '<g id="land">' + land + '</g><g id="markers"></g>';
    await refreshOverview();
    timers.push(setInterval(refreshOverview, REFRESH_MS));
  }

  // legendHTML explains the marker colours: VN_AQI categories for air
  // stations, kind colours for the others (alert severity when one fires),
  // grey when the data is not current.
  function legendHTML() {
    const sw = (c, label) => '<span class="item"><span class="dot" style="background:' + c + '"></span>' + esc(label) + '</span>';
    return '<div class="legend" id="legend"><span class="item muted">VN_AQI:</span>' +
      AQI_CATS.map((c) => sw(c[1], lang === 'vi' ? c[2] : c[3])).join('') +
      '<br>' + sw(KIND_COLOUR.hydrological, t('hydrological')) + sw(KIND_COLOUR.weather, t('weather')) +
      sw(SEV_COLOUR.major, t('legend_alert')) + sw('#808080', t('legend_grey')) + '</div>';
  }

  async function refreshOverview() {
    const [stations, alerts, compl] = await Promise.all([
      fetchStations(),
      fetchAlerts('?state=firing'),
      apiOr('/api/v1/completeness', null),
    ]);
    if (!document.getElementById('map')) return; // navigated away
    const list = Array.isArray(stations) ? stations : stations.stations || [];
    const firing = alerts.filter((a) => a.state === 'firing' || a.state === 'acknowledged');
    const byStation = {};
    for (const a of firing) (byStation[a.station] = byStation[a.station] || []).push(a);
    document.getElementById('c-online').textContent = list.filter((s) => s.status === 'online').length + ' / ' + list.length;
    const cf = document.getElementById('c-firing');
    cf.textContent = alertsError ? '–' : firing.filter((a) => a.state === 'firing').length;
    cf.title = alertsError;
    document.getElementById('c-complete').textContent = completenessText(compl);

    // zoom buttons: whole country, then each province present
    const provinces = [...new Set(list.map((s) => s.province))].filter(Boolean).sort();
    const zoom = document.getElementById('zoom');
    const zoomKey = provinces.join(',');
    if (zoom.dataset.key !== zoomKey) {
      zoom.dataset.key = zoomKey;
      zoom.innerHTML = ['', 'VN', ...provinces].map((p) => '<button type="button" data-prov="' + esc(p) + '">' + esc(p === '' ? t('all_stations') : p === 'VN' ? t('all') : p) + '</button>').join('');
      zoom.querySelectorAll('button').forEach((b) => b.addEventListener('click', () => { overviewState.zoom = b.dataset.prov; refreshOverview(); }));
    }
    zoom.querySelectorAll('button').forEach((b) => b.classList.toggle('active', b.dataset.prov === overviewState.zoom));
    const inZoom = overviewState.zoom && overviewState.zoom !== 'VN' ? list.filter((s) => s.province === overviewState.zoom) : null;
    const vb = viewBoxFor(overviewState.zoom === 'VN' ? null : inZoom && inZoom.length ? inZoom : list.length ? list : null);
    const svg = document.getElementById('map');
    svg.setAttribute('viewBox', vb.join(' '));
    // Markers at least 7 px in radius, so they can be tapped on a phone.
    const box = svg.getBoundingClientRect();
    const unitsPerPx = box.width > 0 && box.height > 0 ? Math.max(vb[2] / box.width, vb[3] / box.height) : 0;
    const r = Math.max(Math.max(vb[2], vb[3]) / 90, 7 * unitsPerPx);
    document.getElementById('land').setAttribute('stroke-width', (r / 6).toFixed(4));
    let markers = '';
    for (const s of list) {
      // a station known only from its series (not yet registered) has no place
      if (typeof s.lat !== 'number' || typeof s.lon !== 'number' || (s.lat === 0 && s.lon === 0)) continue;
      markers += '<circle class="marker" data-station="' + esc(s.id) + '" cx="' + px(s.lon) + '" cy="' + py(s.lat) + '" r="' + r.toFixed(4) +
        '" stroke-width="' + (r / 5).toFixed(4) + '" fill="' + stationColour(s, byStation) + '"><title>' + esc(s.name || s.id) + '</title></circle>';
    }
    document.getElementById('markers').innerHTML = markers;
    document.querySelectorAll('#map .marker').forEach((m) => m.addEventListener('click', () => { location.hash = '#/station/' + encodeURIComponent(m.dataset.station); }));
    renderStationTable(list, byStation);
  }

  // completenessText gives today's share of expected samples that arrived
  // with status 00, counting only what was due so far today (Viet Nam has
  // no daylight saving: local midnight is UTC+7).
  function completenessText(c) {
    if (!c) return '–';
    const rows = c.series || c.stations || c.items || [];
    const secToday = Math.floor((Date.now() / 1000 + 7 * 3600) % 86400);
    let due = 0, good = 0;
    for (const r of rows) {
      const e = r.interval_s ? Math.min(r.expected, Math.floor(secToday / r.interval_s)) : r.expected;
      if (!(e > 0)) continue;
      due += e;
      good += Math.min(e, r.status_00 !== undefined ? r.status_00 : r.good || 0);
    }
    if (!due) return '–';
    return fmtNum(Math.round((good / due) * 1000) / 10) + ' %';
  }

  const STATE_RANK = { fault: 0, offline: 1, stale: 2, online: 3 };
  function renderStationTable(list, byStation) {
    const cols = [
      ['state', t('state')], ['name', t('station')], ['kind', t('kind')], ['province', t('province')], ['value', t('value')], ['age', t('age')],
    ];
    // The kind's main parameter, else the first one the station reports
    // (a wastewater station has no water level).
    const mainOf = (s) => { const vals = s.values || {}; const m = MAIN_PARAM[s.kind]; return vals[m] ? m : sortParams(Object.keys(vals).filter((k) => k !== 'aqi_vn'), m)[0]; };
    const main = (s) => { const m = mainOf(s); const v = m && s.values[m]; return v ? v.v : undefined; };
    const key = {
      state: (s) => (byStation[s.id] ? -1 : STATE_RANK[s.status] ?? 9),
      name: (s) => s.name || s.id, kind: (s) => s.kind, province: (s) => s.province,
      value: (s) => main(s) ?? -Infinity, age: (s) => -(s.last_seen || 0),
    }[overviewState.sort];
    const rows = list.slice().sort((a, b) => { const x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * overviewState.dir; });
    const table = document.getElementById('stations');
    table.tHead.innerHTML = '<tr>' + cols.map(([k, l]) => '<th data-sort="' + k + '"' + (k === 'kind' || k === 'province' || k === 'age' ? ' class="opt"' : k === 'state' ? ' class="state"' : '') + '>' + esc(l) + (overviewState.sort === k ? (overviewState.dir > 0 ? ' ▲' : ' ▼') : '') + '</th>').join('') + '</tr>';
    table.tHead.querySelectorAll('th').forEach((th) => th.addEventListener('click', () => {
      if (overviewState.sort === th.dataset.sort) overviewState.dir = -overviewState.dir; else { overviewState.sort = th.dataset.sort; overviewState.dir = 1; }
      renderStationTable(list, byStation);
    }));
    table.tBodies[0].innerHTML = rows.map((s) => {
      const m = mainOf(s);
      const v = main(s);
      return '<tr class="clickable" data-station="' + esc(s.id) + '">' +
        '<td><span class="dot" style="background:' + (STATUS_COLOUR[s.status] || STATUS_COLOUR.offline) + '"></span><span class="st-text">' + esc(t(s.status || 'offline')) + '</span></td>' +
        '<td class="name">' + esc(s.name || s.id) + '<div class="muted">' + esc(s.id) + '</div></td>' +
        '<td class="opt">' + esc(t(s.kind)) + '</td><td class="opt">' + esc(s.province) + '</td>' +
        '<td class="num">' + (v === undefined ? '–' : esc(paramName(m)) + ' ' + fmtNum(v) + ' ' + esc(paramUnit(m)) + '<span class="dot after" style="background:' + stationColour(s, byStation) + '"></span>') + '</td>' +
        '<td class="age opt">' + fmtAge(s.last_seen) + '</td></tr>';
    }).join('');
    table.tBodies[0].querySelectorAll('tr').forEach((tr) => tr.addEventListener('click', () => { location.hash = '#/station/' + encodeURIComponent(tr.dataset.station); }));
  }

  // ---- station page -------------------------------------------------------
  const RANGES = { '24h': [86400e3, ''], '7d': [7 * 86400e3, '1h'], '30d': [30 * 86400e3, '1h'], '1y': [365 * 86400e3, '1d'] };
  let stationRange = '24h';

  async function renderStation(id) {
    const stations = await fetchStations();
    const list = Array.isArray(stations) ? stations : stations.stations || [];
    const st = list.find((s) => s.id === id);
    if (!st) {
      view().innerHTML = '<p><a href="#/">' + t('back') + '</a></p><h2 id="station-title">' + esc(id) + '</h2><p class="muted">' + esc(t('unknown_station')) + '</p>';
      return;
    }
    const mainParam = MAIN_PARAM[st.kind];
    const params = sortParams(Object.keys(st.values || {}).filter((m) => m !== 'aqi_vn'), mainParam);
    view().innerHTML =
      '<p><a href="#/">' + t('back') + '</a></p>' +
      '<h2 id="station-title">' + esc(st.name || id) + ' <span class="muted">' + esc(id) + ' · ' + esc(t(st.kind)) + ' · ' + esc(st.province) + '</span></h2>' +
      '<h3>' + t('current') + '</h3><div class="values" id="values"></div>' +
      '<div class="ranges">' + Object.keys(RANGES).map((r) => '<button type="button" data-range="' + r + '"' + (r === stationRange ? ' class="active"' : '') + '>' + r + '</button>').join('') +
      ' <a id="csv" href="#">' + t('export') + '</a></div>' +
      '<div class="charts" id="charts"></div>' +
      '<h3>' + t('history') + '</h3><table id="history"><tbody></tbody></table>';
    view().querySelectorAll('[data-range]').forEach((b) => b.addEventListener('click', () => { stationRange = b.dataset.range; renderStation(id); }));
    renderValues(st);
    const [span, step] = RANGES[stationRange];
    const to = Date.now(), from = to - span;
    const csv = new URLSearchParams({ station: id, param: params.join(','), from: String(from), to: String(to), tz: TZ });
    if (step) csv.set('step', step);
    if (token()) csv.set('token', token());
    document.getElementById('csv').href = '/api/v1/export.csv?' + csv.toString();
    await drawCharts(id, params, from, to, step);
    await renderHistory(id);
    timers.push(setInterval(async () => {
      const s2 = await fetchStations();
      const l2 = Array.isArray(s2) ? s2 : s2.stations || [];
      const cur = l2.find((s) => s.id === id);
      if (cur && document.getElementById('values')) renderValues(cur);
    }, REFRESH_MS));
    timers.push(setInterval(() => { if (document.getElementById('charts')) drawCharts(id, params, Date.now() - span, Date.now(), step); }, 30000));
  }

  function renderValues(st) {
    const el = document.getElementById('values');
    const vals = st.values || {};
    const keys = sortParams(Object.keys(vals), MAIN_PARAM[st.kind]);
    if (!keys.length) { el.innerHTML = '<div class="muted">' + t('no_data') + '</div>'; return; }
    el.innerHTML = keys.map((m) => {
      const v = vals[m];
      return '<div class="value" data-metric="' + esc(m) + '"><div class="muted">' + esc(paramName(m)) + '</div><b>' + fmtNum(v.v) + '</b> ' + esc(paramUnit(m)) +
        '<div class="q muted">' + esc(qualityText(v.q)) + ' · ' + fmtAge(v.t) + '</div></div>';
    }).join('');
  }

  // thresholdPlugin draws horizontal limit lines with their names.
  function thresholdPlugin(lines) {
    return {
      hooks: {
        draw: (u) => {
          const ctx = u.ctx;
          for (const [y, label, colour] of lines) {
            const yy = u.valToPos(y, 'y', true);
            if (yy < u.bbox.top || yy > u.bbox.top + u.bbox.height) continue;
            ctx.save();
            ctx.strokeStyle = colour; ctx.fillStyle = colour; ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.beginPath(); ctx.moveTo(u.bbox.left, yy); ctx.lineTo(u.bbox.left + u.bbox.width, yy); ctx.stroke();
            ctx.font = (11 * devicePixelRatio) + 'px sans-serif';
            // Named at the right end, clear of the y-axis labels.
            ctx.textAlign = 'right';
            ctx.fillText(label, u.bbox.left + u.bbox.width - 4 * devicePixelRatio, yy - 3 * devicePixelRatio);
            ctx.restore();
          }
        },
      },
    };
  }

  // tickFormat chooses time-axis labels from the spacing of the ticks, so
  // that a few minutes of data do not show the same HH:MM under every tick.
  function tickFormat(splits) {
    const gap = splits.length > 1 ? splits[1] - splits[0] : 3600;
    if (gap >= 86400) return { day: '2-digit', month: '2-digit' };
    if (gap < 60) return { hour: '2-digit', minute: '2-digit', second: '2-digit' };
    return { hour: '2-digit', minute: '2-digit' };
  }

  async function drawCharts(id, params, from, to, step) {
    const box = document.getElementById('charts');
    if (!box) return;
    clearCharts();
    box.innerHTML = '';
    for (const m of params) {
      const q = new URLSearchParams({ match: m + '{station="' + id.replace(/"/g, '\\"') + '"}', from: String(from), to: String(to), tz: TZ });
      if (step) { q.set('step', step); q.set('agg', 'avg'); }
      const res = await apiOr('/api/v1/series?' + q.toString(), { series: [] });
      const series = (res.series || res.data || [])[0];
      const pts = series ? series.points || [] : [];
      const div = document.createElement('div');
      div.className = 'chart';
      div.dataset.metric = m;
      div.dataset.points = String(pts.length);
      div.innerHTML = '<h4>' + esc(paramName(m)) + (paramUnit(m) ? ' (' + esc(paramUnit(m)) + ')' : '') + '</h4>';
      box.appendChild(div);
      const xs = pts.map((p) => p[0] / 1000), ys = pts.map((p) => p[1]);
      const lines = thresholdsFor(m, id);
      const width = Math.max(280, div.clientWidth - 16);
      const opts = {
        width, height: 220,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), TZ),
        scales: { x: { time: true }, y: { range: (u, min, max) => {
          const lo = Math.min(min, ...lines.map((l) => l[0])), hi = Math.max(max, ...lines.map((l) => l[0]));
          const pad = (hi - lo) * 0.05 || 1;
          return [lo - pad, hi + pad];
        } } },
        axes: [{ stroke: '#8b98a5', grid: { stroke: '#2a3642' }, values: (u, splits) => splits.map((ts) => dtFmt(tickFormat(splits)).format(new Date(ts * 1000))) }, { stroke: '#8b98a5', grid: { stroke: '#2a3642' }, values: (u, vals) => vals.map(fmtNum) }],
        series: [{ label: t('time'), value: (u, ts) => (ts === null || ts === undefined ? '–' : fmtTime(ts * 1000)) }, { label: paramName(m), stroke: '#3fa7ff', width: 1.5, value: (u, v) => fmtNum(v) }],
        plugins: lines.length ? [thresholdPlugin(lines)] : [],
      };
      charts.push(new uPlot(opts, [xs, ys], div));
    }
  }

  async function renderHistory(id) {
    const alerts = await fetchAlerts('?station=' + encodeURIComponent(id));
    const tb = document.querySelector('#history tbody');
    if (!tb) return;
    tb.innerHTML = alerts.length ? sortAlerts(alerts).map((a) => alertRow(a, false)).join('') : noAlertsRow();
  }

  // alertText is the alert's message, or (pending alerts have none yet)
  // the parameter, value and limit in the page's language.
  function alertText(a) {
    if (a.message) return a.message;
    if (a.metric && typeof a.value === 'number') {
      const unit = a.unit || paramUnit(a.metric);
      let s = paramName(a.metric) + ' ' + fmtNum(a.value) + (unit ? ' ' + unit : '');
      if (typeof a.limit === 'number') s += ' (' + t('limit') + ' ' + fmtNum(a.limit) + ')';
      return s;
    }
    return a.rule;
  }
  const alertHead = () => '<thead><tr><th>' + t('severity') + '</th><th>' + t('state_col') + '</th><th>' + t('station') + '</th><th>' +
    t('message') + '</th><th>' + t('since') + '</th><th></th></tr></thead>';

  function alertRow(a, withActions) {
    const actions = withActions && (a.state === 'firing' || a.state === 'pending')
      ? '<button type="button" data-ack="' + esc(a.id) + '">' + t('ack') + '</button> <button type="button" data-silence="' + esc(a.id) + '">' + t('silence') + '</button>' : '';
    return '<tr data-alert="' + esc(a.id) + '" data-state="' + esc(a.state) + '"' + (a.state === 'pending' ? ' class="pending"' : '') + '>' +
      '<td><span class="badge sev-' + esc(a.severity) + '">' + esc(a.level || t('sev_' + a.severity)) + '</span></td>' +
      '<td>' + esc(t(a.state)) + (a.ackBy ? ' <span class="muted">(' + esc(a.ackBy) + ')</span>' : '') + '</td>' +
      '<td>' + esc(a.station) + '</td><td class="msg">' + esc(alertText(a)) + '</td>' +
      '<td>' + fmtTime(a.since) + '</td><td>' + actions + '</td></tr>';
  }
  // Firing first, then acknowledged, then pending; the most severe and the
  // newest first within each.
  const ALERT_STATE_RANK = { firing: 0, acknowledged: 1, pending: 2, resolved: 3 };
  function sortAlerts(list) {
    return list.slice().sort((a, b) => (ALERT_STATE_RANK[a.state] ?? 9) - (ALERT_STATE_RANK[b.state] ?? 9) ||
      (SEV_RANK[b.severity] || 0) - (SEV_RANK[a.severity] || 0) || b.since - a.since);
  }

  // ---- alerts page --------------------------------------------------------
  async function renderAlerts() {
    view().innerHTML =
      '<div class="panel"><h3>' + t('on_duty') + '</h3><div id="oncall" class="muted">–</div></div><br>' +
      '<div class="panel"><h3>' + t('alerts_active') + '</h3><table id="firing" class="alerts">' + alertHead() + '<tbody></tbody></table></div><br>' +
      '<div class="panel"><h3>' + t('recent') + '</h3><table id="recent" class="alerts">' + alertHead() + '<tbody></tbody></table></div>';
    await refreshAlerts();
    timers.push(setInterval(refreshAlerts, REFRESH_MS));
  }

  async function refreshAlerts() {
    const [all, oncall] = await Promise.all([fetchAlerts(''), apiOr('/api/v1/oncall/now', null)]);
    const firing = document.querySelector('#firing tbody');
    if (!firing) return;
    const active = sortAlerts(all.filter((a) => a.state === 'firing' || a.state === 'pending' || a.state === 'acknowledged'));
    const recent = all.filter((a) => a.state === 'resolved').sort((a, b) => b.since - a.since).slice(0, 50);
    firing.innerHTML = active.length ? active.map((a) => alertRow(a, true)).join('') : noAlertsRow();
    document.querySelector('#recent tbody').innerHTML = recent.length ? recent.map((a) => alertRow(a, false)).join('') : noAlertsRow();
    document.getElementById('oncall').innerHTML = oncallText(oncall);
    firing.querySelectorAll('[data-ack]').forEach((b) => b.addEventListener('click', async () => {
      b.disabled = true;
      try { await api('/api/v1/alerts/' + encodeURIComponent(b.dataset.ack) + '/ack', { method: 'POST', body: { by: 'dashboard', note: '' } }); } catch (e) { showBanner(e.message); }
      refreshAlerts();
    }));
    firing.querySelectorAll('[data-silence]').forEach((b) => b.addEventListener('click', async () => {
      const a = active.find((x) => String(x.id) === b.dataset.silence);
      const now = new Date();
      const body = { matchers: [{ name: 'station', value: a.station, type: '=' }], starts_at: now.toISOString(), ends_at: new Date(now.getTime() + 2 * 3600e3).toISOString(), author: 'dashboard', comment: 'silenced from the dashboard' };
      try { await api('/api/v1/silences', { method: 'POST', body }); } catch (e) { showBanner(e.message); }
      refreshAlerts();
    }));
  }

  function oncallText(o) {
    if (!o) return '–';
    const people = Array.isArray(o) ? o : o.people || o.on_call || o.oncall || o.levels || [];
    if (!people.length) return esc(JSON.stringify(o));
    return people.map((p) => {
      if (typeof p === 'string') return esc(p);
      const who = p.name || (p.person && p.person.name) || '';
      const phone = p.phone || (p.person && p.person.phone) || '';
      return esc((p.level !== undefined ? 'L' + p.level + ': ' : '') + who + (phone ? ' (' + phone + ')' : '') + (p.team ? ' · ' + p.team : ''));
    }).join('<br>');
  }

  // ---- routing ------------------------------------------------------------
  function applyLang() {
    document.documentElement.lang = lang;
    document.getElementById('lang').textContent = lang === 'vi' ? 'EN' : 'VI';
    document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.title = t('title') + ' — IOC';
  }
  async function route() {
    clearTimers();
    clearCharts();
    const h = location.hash || '#/';
    try {
      if (h.startsWith('#/station/')) await renderStation(decodeURIComponent(h.slice('#/station/'.length)));
      else if (h.startsWith('#/alerts')) await renderAlerts();
      else await renderOverview();
    } catch (e) {
      console.error(e);
      showBanner(e.message);
    }
  }
  function tick() { document.getElementById('clock').textContent = dtFmt({ dateStyle: 'medium', timeStyle: 'medium' }).format(new Date()) + ' (GMT+7)'; }

  document.getElementById('lang').addEventListener('click', () => {
    lang = lang === 'vi' ? 'en' : 'vi';
    localStorage.setItem('quantrac.lang', lang);
    applyLang();
    route();
  });
  window.addEventListener('hashchange', route);
  applyLang();
  tick();
  setInterval(tick, 1000);
  route();
})();
