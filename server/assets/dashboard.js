// Outpost team dashboard: logs a manager in, reads the team views from the JSON API
// (/v1/views/...) with the filters of the filter bar, draws them as tables and inline SVG
// charts, and follows the live stream (/v1/events) to refresh when a rep's sync lands.
//
// No framework and no build step: plain DOM calls. Every value from the server reaches the
// page through textContent or an attribute, never as markup.

"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

/** The views the page reads, each with the panels that show it. */
const VIEWS = {
  pipeline: ["pipeline"],
  "follow-ups": ["follow-ups", "overdue"],
  funnel: ["funnel", "industry"],
  activity: ["activity"],
  "lost-reasons": ["lost-reasons"],
  "won-profile": ["won-profile"],
  duplicates: ["duplicates"],
};
const FILTERS = ["team", "rep", "source", "industry", "region", "status", "from", "to"];
const STAGES = ["potential", "needs_confirmed", "solution_accepted", "negotiation", "won", "lost"];
const STAGE_COLORS = {
  potential: "#b9d3ee",
  needs_confirmed: "#86b3e0",
  solution_accepted: "#4f8fcf",
  negotiation: "#2a63a8",
  won: "#3a9a6b",
  lost: "#c9736b",
};
const STATUSES = ["to_follow", "following", "dormant", "lost", "potential", "intent", "won"];
const SOURCES = ["trade_show", "referral", "online_campaign", "inbound", "cold_visit"];
const PALETTE = [
  "#3f7cc4", "#e39b3b", "#4fa37a", "#c8575a", "#8b6cc1",
  "#3fa6b3", "#c97fb2", "#8c8f3a", "#7a8a99", "#b5835a",
];
/** A rep whose last sync is older than this is flagged as stale. */
const STALE_MS = 24 * 60 * 60 * 1000;
/** Changes arriving within this time of each other cause one refresh. */
const DEBOUNCE_MS = 300;
/** The server sends a keep-alive comment every 15 s; a silent stream is reconnected. */
const STREAM_SILENCE_MS = 45 * 1000;
const MAX_BACKOFF_MS = 30 * 1000;
const WEEKS_SHOWN = 12;
/** Overdue accounts and duplicate groups listed; their views send this many (`limit`). */
const ROWS_SHOWN = 50;
const LONG_LISTS = ["follow-ups", "duplicates"];

const TOKEN_KEY = "outpost.dashboard.token";
const USER_KEY = "outpost.dashboard.user";
const DEVICE_KEY = "outpost.dashboard.device";

const state = {
  token: null,
  user: null,
  filters: new URLSearchParams(),
  /** View name → `{data, error}` of its latest load (data kept when a refresh fails). */
  views: {},
  /** The currency the pipeline chart shows. */
  currency: null,
  /** Increases with every load, so an older load finishing late is ignored. */
  generation: 0,
  /** Aborts the live stream. */
  stream: null,
  reloadTimer: null,
  /** Filter suggestions seen so far, per filter. */
  choices: Object.fromEntries(FILTERS.map((name) => [name, new Set()])),
};

// ---------------------------------------------------------------------------------------
// Small helpers

const $ = (selector) => document.querySelector(selector);

function setAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    // Through the CSSOM: the page's Content-Security-Policy refuses inline style attributes.
    else if (name === "style") element.style.cssText = String(value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  return element;
}

function children(nodes) {
  return nodes
    .flat(Infinity)
    .filter((node) => node !== null && node !== undefined && node !== false)
    .map((node) => (typeof node === "number" ? String(node) : node));
}

/** An HTML element with attributes and children (strings become text). */
function h(tag, attributes = {}, ...content) {
  const element = setAttributes(document.createElement(tag), attributes);
  element.append(...children(content));
  return element;
}

/** An SVG element with attributes and children. */
function svg(tag, attributes = {}, ...content) {
  const element = setAttributes(document.createElementNS(SVG_NS, tag), attributes);
  element.append(...children(content));
  return element;
}

const numberFormat = new Intl.NumberFormat();
const percentFormat = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 0 });
const number = (value) => numberFormat.format(value);
const percent = (part, whole) => (whole ? percentFormat.format(part / whole) : "–");
const sum = (items, value) => items.reduce((total, item) => total + value(item), 0);

const moneyFormats = new Map();

/** A formatter for `currency` (`null` when the code is not one Intl knows how to write). */
function moneyFormat(currency, compact) {
  const key = `${currency}/${compact}`;
  if (!moneyFormats.has(key)) {
    let format = null;
    try {
      format = new Intl.NumberFormat(undefined, {
        style: "currency",
        currency,
        ...(compact ? { notation: "compact", maximumFractionDigits: 1 } : {}),
      });
    } catch {
      // Not a well-formed currency code: written plainly below.
    }
    moneyFormats.set(key, format);
  }
  return moneyFormats.get(key);
}

/** Minor units of `currency` as money, e.g. 123450 EUR → "€1,234.50". */
function money(minor, currency, compact = false) {
  if (!currency) return number(minor);
  const exact = moneyFormat(currency, false);
  if (!exact) return `${(minor / 100).toFixed(2)} ${currency}`;
  const digits = exact.resolvedOptions().maximumFractionDigits;
  return moneyFormat(currency, compact).format(minor / 10 ** digits);
}

/** "needs_confirmed" → "Needs confirmed". */
function human(text) {
  if (text === null || text === undefined || text === "") return "unspecified";
  const spaced = String(text).replaceAll("_", " ");
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** HH:MM:SS of a time, in the browser's time zone. */
function clock(time) {
  return new Date(time).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
}

/** "just now", "3 min ago", "5 h ago", "2 days ago". */
function ago(time) {
  const seconds = Math.max(0, (Date.now() - new Date(time).getTime()) / 1000);
  if (seconds < 45) return "just now";
  if (seconds < 90 * 60) return `${Math.max(1, Math.round(seconds / 60))} min ago`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

/** A full local date and time, for tooltips. */
const fullTime = (time) => new Date(time).toLocaleString();

/** The text fits in `length` characters, with an ellipsis when cut. */
const fit = (text, length) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** A table; a heading given as `[label, "num"]` right-aligns its column. */
function table(headings, rows, attributes = {}) {
  return h("table", attributes,
    h("thead", {}, h("tr", {}, headings.map((heading) => Array.isArray(heading)
      ? h("th", { class: heading[1] }, heading[0])
      : h("th", {}, heading)))),
    h("tbody", {}, rows));
}

const empty = (text) => h("p", { class: "empty" }, text);

/** The width a chart drawn into `target` gets on screen, so its text is drawn at 1:1. */
const chartWidth = (target, least = 320) => Math.max(least, Math.floor(target.clientWidth));

// ---------------------------------------------------------------------------------------
// The API

/** An error reply of the server (`{code, message}`), or a failure to reach it. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function apiError(response) {
  let code = `http_${response.status}`;
  let message = `the server answered ${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && typeof body.message === "string") {
      code = body.code ?? code;
      message = body.message;
    }
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(response.status, code, message);
}

/** A GET (or other) request with the session's token; throws `ApiError` unless 2xx. */
async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, {
      ...options,
      cache: "no-store",
      headers: { ...options.headers, Authorization: `Bearer ${state.token}` },
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "unreachable", `cannot reach the server (${error.message})`);
  }
  if (!response.ok) throw await apiError(response);
  return response;
}

const viewPath = (view, params) => `/v1/views/${view}${params.size ? `?${params}` : ""}`;

// ---------------------------------------------------------------------------------------
// Session: log in, log out, which part of the page shows

/** This browser's device id for `login`, made once and kept (one browser, one device). */
function deviceId(login) {
  const key = `${DEVICE_KEY}.${login}`;
  let id = localStorage.getItem(key);
  if (!/^[0-9a-f]{32}$/.test(id ?? "")) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(key, id);
  }
  return id;
}

function show(part) {
  $("#login-panel").hidden = part !== "login";
  $("#board").hidden = part !== "board";
  $("#notice").hidden = part !== "notice";
  $("#session").hidden = part === "login";
}

function showLogin(message) {
  stopFollowing();
  show("login");
  const error = $("#login-error");
  error.hidden = !message;
  error.textContent = message ?? "";
  $("#login-name").focus();
}

/** The token no longer works (revoked, user disabled): back to the login form. */
function sessionEnded(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  state.token = null;
  state.user = null;
  showLogin(message);
}

async function logIn(event) {
  event.preventDefault();
  const login = $("#login-name").value.trim();
  const password = $("#login-password").value;
  const button = $("#login-submit");
  button.disabled = true;
  $("#login-error").hidden = true;
  try {
    const response = await fetch("/v1/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ login, password, device: deviceId(login), label: "dashboard (browser)" }),
    });
    if (!response.ok) throw await apiError(response);
    const reply = await response.json();
    sessionStorage.setItem(TOKEN_KEY, reply.token);
    sessionStorage.setItem(USER_KEY, JSON.stringify(reply.user));
    $("#login-password").value = "";
    start();
  } catch (error) {
    showLogin(error instanceof ApiError ? error.message : `cannot reach the server (${error.message})`);
  } finally {
    button.disabled = false;
  }
}

/** Forgets the token here and revokes it on the server (best effort). */
async function logOut() {
  const login = state.user?.login;
  if (state.token && login) {
    const device = deviceId(login);
    await api(`/v1/me/devices/${device}`, { method: "DELETE" }).catch(() => {});
  }
  state.views = {};
  sessionEnded(null);
}

/** A rep's token: the views are closed to them. */
function forbidden(message) {
  stopFollowing();
  show("notice");
  const who = state.user ? `You are logged in as ${state.user.login} (${state.user.role}).` : "";
  $("#notice").replaceChildren(
    h("h2", {}, "The dashboard is for managers"),
    h("p", {}, `${who} Team figures are open to the managers of a team and to admins.`),
    h("p", { class: "detail" }, message),
  );
}

/** Shows the board for the stored session (or the login form without one). */
function start() {
  state.token = sessionStorage.getItem(TOKEN_KEY);
  try {
    state.user = JSON.parse(sessionStorage.getItem(USER_KEY) ?? "null");
  } catch {
    state.user = null;
  }
  if (!state.token || !state.user) {
    showLogin();
    return;
  }
  show("board");
  $("#user").textContent = `${state.user.login} · ${state.user.role}`;
  readFiltersFromAddress();
  loadTeams();
  reload().then((loaded) => {
    if (loaded && !$("#board").hidden) follow();
  });
}

// ---------------------------------------------------------------------------------------
// Filters

function readFiltersFromAddress() {
  const given = new URLSearchParams(location.hash.slice(1));
  state.filters = new URLSearchParams();
  for (const name of FILTERS) {
    const value = given.get(name)?.trim();
    if (value) state.filters.set(name, value);
  }
  for (const name of FILTERS) $(`#filter-${name}`).value = state.filters.get(name) ?? "";
  describeFilters();
}

function applyFilters(event) {
  event?.preventDefault();
  state.filters = new URLSearchParams();
  for (const name of FILTERS) {
    const value = $(`#filter-${name}`).value.trim();
    if (value) state.filters.set(name, value);
  }
  // The address keeps the filters, so a reload or a shared link shows the same selection.
  const hash = state.filters.size ? `#${state.filters}` : "";
  history.replaceState(null, "", `${location.pathname}${location.search}${hash}`);
  describeFilters();
  reload();
}

function clearFilters() {
  for (const name of FILTERS) $(`#filter-${name}`).value = "";
  applyFilters();
}

/** Sets one filter (from a click on a chart) and applies it. */
function filterOn(name, value) {
  $(`#filter-${name}`).value = value;
  applyFilters();
}

function describeFilters() {
  const parts = [...state.filters].map(([name, value]) => {
    if (name === "from") return `created from ${value}`;
    if (name === "to") return `created up to ${value}`;
    return `${name} ${value}`;
  });
  $("#active-filters").textContent = parts.length
    ? `Showing ${parts.join(", ")}.`
    : "All accounts of your teams.";
}

/** Teams and their members, for the team and rep suggestions. */
async function loadTeams() {
  try {
    const teams = await (await api("/v1/admin/teams")).json();
    for (const team of teams) {
      state.choices.team.add(team.name);
      for (const member of team.members) state.choices.rep.add(member);
    }
    fillChoices();
  } catch {
    // Suggestions only: the views still load, and reps are learnt from them.
  }
}

function learnChoices() {
  const views = Object.fromEntries(Object.entries(state.views).map(([view, result]) => [view, result.data]));
  for (const item of allFreshness()) state.choices.rep.add(item.rep);
  for (const row of views.funnel?.rows ?? []) {
    if (row.value && state.choices[row.dimension]) state.choices[row.dimension].add(row.value);
  }
  for (const value of SOURCES) state.choices.source.add(value);
  for (const value of STATUSES) state.choices.status.add(value);
  fillChoices();
}

function fillChoices() {
  for (const [name, values] of Object.entries(state.choices)) {
    const list = $(`#choices-${name}`);
    if (!list) continue;
    list.replaceChildren(...[...values].sort().map((value) => h("option", { value })));
  }
}

// ---------------------------------------------------------------------------------------
// Loading the views

/** Loads every view with the current filters and redraws; false when the session ended. */
async function reload() {
  const generation = ++state.generation;
  $("#board").setAttribute("aria-busy", "true");
  const results = await Promise.all(Object.keys(VIEWS).map((view) => {
    const params = new URLSearchParams(state.filters);
    if (LONG_LISTS.includes(view)) params.set("limit", ROWS_SHOWN);
    return api(viewPath(view, params))
      .then((response) => response.json())
      .then((data) => ({ view, data }), (error) => ({ view, error }));
  }));
  if (generation !== state.generation) return true;
  $("#board").removeAttribute("aria-busy");
  const unauthenticated = results.find((result) => result.error?.status === 401);
  if (unauthenticated) {
    sessionEnded(`Please log in again: ${unauthenticated.error.message}`);
    return false;
  }
  const refused = results.find((result) => result.error?.status === 403);
  if (refused) {
    forbidden(refused.error.message);
    return false;
  }
  for (const { view, data, error } of results) {
    // A failed refresh keeps the figures shown before, with the failure said on the panel.
    state.views[view] = error ? { data: state.views[view]?.data, error } : { data };
  }
  $("#updated").textContent = `updated ${clock(new Date())}`;
  render();
  return true;
}

function scheduleReload() {
  clearTimeout(state.reloadTimer);
  state.reloadTimer = setTimeout(reload, DEBOUNCE_MS);
}

// ---------------------------------------------------------------------------------------
// The live stream: fetch + a reader, since EventSource cannot send the token

function setLive(on) {
  const live = $("#live");
  live.dataset.state = on ? "on" : "off";
  live.textContent = on ? "live" : "reconnecting…";
  live.title = on
    ? "Following the server: the figures refresh when a rep syncs."
    : "The live connection dropped; retrying.";
}

function stopFollowing() {
  state.stream?.abort();
  state.stream = null;
  clearTimeout(state.reloadTimer);
}

/** Keeps the live stream open, reconnecting with backoff, until `stopFollowing`. */
function follow() {
  stopFollowing();
  const controller = new AbortController();
  state.stream = controller;
  const { signal } = controller;
  (async () => {
    let delay = 1000;
    while (!signal.aborted) {
      try {
        await readEvents(signal, () => {
          // Catch up on whatever was committed before the stream was open: between the
          // first load and the connection, or while disconnected.
          scheduleReload();
          delay = 1000;
          setLive(true);
        });
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          sessionEnded(`Please log in again: ${error.message}`);
          return;
        }
      }
      if (signal.aborted) return;
      setLive(false);
      await sleep(delay * (1 + Math.random() / 2), signal);
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
  })();
}

/** Reads one connection of `/v1/events` until it ends, goes silent, or `signal` aborts. */
async function readEvents(signal, opened) {
  const connection = new AbortController();
  const abort = () => connection.abort();
  signal.addEventListener("abort", abort, { once: true });
  let silence = setTimeout(abort, STREAM_SILENCE_MS);
  const heard = () => {
    clearTimeout(silence);
    silence = setTimeout(abort, STREAM_SILENCE_MS);
  };
  try {
    const response = await api("/v1/events", {
      headers: { Accept: "text/event-stream" },
      signal: connection.signal,
    });
    opened();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parse = eventParser((event) => {
      if (event === "change") scheduleReload();
    });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      heard();
      parse(value);
    }
  } finally {
    clearTimeout(silence);
    signal.removeEventListener("abort", abort);
  }
}

/**
 * A server-sent events parser fed with text chunks; calls `dispatch(event, data)` for each
 * complete event. Comments (the keep-alives) are skipped. Lines may end in LF, CRLF or CR
 * (a CRLF split between two chunks counts as two line ends; the server sends LF).
 */
function eventParser(dispatch) {
  let buffer = "";
  let event = "";
  let data = [];
  return (chunk) => {
    buffer += chunk;
    const lines = buffer.split(/\r\n|\n|\r/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === "") {
        if (data.length) dispatch(event || "message", data.join("\n"));
        event = "";
        data = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
    }
  };
}

// ---------------------------------------------------------------------------------------
// CSV downloads: through fetch (the token goes in a header), then a link to the blob

function addCsvButtons() {
  for (const holder of document.querySelectorAll(".csv[data-view]")) {
    const tables = holder.dataset.tables.split(" ");
    holder.replaceChildren(...tables.map((name) => h("button", {
      type: "button",
      class: "quiet small",
      title: `Download ${name.replaceAll("_", " ")} as CSV (with the filters applied)`,
      "data-testid": `csv-${holder.dataset.view}-${name}`,
      onclick: (event) => download(holder.dataset.view, name, event.currentTarget),
    }, tables.length > 1 ? `CSV ${name.replaceAll("_", " ")}` : "CSV")));
  }
}

async function download(view, name, button) {
  const params = new URLSearchParams(state.filters);
  params.set("format", "csv");
  params.set("table", name);
  button.disabled = true;
  try {
    const blob = await (await api(viewPath(view, params))).blob();
    const url = URL.createObjectURL(blob);
    const day = new Date().toISOString().slice(0, 10);
    const link = h("a", { href: url, download: `outpost-${view}-${name}-${day}.csv`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60 * 1000);
  } catch (error) {
    if (error.status === 401) {
      sessionEnded(`Please log in again: ${error.message}`);
      return;
    }
    const message = button.closest(".panel").querySelector(".panel-message");
    if (message) {
      message.hidden = false;
      message.textContent = `The CSV download failed: ${error.message}`;
    }
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------
// Drawing

function render() {
  renderTiles();
  renderPipeline();
  renderFunnel();
  renderIndustries();
  renderActivity();
  renderFreshness();
  renderDiscipline();
  renderOverdue();
  renderDuplicates();
  renderLostReasons();
  renderWonProfile();
  learnChoices();
}

/** A panel's view data (or undefined), with its computed time and any failure shown. */
function panelData(panel) {
  const view = Object.keys(VIEWS).find((name) => VIEWS[name].includes(panel));
  const section = document.querySelector(`[data-panel="${panel}"]`);
  const result = state.views[view];
  const message = section.querySelector(".panel-message");
  const error = result?.error;
  message.hidden = !error;
  if (error) {
    message.textContent = error.status === 404
      ? "This view is not available on this server."
      : `Could not refresh: ${error.message}`;
  }
  const computed = section.querySelector(".computed");
  computed.textContent = result?.data ? `computed ${clock(result.data.computed_at)}` : "";
  computed.title = result?.data ? fullTime(result.data.computed_at) : "";
  return result?.data;
}

/** Sums of `field` per currency over pipeline cells, largest first (no-amount cells left out). */
function byCurrency(cells, field) {
  const totals = new Map();
  for (const cell of cells) {
    if (cell.currency) totals.set(cell.currency, (totals.get(cell.currency) ?? 0) + cell[field]);
  }
  return new Map([...totals].sort((a, b) => b[1] - a[1]));
}

function moneyTile(selector, pipeline, field, testid) {
  const tile = $(selector);
  const totals = pipeline ? byCurrency(pipeline.total, field) : new Map();
  tile.replaceChildren(...[...totals].map(([currency, minor]) => h("span", {
    class: "amount",
    "data-testid": testid,
    "data-currency": currency,
    "data-minor": minor,
  }, money(minor, currency))));
  if (!totals.size) tile.textContent = pipeline ? "none" : "–";
}

function renderTiles() {
  const pipeline = state.views.pipeline?.data;
  $("#tile-accounts").textContent = pipeline ? number(pipeline.accounts) : "–";
  $("#tile-count").textContent = pipeline ? number(sum(pipeline.total, (cell) => cell.count)) : "–";
  moneyTile("#tile-total", pipeline, "total_minor", "pipeline-total-value");
  moneyTile("#tile-weighted", pipeline, "weighted_minor", "pipeline-weighted-value");
  const followUps = state.views["follow-ups"]?.data;
  $("#tile-overdue").textContent = followUps ? number(followUps.overdue_total) : "–";
  const accounts = followUps ? sum(followUps.discipline, (row) => row.accounts) : 0;
  const within = followUps ? sum(followUps.discipline, (row) => row.within_cadence) : 0;
  $("#tile-cadence").textContent = accounts ? percent(within, accounts) : "–";
}

/** Stages in pipeline order, then any stage this page does not know, by name. */
function stagesOf(cells) {
  const seen = new Set(cells.map((cell) => cell.stage));
  return [...STAGES.filter((stage) => seen.has(stage)), ...[...seen].filter((s) => !STAGES.includes(s)).sort()];
}

const stageColor = (stage) => STAGE_COLORS[stage] ?? "#9aa5b1";

function renderPipeline() {
  const pipeline = panelData("pipeline");
  const chart = $("#pipeline-chart");
  const reps = $("#pipeline-reps");
  chart.replaceChildren();
  reps.replaceChildren();
  if (!pipeline) return;
  if (!pipeline.total.length) {
    chart.append(empty("No opportunities in this selection."));
    $("#currency-choice").hidden = true;
    return;
  }

  // One currency at a time: amounts in different currencies are never added up.
  const currencies = [...byCurrency(pipeline.total, "total_minor").keys()];
  if (!currencies.includes(state.currency)) state.currency = currencies[0] ?? null;
  const select = $("#currency");
  select.replaceChildren(...currencies.map((code) => h("option", { value: code, selected: code === state.currency }, code)));
  $("#currency-choice").hidden = currencies.length < 2;
  const currency = state.currency;

  const stages = stagesOf(pipeline.total);
  const cell = (cells, stage) => cells.find((c) => c.stage === stage && c.currency === currency);
  const rows = stages.map((stage) => ({
    stage,
    count: sum(pipeline.total.filter((c) => c.stage === stage), (c) => c.count),
    total: cell(pipeline.total, stage)?.total_minor ?? 0,
    weighted: cell(pipeline.total, stage)?.weighted_minor ?? 0,
  }));
  const max = Math.max(1, ...rows.map((row) => row.total));
  const width = chartWidth(chart, 480);
  const rowHeight = 38;
  const label = 150;
  const valueWidth = 190;
  const barSpace = width - label - valueWidth - 16;
  chart.append(svg("svg", {
    viewBox: `0 0 ${width} ${rows.length * rowHeight + 8}`,
    role: "img",
    "aria-label": `Pipeline by stage in ${currency ?? "no currency"}`,
  }, rows.map((row, i) => {
    const y = i * rowHeight + 4;
    const totalWidth = (row.total / max) * barSpace;
    const weightedWidth = (row.weighted / max) * barSpace;
    return svg("g", { "data-stage": row.stage },
      svg("title", {}, `${human(row.stage)}: ${row.count} opportunities, ${money(row.total, currency)} total, ${money(row.weighted, currency)} weighted`),
      svg("text", { x: 0, y: y + 16, class: "label" }, human(row.stage)),
      svg("text", { x: 0, y: y + 31, class: "sub" }, `${number(row.count)} ${row.count === 1 ? "opportunity" : "opportunities"}`),
      svg("rect", { x: label, y: y + 6, width: barSpace, height: 22, rx: 3, class: "track" }),
      svg("rect", { x: label, y: y + 6, width: totalWidth, height: 22, rx: 3, fill: stageColor(row.stage), "fill-opacity": 0.4 }),
      svg("rect", { x: label, y: y + 6, width: weightedWidth, height: 22, rx: 3, fill: stageColor(row.stage) }),
      svg("text", { x: label + barSpace + 12, y: y + 16, class: "value" }, money(row.total, currency)),
      svg("text", { x: label + barSpace + 12, y: y + 31, class: "sub" }, `${money(row.weighted, currency)} weighted`));
  })));
  chart.append(h("p", { class: "legend" },
    h("span", { class: "swatch light" }), "total ",
    h("span", { class: "swatch dark" }), "weighted by probability"));

  // Per rep: opportunities, amounts in the chosen currency, and the stage mix as one bar.
  const byRep = new Map();
  for (const c of pipeline.by_rep) {
    if (!byRep.has(c.rep)) byRep.set(c.rep, []);
    byRep.get(c.rep).push(c);
  }
  const repRows = [...byRep].map(([rep, cells]) => ({
    rep,
    cells,
    count: sum(cells, (c) => c.count),
    total: sum(cells.filter((c) => c.currency === currency), (c) => c.total_minor),
    weighted: sum(cells.filter((c) => c.currency === currency), (c) => c.weighted_minor),
  })).sort((a, b) => b.weighted - a.weighted || b.count - a.count || a.rep.localeCompare(b.rep));
  reps.append(table(
    ["Rep", ["Opportunities", "num"], [`Total ${currency ?? ""}`, "num"], [`Weighted ${currency ?? ""}`, "num"], "By stage"],
    repRows.map((row) => h("tr", { "data-rep": row.rep },
      h("td", {}, row.rep),
      h("td", { class: "num", "data-testid": "rep-count" }, number(row.count)),
      h("td", { class: "num", "data-testid": "rep-total", "data-minor": row.total }, money(row.total, currency)),
      h("td", { class: "num", "data-testid": "rep-weighted", "data-minor": row.weighted }, money(row.weighted, currency)),
      h("td", {}, stageMix(row.cells, stages)))),
    { "data-testid": "pipeline-reps" }));
}

/** One bar split by the number of opportunities in each stage. */
function stageMix(cells, stages) {
  const total = sum(cells, (c) => c.count);
  const width = 160;
  let x = 0;
  return svg("svg", { viewBox: `0 0 ${width} 14`, class: "mix", role: "img", "aria-label": "opportunities by stage" },
    stages.map((stage) => {
      const count = sum(cells.filter((c) => c.stage === stage), (c) => c.count);
      if (!count) return null;
      const w = (count / total) * width;
      const part = svg("rect", { x, y: 0, width: w, height: 14, fill: stageColor(stage) },
        svg("title", {}, `${human(stage)}: ${count}`));
      x += w;
      return part;
    }));
}

function renderFunnel() {
  const funnel = panelData("funnel");
  const chart = $("#funnel-chart");
  const breakdown = $("#funnel-table");
  chart.replaceChildren();
  breakdown.replaceChildren();
  if (!funnel) return;
  const all = funnel.rows.find((row) => row.dimension === "all");
  if (!all || !all.accounts) {
    chart.append(empty("No accounts in this selection."));
    return;
  }
  const steps = [
    { key: "accounts", label: "Accounts", value: all.accounts },
    { key: "intent", label: "Intent or won", value: all.intent },
    { key: "won", label: "Won", value: all.won },
  ];
  const width = chartWidth(chart);
  const label = 120;
  const stepHeight = 44;
  const barSpace = width - label;
  chart.append(svg("svg", { viewBox: `0 0 ${width} ${steps.length * stepHeight}`, role: "img", "aria-label": "Funnel" },
    steps.map((step, i) => {
      const w = Math.max(3, (step.value / all.accounts) * barSpace);
      const y = i * stepHeight;
      return svg("g", { "data-step": step.key },
        svg("title", {}, `${step.label}: ${step.value} of ${all.accounts} accounts`),
        svg("text", { x: 0, y: y + 18, class: "label" }, step.label),
        svg("text", { x: 0, y: y + 33, class: "sub" }, `${number(step.value)} · ${percent(step.value, all.accounts)}`),
        svg("rect", { x: label + (barSpace - w) / 2, y: y + 4, width: w, height: stepHeight - 10, rx: 4, fill: ["#86b3e0", "#4f8fcf", "#3a9a6b"][i] }));
    })));
  chart.append(h("p", { class: "facts" },
    h("span", { "data-testid": "funnel-accounts" }, number(all.accounts)), " accounts → ",
    h("span", { "data-testid": "funnel-intent" }, number(all.intent)), " with intent → ",
    h("span", { "data-testid": "funnel-won" }, number(all.won)), ` won (${percent(all.won, all.intent)} of intent). `,
    `${number(all.converted)} converted from lead`,
    all.cycle_days_avg === null ? "." : `, in ${number(Math.round(all.cycle_days_avg))} days on average.`));

  const dimension = $("#funnel-dimension").value;
  const rows = funnel.rows.filter((row) => row.dimension === dimension).sort((a, b) => b.accounts - a.accounts);
  breakdown.append(rows.length
    ? table([human(dimension), ["Accounts", "num"], ["Intent", "num"], ["Won", "num"], ["Win rate", "num"], ["Cycle (days)", "num"]],
      rows.map((row) => h("tr", { [`data-${dimension}`]: row.value ?? "" },
        h("td", {}, row.value ?? "unspecified"),
        h("td", { class: "num" }, number(row.accounts)),
        h("td", { class: "num" }, number(row.intent)),
        h("td", { class: "num" }, number(row.won)),
        h("td", { class: "num" }, percent(row.won, row.accounts)),
        h("td", { class: "num" }, row.cycle_days_avg === null ? "–" : number(Math.round(row.cycle_days_avg))))),
      { "data-testid": `funnel-by-${dimension}` })
    : empty(`No breakdown by ${dimension}.`));
}

function renderIndustries() {
  const funnel = panelData("industry");
  const chart = $("#industry-chart");
  chart.replaceChildren();
  if (!funnel) return;
  let slices = funnel.rows
    .filter((row) => row.dimension === "industry" && row.accounts > 0)
    .map((row) => ({ value: row.value, label: row.value ?? "unspecified", accounts: row.accounts, won: row.won }))
    .sort((a, b) => b.accounts - a.accounts);
  if (!slices.length) {
    chart.append(empty("No accounts in this selection."));
    return;
  }
  if (slices.length > PALETTE.length) {
    const rest = slices.slice(PALETTE.length - 1);
    slices = [...slices.slice(0, PALETTE.length - 1), {
      value: null,
      label: `${rest.length} others`,
      accounts: sum(rest, (s) => s.accounts),
      won: sum(rest, (s) => s.won),
    }];
  }
  const total = sum(slices, (s) => s.accounts);
  const size = 200;
  const r = 92;
  const c = size / 2;
  let angle = -Math.PI / 2;
  const pie = svg("svg", { viewBox: `0 0 ${size} ${size}`, class: "pie-chart", role: "img", "aria-label": "Accounts by industry" },
    slices.map((slice, i) => {
      const title = svg("title", {}, `${slice.label}: ${slice.accounts} accounts (${percent(slice.accounts, total)}), ${slice.won} won`);
      if (slices.length === 1) return svg("circle", { cx: c, cy: c, r, fill: PALETTE[i] }, title);
      const start = angle;
      angle += (slice.accounts / total) * 2 * Math.PI;
      const large = angle - start > Math.PI ? 1 : 0;
      const point = (a) => `${c + r * Math.cos(a)} ${c + r * Math.sin(a)}`;
      return svg("path", { d: `M ${c} ${c} L ${point(start)} A ${r} ${r} 0 ${large} 1 ${point(angle)} Z`, fill: PALETTE[i] }, title);
    }),
    svg("circle", { cx: c, cy: c, r: 48, class: "hole" }),
    svg("text", { x: c, y: c - 2, "text-anchor": "middle", class: "pie-total" }, number(total)),
    svg("text", { x: c, y: c + 16, "text-anchor": "middle", class: "sub" }, "accounts"));
  const legend = h("ul", { class: "pie-legend" }, slices.map((slice, i) => h("li", {},
    h("span", { class: "swatch", style: `background:${PALETTE[i]}` }),
    slice.value
      ? h("button", { type: "button", class: "link", title: `Show only ${slice.value}`, onclick: () => filterOn("industry", slice.value) }, slice.label)
      : h("span", {}, slice.label),
    h("span", { class: "count" }, `${number(slice.accounts)} · ${percent(slice.accounts, total)}`))));
  chart.append(pie, legend);
}

/** Mondays from the first to the last week given, one week apart. */
function weekRange(weeks) {
  if (!weeks.length) return [];
  const sorted = [...weeks].sort();
  const day = 24 * 60 * 60 * 1000;
  const last = Date.parse(`${sorted[sorted.length - 1]}T00:00:00Z`);
  const range = [];
  for (let t = Date.parse(`${sorted[0]}T00:00:00Z`); t <= last; t += 7 * day) {
    range.push(new Date(t).toISOString().slice(0, 10));
  }
  return range;
}

function renderActivity() {
  const activity = panelData("activity");
  const chart = $("#activity-chart");
  chart.replaceChildren();
  if (!activity) return;
  const allWeeks = weekRange([...new Set(activity.weeks.map((w) => w.week))]);
  if (!allWeeks.length) {
    chart.append(empty("No follow-ups in this selection."));
    return;
  }
  const weeks = allWeeks.slice(-WEEKS_SHOWN);
  const counts = new Map();
  for (const item of activity.weeks) {
    if (!counts.has(item.rep)) counts.set(item.rep, new Map());
    counts.get(item.rep).set(item.week, (counts.get(item.rep).get(item.week) ?? 0) + item.follow_ups);
  }
  const reps = [...counts].map(([rep, byWeek]) => ({ rep, byWeek, total: sum(weeks, (w) => byWeek.get(w) ?? 0) }))
    .sort((a, b) => b.total - a.total || a.rep.localeCompare(b.rep));
  const max = Math.max(1, ...reps.flatMap((r) => weeks.map((w) => r.byWeek.get(w) ?? 0)));
  const width = chartWidth(chart, 480);
  const label = 90;
  const totalWidth = 70;
  const rowHeight = 40;
  const slot = (width - label - totalWidth) / weeks.length;
  const height = reps.length * rowHeight + 22;
  chart.append(svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Follow-ups per rep and week" },
    reps.map((row, i) => {
      const y = i * rowHeight;
      return svg("g", { "data-rep": row.rep },
        svg("text", { x: 0, y: y + rowHeight / 2 + 4, class: "label" }, fit(row.rep, 12)),
        svg("line", { x1: label, x2: width - totalWidth, y1: y + rowHeight - 4, y2: y + rowHeight - 4, class: "axis" }),
        weeks.map((week, k) => {
          const count = row.byWeek.get(week) ?? 0;
          const barHeight = (count / max) * (rowHeight - 10);
          return svg("rect", {
            x: label + k * slot + slot * 0.15,
            y: y + rowHeight - 4 - barHeight,
            width: slot * 0.7,
            height: barHeight,
            rx: 2,
            class: "activity-bar",
          }, svg("title", {}, `${row.rep}, week of ${week}: ${count} follow-ups`));
        }),
        svg("text", { x: width, y: y + rowHeight / 2 + 4, "text-anchor": "end", class: "value" }, number(row.total)));
    }),
    weeks.map((week, k) => (k % Math.ceil(weeks.length / 6) === 0 || k === weeks.length - 1)
      ? svg("text", { x: label + k * slot + slot / 2, y: height - 6, "text-anchor": "middle", class: "sub" }, week.slice(5))
      : null)));
  chart.append(h("p", { class: "hint" },
    `Weeks starting ${weeks[0]} to ${weeks[weeks.length - 1]}; the number on the right is each rep's total.`,
    allWeeks.length > weeks.length ? ` Showing the last ${WEEKS_SHOWN} weeks; the CSV has all ${allWeeks.length}.` : ""));
}

/** Each rep's freshness from every view loaded, the newest times winning. */
function allFreshness() {
  const reps = new Map();
  const newer = (a, b) => (!a ? b : !b ? a : Date.parse(a) >= Date.parse(b) ? a : b);
  for (const result of Object.values(state.views)) {
    for (const item of result.data?.freshness ?? []) {
      const seen = reps.get(item.rep) ?? { rep: item.rep, last_sync: null, newest_follow_up: null };
      seen.last_sync = newer(seen.last_sync, item.last_sync ?? null);
      seen.newest_follow_up = newer(seen.newest_follow_up, item.newest_follow_up ?? null);
      reps.set(item.rep, seen);
    }
  }
  return [...reps.values()].sort((a, b) => a.rep.localeCompare(b.rep));
}

function renderFreshness() {
  const target = $("#freshness");
  const reps = allFreshness();
  target.replaceChildren(reps.length
    ? table(["Rep", "Last sync", "Newest follow-up", ""], reps.map((item) => {
      const stale = !item.last_sync || Date.now() - Date.parse(item.last_sync) > STALE_MS;
      return h("tr", { "data-rep": item.rep, class: stale ? "stale" : null },
        h("td", {}, item.rep),
        h("td", {
          "data-testid": "last-sync",
          "data-last-sync": item.last_sync ?? "",
          title: item.last_sync ? fullTime(item.last_sync) : null,
        }, item.last_sync ? `last sync ${ago(item.last_sync)}` : "never synced"),
        h("td", { title: item.newest_follow_up ? fullTime(item.newest_follow_up) : null },
          item.newest_follow_up ? ago(item.newest_follow_up) : "–"),
        h("td", {}, stale ? h("span", { class: "badge warn", title: "No sync for more than 24 hours: figures may be behind." }, "stale") : null));
    }), { "data-testid": "freshness-table" })
    : empty("No reps in this selection."));
}

function renderDiscipline() {
  const followUps = panelData("follow-ups");
  const target = $("#discipline");
  target.replaceChildren();
  if (!followUps) return;
  const reps = new Map();
  for (const row of followUps.discipline) {
    const rep = reps.get(row.rep) ?? { rep: row.rep, accounts: 0, within: 0, followUps: 0, late: 0 };
    rep.accounts += row.accounts;
    rep.within += row.within_cadence;
    reps.set(row.rep, rep);
  }
  for (const row of followUps.late) {
    const rep = reps.get(row.rep) ?? { rep: row.rep, accounts: 0, within: 0, followUps: 0, late: 0 };
    rep.followUps += row.follow_ups;
    rep.late += row.late;
    reps.set(row.rep, rep);
  }
  const rows = [...reps.values()].sort((a, b) => a.rep.localeCompare(b.rep));
  target.append(rows.length
    ? table(["Rep", ["Accounts", "num"], "Within cadence", ["Follow-ups", "num"], ["Logged late", "num"]],
      rows.map((row) => h("tr", { "data-rep": row.rep },
        h("td", {}, row.rep),
        h("td", { class: "num" }, number(row.accounts)),
        h("td", {}, meter(row.within, row.accounts)),
        h("td", { class: "num" }, number(row.followUps)),
        h("td", { class: "num" }, row.late ? `${number(row.late)} (${percent(row.late, row.followUps)})` : "0"))))
    : empty("No accounts in this selection."));
}

/** A small bar with its percentage. */
function meter(part, whole) {
  const share = whole ? part / whole : 0;
  return h("span", { class: "meter" },
    svg("svg", { viewBox: "0 0 100 10", role: "img", "aria-label": percent(part, whole) },
      svg("rect", { x: 0, y: 0, width: 100, height: 10, rx: 2, class: "track" }),
      svg("rect", { x: 0, y: 0, width: share * 100, height: 10, rx: 2, class: share >= 0.8 ? "good" : share >= 0.5 ? "fair" : "poor" })),
    h("span", {}, percent(part, whole)));
}

function renderOverdue() {
  const followUps = panelData("overdue");
  const target = $("#overdue");
  target.replaceChildren();
  if (!followUps) return;
  if (!followUps.overdue.length) {
    target.append(empty("Nothing overdue. Every account has been followed up in time."));
    return;
  }
  const day = 24 * 60 * 60 * 1000;
  target.append(table(["Account", "Rep", "Priority", "Next contact was due", ["Overdue by", "num"]],
    followUps.overdue.map((row) => h("tr", { "data-account": row.account, "data-rep": row.rep },
      h("td", {}, row.name || "(no name)"),
      h("td", {}, row.rep),
      h("td", {}, row.priority ? row.priority.toUpperCase() : "–"),
      h("td", { title: fullTime(row.next_due) }, new Date(row.next_due).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" })),
      h("td", { class: "num" }, `${number(Math.max(0, Math.floor((Date.now() - Date.parse(row.next_due)) / day)))} days`)))));
  if (followUps.overdue_total > followUps.overdue.length) {
    target.append(h("p", { class: "hint" },
      `The ${followUps.overdue.length} most overdue of ${number(followUps.overdue_total)}; the CSV has all.`));
  }
}

/** `name:acmetools` → "same name (acmetools)". */
function matchKey(key) {
  const colon = key.indexOf(":");
  return colon < 0 ? key : `same ${key.slice(0, colon)} (${key.slice(colon + 1)})`;
}

function renderDuplicates() {
  const duplicates = panelData("duplicates");
  const target = $("#duplicates");
  target.replaceChildren();
  if (!duplicates) return;
  if (!duplicates.groups.length) {
    target.append(empty("No likely duplicates."));
    return;
  }
  target.append(table(["Match", "Accounts"], duplicates.groups.map((group) => h("tr", { "data-key": group.key },
    h("td", {}, matchKey(group.key)),
    h("td", {}, h("ul", { class: "plain" }, group.accounts.map((account) => h("li", { "data-account": account.account },
      account.name || "(no name)", " ", h("span", { class: "muted" }, `· ${account.rep}`))))))),
  { "data-testid": "duplicates-table" }));
  if (duplicates.groups_total > duplicates.groups.length) {
    target.append(h("p", { class: "hint" },
      `${duplicates.groups.length} of ${number(duplicates.groups_total)} groups; the CSV has all.`));
  }
}

/** Horizontal bars of `{label, value}` items, largest first, `width` wide. */
function barList(items, color, unit, width) {
  const label = 150;
  const rowHeight = 24;
  const sorted = [...items].sort((a, b) => b.value - a.value);
  const max = Math.max(1, ...sorted.map((item) => item.value));
  const barSpace = width - label - 50;
  return svg("svg", { viewBox: `0 0 ${width} ${sorted.length * rowHeight + 4}`, role: "img", "aria-label": unit },
    sorted.map((item, i) => {
      const y = i * rowHeight + 2;
      return svg("g", {},
        svg("title", {}, `${item.label}: ${item.value} ${unit}`),
        svg("text", { x: 0, y: y + 15, class: "label" }, fit(item.label, 22)),
        svg("rect", { x: label, y: y + 4, width: Math.max(2, (item.value / max) * barSpace), height: 15, rx: 2, fill: color }),
        svg("text", { x: label + (item.value / max) * barSpace + 6, y: y + 16, class: "value" }, number(item.value)));
    }));
}

function renderLostReasons() {
  const lost = panelData("lost-reasons");
  const target = $("#lost-reasons");
  target.replaceChildren();
  if (!lost) return;
  if (!lost.reasons.length) {
    target.append(empty("No lost accounts in this selection."));
    return;
  }
  target.append(
    h("p", { class: "facts" }, `${number(lost.accounts)} lost accounts, by the reason given:`),
    barList(lost.reasons.map((r) => ({ label: r.reason || "no reason given", value: r.accounts })), STAGE_COLORS.lost, "accounts", chartWidth(target)));
}

function renderWonProfile() {
  const won = panelData("won-profile");
  const target = $("#won-profile");
  target.replaceChildren();
  if (!won) return;
  if (!won.accounts) {
    target.append(empty("No won accounts in this selection."));
    return;
  }
  target.append(h("p", { class: "facts" }, `${number(won.accounts)} won accounts.`));
  for (const [title, items] of [["Industry", won.by_industry], ["Size", won.by_size], ["Source", won.by_source]]) {
    if (!items.length) continue;
    target.append(h("h3", {}, title),
      barList(items.map((item) => ({ label: item.value ?? "unspecified", value: item.accounts })), STAGE_COLORS.won, "won accounts", chartWidth(target)));
  }
}

// ---------------------------------------------------------------------------------------
// Start

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", logIn);
  $("#logout").addEventListener("click", logOut);
  $("#filters").addEventListener("submit", applyFilters);
  $("#clear").addEventListener("click", clearFilters);
  $("#currency").addEventListener("change", (event) => {
    state.currency = event.target.value;
    renderPipeline();
  });
  $("#funnel-dimension").addEventListener("change", renderFunnel);
  window.addEventListener("hashchange", () => {
    if (!state.token) return;
    readFiltersFromAddress();
    reload();
  });
  // Charts are drawn for the width they get: draw them again when it changes.
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      if (!$("#board").hidden) render();
    }, 150);
  });
  // Keeps "last sync 3 min ago" true while nothing else changes.
  setInterval(() => {
    if (!$("#board").hidden) renderFreshness();
  }, 30 * 1000);
  // A rep's sync that carried no change sends no event; reloading every minute keeps
  // each rep's last sync current all the same.
  setInterval(() => {
    if (!$("#board").hidden) scheduleReload();
  }, 60 * 1000);
  addCsvButtons();
  start();
});
