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
  hygiene: ["hygiene"],
  archive: ["archive"],
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
const LONG_LISTS = ["follow-ups", "duplicates", "hygiene", "archive"];

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
  /** When the views were last loaded. */
  updatedAt: null,
  /** Why the views were refused (a rep's token), while that notice shows. */
  refusal: null,
  /** Teams' display names by key. */
  teamNames: new Map(),
  /** Filter suggestions seen so far, per filter. */
  choices: Object.fromEntries(FILTERS.map((name) => [name, new Set()])),
};

// ---------------------------------------------------------------------------------------
// Language: Simplified Chinese and English. Chosen from the browser's languages, switched
// with the 中文 / English button and remembered here; numbers, money and dates go through
// Intl in the page's locale, enumeration labels come from the server (/v1/vocabulary).

const LANG_KEY = "outpost.dashboard.lang";
/** The page's languages and the locale each formats with (also `<html lang>`). */
const LOCALES = { zh: "zh-CN", en: "en" };

/** Every text the page writes itself, per language; functions take the parts that vary. */
const MESSAGES = {
  zh: {
    title: "Outpost · 团队看板",
    subtitle: "团队看板",
    switchTo: "English",
    logout: "退出登录",
    "login.title": "登录",
    "login.hint": "供团队经理使用：用户名和密码与您设备上的相同。",
    "login.user": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.unreachable": (m) => `无法连接服务器（${m}）`,
    serverAnswered: (status) => `服务器返回 ${status}`,
    "live.on": "实时",
    "live.off": "正在重新连接…",
    "live.onTitle": "正在跟随服务器：销售代表同步后数据会自动刷新。",
    "live.offTitle": "实时连接已断开，正在重试。",
    connecting: "正在连接…",
    notLoaded: "尚未加载",
    updated: (t) => `更新于 ${t}`,
    computed: (t) => `计算于 ${t}`,
    "filter.team": "团队",
    "filter.rep": "销售代表",
    "filter.source": "来源",
    "filter.industry": "行业",
    "filter.region": "区域",
    "filter.status": "状态",
    "filter.from": "创建日期从",
    "filter.to": "至",
    "filter.apply": "应用",
    "filter.clear": "清除",
    "filters.all": "您所在团队的全部客户。",
    "filters.showing": (parts) => `当前显示：${parts.join("，")}。`,
    "filters.fromPart": (d) => `创建于 ${d} 之后`,
    "filters.toPart": (d) => `创建于 ${d} 之前`,
    "filters.part": (name, value) => `${name}：${value}`,
    tiles: "关键指标",
    "tile.accounts": "客户数",
    "tile.opportunities": "商机数",
    "tile.total": "商机总额",
    "tile.weighted": "加权金额",
    "tile.overdue": "逾期跟进",
    "tile.cadence": "按时跟进",
    none: "无",
    currency: "币种",
    "panel.pipeline": "各阶段商机",
    "panel.funnel": "转化漏斗",
    "panel.industry": "各行业客户",
    "panel.activity": "每周跟进次数",
    "panel.freshness": "各销售代表数据新鲜度",
    "panel.discipline": "跟进纪律",
    "panel.overdue": "逾期未跟进",
    "panel.duplicates": "疑似重复客户",
    "panel.lost": "流失原因",
    "panel.won": "成交客户画像",
    "freshness.hint": "销售代表离线工作：数据的新鲜程度取决于其最近一次同步。",
    "funnel.by": "细分维度",
    "dim.rep": "销售代表",
    "dim.source": "来源",
    "dim.region": "区域",
    "dim.industry": "行业",
    unspecified: "未填写",
    justNow: "刚刚",
    lastSync: (ago) => `最近同步 ${ago}`,
    neverSynced: "从未同步",
    stale: "数据陈旧",
    staleTitle: "超过 24 小时未同步：数据可能滞后。",
    "notice.title": "看板仅供经理使用",
    "notice.who": (login, role) => `您当前以 ${login}（${role}）身份登录。`,
    "notice.body": "团队数据仅对团队经理和管理员开放。",
    loginAgain: (m) => `请重新登录：${m}`,
    unavailable: "此服务器不提供该视图。",
    refreshFailed: (m) => `刷新失败：${m}`,
    csvTitle: (name) => `下载 ${name} 的 CSV（应用当前筛选）`,
    csvButton: (name) => `CSV ${name}`,
    csvFailed: (m) => `CSV 下载失败：${m}`,
    "table.total": "总额",
    "table.by_rep": "按代表",
    "table.freshness": "新鲜度",
    "table.rows": "明细",
    "table.weeks": "每周",
    "table.discipline": "纪律",
    "table.late": "补录",
    "table.overdue": "逾期",
    "table.groups": "分组",
    "table.reasons": "原因",
    "table.by_industry": "按行业",
    "table.by_size": "按规模",
    "table.by_source": "按来源",
    "pipeline.none": "当前筛选下没有商机。",
    "pipeline.aria": (c) => `各阶段商机（${c ?? "无币种"}）`,
    "pipeline.title": (stage, n, total, weighted) => `${stage}：${n} 个商机，总额 ${total}，加权 ${weighted}`,
    opportunities: (n) => `${n} 个商机`,
    weightedAmount: (m) => `加权 ${m}`,
    "legend.total": "总额 ",
    "legend.weighted": "按赢单概率加权",
    "col.rep": "销售代表",
    "col.opportunities": "商机",
    "col.total": (c) => `总额 ${c}`,
    "col.weighted": (c) => `加权 ${c}`,
    "col.byStage": "阶段分布",
    "col.accounts": "客户",
    "col.intent": "曾达意向",
    "col.won": "成交",
    "col.winRate": "成交率",
    "col.cycle": "周期（天）",
    "col.lastSync": "最近同步",
    "col.newestFollowUp": "最新跟进",
    "col.withinCadence": "按时跟进",
    "col.followUps": "跟进次数",
    "col.late": "补录",
    "col.account": "客户",
    "col.priority": "优先级",
    "col.due": "应跟进日期",
    "col.overdueBy": "逾期",
    "col.match": "匹配依据",
    "col.duplicateAccounts": "客户",
    stageMix: "各阶段商机",
    "funnel.accounts": "全部客户",
    "funnel.intent": "曾达意向",
    "funnel.won": "成交",
    "funnel.aria": "转化漏斗",
    "funnel.step": (label, value, all) => `${label}：${value} / ${all} 个客户`,
    "funnel.facts": (accounts, intent, won, rate) => [accounts, " 个客户 → ", intent, " 个曾达意向 → ", won, ` 个成交（占曾达意向的 ${rate}）。`],
    "funnel.converted": (n) => `${n} 个由线索转化`,
    "funnel.cycle": (d) => `，平均 ${d} 天。`,
    "funnel.end": "。",
    "funnel.noBreakdown": (d) => `没有按${d}的细分。`,
    noAccounts: "当前筛选下没有客户。",
    others: (n) => `其他 ${n} 项`,
    "pie.aria": "各行业客户",
    "pie.title": (label, n, share, won) => `${label}：${n} 个客户（${share}），成交 ${won}`,
    "pie.accounts": () => "个客户",
    showOnly: (v) => `只看 ${v}`,
    "activity.none": "当前筛选下没有跟进。",
    "activity.aria": "各代表每周跟进次数",
    "activity.title": (rep, week, n) => `${rep}，${week} 当周：${n} 次跟进`,
    "activity.hint": (first, last) => `自 ${first} 至 ${last} 各周；右侧数字为每位代表的合计。`,
    "activity.more": (shown, all) => ` 仅显示最近 ${shown} 周；CSV 包含全部 ${all} 周。`,
    noReps: "当前筛选下没有销售代表。",
    nothingOverdue: "没有逾期。每个客户都已按时跟进。",
    overdueBy: (n) => `${n} 天`,
    noName: "（无名称）",
    overdueMore: (shown, all) => `逾期最久的 ${shown} 个，共 ${all} 个；CSV 包含全部。`,
    matchKey: (kind, value) => `${({ name: "名称相同", phone: "电话相同", email: "邮箱相同" })[kind] ?? `${kind}相同`}（${value}）`,
    noDuplicates: "没有疑似重复的客户。",
    duplicatesMore: (shown, all) => `${shown} 组，共 ${all} 组；CSV 包含全部。`,
    noLost: "当前筛选下没有流失客户。",
    lostFacts: (n) => `${n} 个流失客户，按原因：`,
    noReason: "未填写原因",
    accountsUnit: "个客户",
    noWon: "当前筛选下没有成交客户。",
    wonFacts: (n) => `${n} 个成交客户。`,
    "won.industry": "行业",
    "won.size": "规模",
    "won.source": "来源",
    wonUnit: "个成交客户",
    "tile.total.open": "在途商机总额",
    "tile.won": "已成交金额",
    "col.intentRate": "意向率",
    "col.wonRate": "意向→成交",
    "col.lost": "流失",
    "col.dormant": "休眠",
    "col.problem": "问题",
    "col.action": "处理",
    "col.status": "状态",
    "col.lostReason": "流失原因",
    "col.archivedBy": "归档人",
    "col.archivedAt": "归档时间",
    "col.lastFollowUp": "最近跟进",
    "panel.hygiene": "数据清理",
    "panel.archive": "归档客户",
    "table.accounts": "客户",
    "hygiene.no_contact_info": "无联系方式",
    "hygiene.stale": "六个月无跟进",
    "hygiene.lost_without_reason": "流失未填原因",
    "hygiene.duplicate": "疑似重复",
    "action.archive": "归档",
    "action.merge": "合并",
    "action.open": "打开",
    hygieneFacts: (c) => `无联系方式 ${c.no_contact_info} 个，六个月无跟进 ${c.stale} 个，流失未填原因 ${c.lost_without_reason} 个，疑似重复 ${c.duplicate} 个。`,
    hygieneClean: "没有需要清理的记录。",
    hygieneMore: (shown, all) => `${shown} 条，共 ${all} 条；CSV 包含全部。`,
    noArchive: "没有归档的客户。",
    archiveMore: (shown, all) => `最近归档的 ${shown} 个，共 ${all} 个；CSV 包含全部。`,
    "role.rep": "销售代表",
    "role.manager": "经理",
    "role.admin": "管理员",
  },
  en: {
    title: "Outpost · team dashboard",
    subtitle: "team dashboard",
    switchTo: "中文",
    logout: "Log out",
    "login.title": "Log in",
    "login.hint": "For team managers: use the same name and password as on your device.",
    "login.user": "User",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.unreachable": (m) => `cannot reach the server (${m})`,
    serverAnswered: (status) => `the server answered ${status}`,
    "live.on": "live",
    "live.off": "reconnecting…",
    "live.onTitle": "Following the server: the figures refresh when a rep syncs.",
    "live.offTitle": "The live connection dropped; retrying.",
    connecting: "connecting…",
    notLoaded: "not loaded yet",
    updated: (t) => `updated ${t}`,
    computed: (t) => `computed ${t}`,
    "filter.team": "Team",
    "filter.rep": "Rep",
    "filter.source": "Source",
    "filter.industry": "Industry",
    "filter.region": "Region",
    "filter.status": "Status",
    "filter.from": "Created from",
    "filter.to": "to",
    "filter.apply": "Apply",
    "filter.clear": "Clear",
    "filters.all": "All accounts of your teams.",
    "filters.showing": (parts) => `Showing ${parts.join(", ")}.`,
    "filters.fromPart": (d) => `created from ${d}`,
    "filters.toPart": (d) => `created up to ${d}`,
    "filters.part": (name, value) => `${name.toLowerCase()} ${value}`,
    tiles: "Key figures",
    "tile.accounts": "Accounts",
    "tile.opportunities": "Opportunities",
    "tile.total": "Pipeline total",
    "tile.weighted": "Weighted",
    "tile.overdue": "Overdue follow-ups",
    "tile.cadence": "Within cadence",
    none: "none",
    currency: "Currency",
    "panel.pipeline": "Pipeline by stage",
    "panel.funnel": "Funnel",
    "panel.industry": "Accounts by industry",
    "panel.activity": "Follow-ups per week",
    "panel.freshness": "Freshness per rep",
    "panel.discipline": "Follow-up discipline",
    "panel.overdue": "Overdue",
    "panel.duplicates": "Possible duplicates",
    "panel.lost": "Lost reasons",
    "panel.won": "What won accounts look like",
    "freshness.hint": "Reps work offline: their figures are as fresh as their last sync.",
    "funnel.by": "Break down by",
    "dim.rep": "rep",
    "dim.source": "source",
    "dim.region": "region",
    "dim.industry": "industry",
    unspecified: "unspecified",
    justNow: "just now",
    lastSync: (ago) => `last sync ${ago}`,
    neverSynced: "never synced",
    stale: "stale",
    staleTitle: "No sync for more than 24 hours: figures may be behind.",
    "notice.title": "The dashboard is for managers",
    "notice.who": (login, role) => `You are logged in as ${login} (${role}).`,
    "notice.body": "Team figures are open to the managers of a team and to admins.",
    loginAgain: (m) => `Please log in again: ${m}`,
    unavailable: "This view is not available on this server.",
    refreshFailed: (m) => `Could not refresh: ${m}`,
    csvTitle: (name) => `Download ${name} as CSV (with the filters applied)`,
    csvButton: (name) => `CSV ${name}`,
    csvFailed: (m) => `The CSV download failed: ${m}`,
    "table.total": "total",
    "table.by_rep": "by rep",
    "table.freshness": "freshness",
    "table.rows": "rows",
    "table.weeks": "weeks",
    "table.discipline": "discipline",
    "table.late": "late",
    "table.overdue": "overdue",
    "table.groups": "groups",
    "table.reasons": "reasons",
    "table.by_industry": "by industry",
    "table.by_size": "by size",
    "table.by_source": "by source",
    "pipeline.none": "No opportunities in this selection.",
    "pipeline.aria": (c) => `Pipeline by stage in ${c ?? "no currency"}`,
    "pipeline.title": (stage, n, total, weighted) => `${stage}: ${plural(n, "opportunity", "opportunities")}, ${total} total, ${weighted} weighted`,
    opportunities: (n) => plural(n, "opportunity", "opportunities"),
    weightedAmount: (m) => `${m} weighted`,
    "legend.total": "total ",
    "legend.weighted": "weighted by probability",
    "col.rep": "Rep",
    "col.opportunities": "Opportunities",
    "col.total": (c) => `Total ${c}`,
    "col.weighted": (c) => `Weighted ${c}`,
    "col.byStage": "By stage",
    "col.accounts": "Accounts",
    "col.intent": "Reached intent",
    "col.won": "Won",
    "col.winRate": "Win rate",
    "col.cycle": "Cycle (days)",
    "col.lastSync": "Last sync",
    "col.newestFollowUp": "Newest follow-up",
    "col.withinCadence": "Within cadence",
    "col.followUps": "Follow-ups",
    "col.late": "Logged late",
    "col.account": "Account",
    "col.priority": "Priority",
    "col.due": "Next contact was due",
    "col.overdueBy": "Overdue by",
    "col.match": "Match",
    "col.duplicateAccounts": "Accounts",
    stageMix: "opportunities by stage",
    "funnel.accounts": "Accounts",
    "funnel.intent": "Reached intent",
    "funnel.won": "Won",
    "funnel.aria": "Funnel",
    "funnel.step": (label, value, all) => `${label}: ${value} of ${plural(all, "account", "accounts")}`,
    "funnel.facts": (accounts, intent, won, rate, n) => [accounts, pluralRules.select(n) === "one" ? " account → " : " accounts → ", intent, " reached intent → ", won, ` won (${rate} of those). `],
    "funnel.converted": (n) => `${n} converted from lead`,
    "funnel.cycle": (d) => `, in ${plural(d, "day", "days")} on average.`,
    "funnel.end": ".",
    "funnel.noBreakdown": (d) => `No breakdown by ${d}.`,
    noAccounts: "No accounts in this selection.",
    others: (n) => `${n} others`,
    "pie.aria": "Accounts by industry",
    "pie.title": (label, n, share, won) => `${label}: ${plural(n, "account", "accounts")} (${share}), ${won} won`,
    "pie.accounts": (n) => (pluralRules.select(n) === "one" ? "account" : "accounts"),
    showOnly: (v) => `Show only ${v}`,
    "activity.none": "No follow-ups in this selection.",
    "activity.aria": "Follow-ups per rep and week",
    "activity.title": (rep, week, n) => `${rep}, week of ${week}: ${plural(n, "follow-up", "follow-ups")}`,
    "activity.hint": (first, last) => `Weeks starting ${first} to ${last}; the number on the right is each rep's total.`,
    "activity.more": (shown, all) => ` Showing the last ${shown} weeks; the CSV has all ${all}.`,
    noReps: "No reps in this selection.",
    nothingOverdue: "Nothing overdue. Every account has been followed up in time.",
    overdueBy: (n) => plural(n, "day", "days"),
    noName: "(no name)",
    overdueMore: (shown, all) => `The ${shown} most overdue of ${all}; the CSV has all.`,
    matchKey: (kind, value) => `same ${kind} (${value})`,
    noDuplicates: "No likely duplicates.",
    duplicatesMore: (shown, all) => `${shown} of ${all} groups; the CSV has all.`,
    noLost: "No lost accounts in this selection.",
    lostFacts: (n) => `${plural(n, "lost account", "lost accounts")}, by the reason given:`,
    noReason: "no reason given",
    accountsUnit: "accounts",
    noWon: "No won accounts in this selection.",
    wonFacts: (n) => `${plural(n, "won account", "won accounts")}.`,
    "won.industry": "Industry",
    "won.size": "Size",
    "won.source": "Source",
    wonUnit: "won accounts",
    "tile.total.open": "Open pipeline",
    "tile.won": "Won",
    "col.intentRate": "Intent rate",
    "col.wonRate": "Intent → won",
    "col.lost": "Lost",
    "col.dormant": "Dormant",
    "col.problem": "Problem",
    "col.action": "Action",
    "col.status": "Status",
    "col.lostReason": "Lost reason",
    "col.archivedBy": "Archived by",
    "col.archivedAt": "Archived",
    "col.lastFollowUp": "Last follow-up",
    "panel.hygiene": "Data hygiene",
    "panel.archive": "Archived accounts",
    "table.accounts": "Accounts",
    "hygiene.no_contact_info": "No contact information",
    "hygiene.stale": "No follow-up for six months",
    "hygiene.lost_without_reason": "Lost without a reason",
    "hygiene.duplicate": "Possible duplicate",
    "action.archive": "Archive",
    "action.merge": "Merge",
    "action.open": "Open",
    hygieneFacts: (c) => `${c.no_contact_info} without contact information, ${c.stale} without a follow-up for six months, ${c.lost_without_reason} lost without a reason, ${c.duplicate} possible duplicates.`,
    hygieneClean: "Nothing to clean up.",
    hygieneMore: (shown, all) => `${shown} of ${all} rows; the CSV has all.`,
    noArchive: "No archived accounts.",
    archiveMore: (shown, all) => `The ${shown} latest archived of ${all}; the CSV has all.`,
    "role.rep": "rep",
    "role.manager": "manager",
    "role.admin": "admin",
  },
};

/** The language to start in: the one chosen here before, else the browser's first of ours. */
function initialLanguage() {
  const chosen = localStorage.getItem(LANG_KEY);
  if (chosen in LOCALES) return chosen;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const lower = String(tag).toLowerCase();
    if (lower.startsWith("zh")) return "zh";
    if (lower.startsWith("en")) return "en";
  }
  // Neither: the team's own language.
  return "zh";
}

const i18n = {
  lang: "zh",
  /** Labels of the enumerations, `kind → code → {zh, en}`, once loaded. */
  vocabulary: {},
};

const locale = () => LOCALES[i18n.lang];

/** The text `key` in the page's language (a function's result for `args`). */
function t(key, ...args) {
  const message = MESSAGES[i18n.lang][key] ?? MESSAGES.en[key] ?? key;
  return typeof message === "function" ? message(...args) : message;
}

const pluralRules = new Intl.PluralRules("en");

/** "1 day", "2 days": English counts with their noun (the number in the page's format). */
function plural(n, one, other) {
  return `${number(n)} ${pluralRules.select(n) === "one" ? one : other}`;
}

/** The label of an enumeration value (`stage`, `negotiation`) in the page's language. */
function term(kind, code) {
  if (code === null || code === undefined || code === "") return t("unspecified");
  if (kind === "industry") return industryLabel(code);
  const known = i18n.vocabulary[kind]?.[code];
  if (known) return capital(known[i18n.lang]);
  return human(code);
}

/** An industry by GB/T 4754-2017: `C` → 制造业, `C36` → 制造业 · 36; free text as written. */
function industryLabel(code) {
  const match = /^([A-T])(\d\d)?$/.exec(String(code));
  const section = match && i18n.vocabulary.industry?.[match[1]];
  if (!section) return String(code);
  const name = section[i18n.lang];
  return match[2] ? `${name} · ${match[2]}` : name;
}

const capital = (text) => (i18n.lang === "en" ? text.charAt(0).toUpperCase() + text.slice(1) : text);

/** Reads the labels of every enumeration from the server (once; the page works without). */
async function loadVocabulary() {
  try {
    const response = await fetch("/v1/vocabulary", { cache: "no-store" });
    if (!response.ok) return;
    const lists = await response.json();
    i18n.vocabulary = Object.fromEntries(Object.entries(lists).map(([kind, terms]) =>
      [kind, Object.fromEntries(terms.map((entry) => [entry.code, entry]))]));
  } catch {
    // Codes are shown as they are.
  }
}

/** Sets the page's language: `<html lang>` (date pickers follow it), every static label. */
function applyLanguage(lang) {
  i18n.lang = lang;
  document.documentElement.lang = locale();
  document.title = t("title");
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of document.querySelectorAll("[data-i18n-aria-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nAriaLabel));
  }
  const toggle = $("#lang-toggle");
  toggle.textContent = t("switchTo");
  toggle.lang = lang === "zh" ? "en" : "zh-CN";
  formats.clear();
  addCsvButtons();
}

function switchLanguage() {
  const next = i18n.lang === "zh" ? "en" : "zh";
  localStorage.setItem(LANG_KEY, next);
  applyLanguage(next);
  setLive($("#live").dataset.state === "on");
  describeFilters();
  fillChoices();
  if (state.user) showUser();
  if (!$("#board").hidden && Object.keys(state.views).length) {
    $("#updated").textContent = state.updatedAt ? t("updated", clock(state.updatedAt)) : t("notLoaded");
    render();
  }
  if (!$("#notice").hidden && state.refusal) forbidden(state.refusal);
}

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

/** Intl formatters of the page's locale by purpose, made once per language. */
const formats = new Map();

/** The formatter `key` of the page's locale, made by `make(locale)` the first time. */
function format(key, make) {
  const full = `${i18n.lang}/${zone() ?? ""}/${key}`;
  if (!formats.has(full)) formats.set(full, make(locale()));
  return formats.get(full);
}

const number = (value) => format("number", (l) => new Intl.NumberFormat(l)).format(value);
const percent = (part, whole) => (whole
  ? format("percent", (l) => new Intl.NumberFormat(l, { style: "percent", maximumFractionDigits: 0 })).format(part / whole)
  : "–");
const sum = (items, value) => items.reduce((total, item) => total + value(item), 0);

/** In Chinese, amounts from this many units on are written in 万 (500000 → 50万). */
const WAN = 10000;

/** A formatter for `currency` (`null` when the code is not one Intl knows how to write). */
function moneyFormat(currency, compact) {
  return format(`money/${currency}/${compact}`, (l) => {
    try {
      return new Intl.NumberFormat(l, {
        style: "currency",
        currency,
        // Compact in zh-CN is 万 and 亿; two decimals keep ¥12.35万 close to the amount.
        ...(compact ? { notation: "compact", maximumFractionDigits: 2 } : {}),
      });
    } catch {
      // Not a well-formed currency code: written plainly below.
      return null;
    }
  });
}

/**
 * Minor units of `currency` as money in the page's locale: 123450 EUR → "€1,234.50";
 * CNY → "CN¥500,000.00" in English, and in Chinese large amounts in 万: "¥50万".
 */
function money(minor, currency, compact = false) {
  if (!currency) return number(minor);
  const exact = moneyFormat(currency, false);
  if (!exact) return `${number(minor / 100)} ${currency}`;
  const digits = exact.resolvedOptions().maximumFractionDigits;
  const amount = minor / 10 ** digits;
  const wan = i18n.lang === "zh" && Math.abs(amount) >= WAN;
  return moneyFormat(currency, compact || wan).format(amount);
}

/** "needs_confirmed" → "Needs confirmed": a code no label is known for. */
function human(text) {
  if (text === null || text === undefined || text === "") return t("unspecified");
  const spaced = String(text).replaceAll("_", " ");
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/**
 * The time zone the views count days in (`time_zone` of a view's reply, when the server
 * sends one), so the page shows the team's local time; else the browser's.
 */
function zone() {
  for (const result of Object.values(state.views)) {
    const name = result.data?.time_zone;
    if (typeof name === "string" && name) return name;
  }
  return undefined;
}

function dateTimeFormat(key, options) {
  return format(key, (l) => {
    try {
      return new Intl.DateTimeFormat(l, { ...options, timeZone: zone() });
    } catch {
      return new Intl.DateTimeFormat(l, options);
    }
  });
}

/** HH:MM:SS of a time. */
const clock = (time) => dateTimeFormat("clock", {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
}).format(new Date(time));

/** A day: "2026年11月30日", "Nov 30, 2026". */
const dateOf = (time) => dateTimeFormat("day", { year: "numeric", month: "short", day: "numeric" })
  .format(new Date(time));

/** A calendar day of the views (`2026-11-30`, a Monday of a week) as people write it. */
const calendarDay = (text) => format("calendar", (l) => new Intl.DateTimeFormat(l, {
  year: "numeric", month: "short", day: "numeric", timeZone: "UTC",
})).format(new Date(`${text}T00:00:00Z`));

/** "just now", "3 minutes ago", "5 hours ago", "2 days ago" (刚刚, 3分钟前 …). */
function ago(time) {
  const seconds = Math.max(0, (Date.now() - new Date(time).getTime()) / 1000);
  if (seconds < 45) return t("justNow");
  const relative = format("relative", (l) => new Intl.RelativeTimeFormat(l, { numeric: "auto" }));
  if (seconds < 90 * 60) return relative.format(-Math.max(1, Math.round(seconds / 60)), "minute");
  if (seconds < 48 * 3600) return relative.format(-Math.round(seconds / 3600), "hour");
  return relative.format(-Math.round(seconds / 86400), "day");
}

/** A full local date and time, for tooltips. */
const fullTime = (time) => dateTimeFormat("full", { dateStyle: "long", timeStyle: "medium" })
  .format(new Date(time));

/** The name people read for a rep's row: the display name, else the login. */
const shownName = (row) => row.display_name || row.rep || "";

/** Display names by login, from every view loaded (their per-rep rows carry them). */
function displayNames() {
  const names = new Map();
  for (const result of Object.values(state.views)) {
    for (const item of result.data?.freshness ?? []) {
      if (item.display_name) names.set(item.rep, item.display_name);
    }
  }
  return names;
}

/** The name people read for the login `rep`. */
const repName = (rep) => displayNames().get(rep) ?? rep;

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
  let message = t("serverAnswered", `${response.status} ${response.statusText}`.trim());
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
    throw new ApiError(0, "unreachable", t("login.unreachable", error.message));
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
  state.refusal = null;
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
    showLogin(error instanceof ApiError ? error.message : t("login.unreachable", error.message));
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
  state.refusal = message;
  const who = state.user ? t("notice.who", userName(state.user), t(`role.${state.user.role}`)) : "";
  $("#notice").replaceChildren(
    h("h2", {}, t("notice.title")),
    h("p", {}, `${who} ${t("notice.body")}`),
    h("p", { class: "detail" }, message),
  );
}

/** "张伟 (zhang.wei)", or the login alone when it is the display name. */
const userName = (user) => (user.display_name && user.display_name !== user.login
  ? `${user.display_name} (${user.login})`
  : user.login);

function showUser() {
  $("#user").textContent = `${userName(state.user)} · ${t(`role.${state.user.role}`)}`;
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
  state.refusal = null;
  showUser();
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

/** A filter's value as people read it: a rep's or team's name, a label, a date. */
function filterValue(name, value) {
  switch (name) {
    case "rep": return repName(value);
    case "team": return state.teamNames.get(value) ?? value;
    case "source": return term("source", value);
    case "status": return term("status", value);
    case "industry": return term("industry", value);
    case "from":
    case "to": return /^\d{4}-\d{2}-\d{2}$/.test(value) ? calendarDay(value) : value;
    default: return value;
  }
}

function describeFilters() {
  const parts = [...state.filters].map(([name, value]) => {
    const shown = filterValue(name, value);
    if (name === "from") return t("filters.fromPart", shown);
    if (name === "to") return t("filters.toPart", shown);
    return t("filters.part", t(`filter.${name}`), shown);
  });
  $("#active-filters").textContent = parts.length ? t("filters.showing", parts) : t("filters.all");
}

/** Teams and their members, for the team and rep suggestions. */
async function loadTeams() {
  try {
    const teams = await (await api("/v1/admin/teams")).json();
    for (const team of teams) {
      state.choices.team.add(team.name);
      if (team.display_name) state.teamNames.set(team.name, team.display_name);
      for (const member of team.members) state.choices.rep.add(member);
    }
    describeFilters();
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
  for (const value of Object.keys(i18n.vocabulary.source ?? {})) state.choices.source.add(value);
  for (const value of Object.keys(i18n.vocabulary.status ?? {})) state.choices.status.add(value);
  for (const value of Object.keys(i18n.vocabulary.industry ?? {})) state.choices.industry.add(value);
  fillChoices();
}

function fillChoices() {
  for (const [name, values] of Object.entries(state.choices)) {
    const list = $(`#choices-${name}`);
    if (!list) continue;
    // The filter takes the code (a login, a stage); the suggestion shows its name.
    list.replaceChildren(...[...values].sort().map((value) => {
      const label = filterValue(name, value);
      return h("option", { value, label: label !== value ? label : null });
    }));
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
    sessionEnded(t("loginAgain", unauthenticated.error.message));
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
  state.updatedAt = new Date();
  $("#updated").textContent = t("updated", clock(state.updatedAt));
  render();
  loadReviews();
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
  live.textContent = on ? t("live.on") : t("live.off");
  live.title = on ? t("live.onTitle") : t("live.offTitle");
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
          sessionEnded(t("loginAgain", error.message));
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
      title: t("csvTitle", t(`table.${name}`)),
      "data-testid": `csv-${holder.dataset.view}-${name}`,
      onclick: (event) => download(holder.dataset.view, name, event.currentTarget),
    }, tables.length > 1 ? t("csvButton", t(`table.${name}`)) : "CSV")));
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
      sessionEnded(t("loginAgain", error.message));
      return;
    }
    const message = button.closest(".panel").querySelector(".panel-message");
    if (message) {
      message.hidden = false;
      message.textContent = t("csvFailed", error.message);
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
  renderHygiene();
  renderArchive();
  learnChoices();
  renderReviews();
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
    message.textContent = error.status === 404 ? t("unavailable") : t("refreshFailed", error.message);
  }
  const computed = section.querySelector(".computed");
  computed.textContent = result?.data ? t("computed", clock(result.data.computed_at)) : "";
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

function moneyTile(selector, pipeline, field, testid, cells = (view) => view.open) {
  const tile = $(selector);
  const totals = pipeline ? byCurrency(cells(pipeline), field) : new Map();
  tile.replaceChildren(...[...totals].map(([currency, minor]) => h("span", {
    class: "amount",
    "data-testid": testid,
    "data-currency": currency,
    "data-minor": minor,
  }, money(minor, currency))));
  if (!totals.size) tile.textContent = pipeline ? t("none") : "–";
}

function renderTiles() {
  const pipeline = state.views.pipeline?.data;
  $("#tile-accounts").textContent = pipeline ? number(pipeline.accounts) : "–";
  $("#tile-count").textContent = pipeline ? number(sum(pipeline.total, (cell) => cell.count)) : "–";
  moneyTile("#tile-total", pipeline, "total_minor", "pipeline-total-value");
  moneyTile("#tile-weighted", pipeline, "weighted_minor", "pipeline-weighted-value");
  // Won business apart from the open pipeline: added up, closed deals read as business to win.
  moneyTile("#tile-won", pipeline, "total_minor", "pipeline-won-value", (view) => view.won);
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
    chart.append(empty(t("pipeline.none")));
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
    "aria-label": t("pipeline.aria", currency),
  }, rows.map((row, i) => {
    const y = i * rowHeight + 4;
    const totalWidth = (row.total / max) * barSpace;
    const weightedWidth = (row.weighted / max) * barSpace;
    return svg("g", { "data-stage": row.stage },
      svg("title", {}, t("pipeline.title", term("stage", row.stage), row.count, money(row.total, currency), money(row.weighted, currency))),
      svg("text", { x: 0, y: y + 16, class: "label" }, term("stage", row.stage)),
      svg("text", { x: 0, y: y + 31, class: "sub" }, t("opportunities", row.count)),
      svg("rect", { x: label, y: y + 6, width: barSpace, height: 22, rx: 3, class: "track" }),
      svg("rect", { x: label, y: y + 6, width: totalWidth, height: 22, rx: 3, fill: stageColor(row.stage), "fill-opacity": 0.4 }),
      svg("rect", { x: label, y: y + 6, width: weightedWidth, height: 22, rx: 3, fill: stageColor(row.stage) }),
      svg("text", { x: label + barSpace + 12, y: y + 16, class: "value" }, money(row.total, currency)),
      svg("text", { x: label + barSpace + 12, y: y + 31, class: "sub" }, t("weightedAmount", money(row.weighted, currency))));
  })));
  chart.append(h("p", { class: "legend" },
    h("span", { class: "swatch light" }), t("legend.total"),
    h("span", { class: "swatch dark" }), t("legend.weighted")));

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
    [t("col.rep"), [t("col.opportunities"), "num"], [t("col.total", currency ?? ""), "num"], [t("col.weighted", currency ?? ""), "num"], t("col.byStage")],
    repRows.map((row) => h("tr", { "data-rep": row.rep },
      h("td", { "data-testid": "rep-name", title: row.rep }, repName(row.rep)),
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
  return svg("svg", { viewBox: `0 0 ${width} 14`, class: "mix", role: "img", "aria-label": t("stageMix") },
    stages.map((stage) => {
      const count = sum(cells.filter((c) => c.stage === stage), (c) => c.count);
      if (!count) return null;
      const w = (count / total) * width;
      const part = svg("rect", { x, y: 0, width: w, height: 14, fill: stageColor(stage) },
        svg("title", {}, `${term("stage", stage)}: ${number(count)}`));
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
    chart.append(empty(t("noAccounts")));
    return;
  }
  const steps = [
    { key: "accounts", label: t("funnel.accounts"), value: all.accounts },
    { key: "intent", label: t("funnel.intent"), value: all.intent },
    { key: "won", label: t("funnel.won"), value: all.won },
  ];
  const width = chartWidth(chart);
  const label = 120;
  const stepHeight = 44;
  const barSpace = width - label;
  chart.append(svg("svg", { viewBox: `0 0 ${width} ${steps.length * stepHeight}`, role: "img", "aria-label": t("funnel.aria") },
    steps.map((step, i) => {
      const w = Math.max(3, (step.value / all.accounts) * barSpace);
      const y = i * stepHeight;
      return svg("g", { "data-step": step.key },
        svg("title", {}, t("funnel.step", step.label, number(step.value), all.accounts)),
        svg("text", { x: 0, y: y + 18, class: "label" }, step.label),
        svg("text", { x: 0, y: y + 33, class: "sub" }, `${number(step.value)} · ${percent(step.value, all.accounts)}`),
        svg("rect", { x: label + (barSpace - w) / 2, y: y + 4, width: w, height: stepHeight - 10, rx: 4, fill: ["#86b3e0", "#4f8fcf", "#3a9a6b"][i] }));
    })));
  chart.append(h("p", { class: "facts" },
    t("funnel.facts",
      h("span", { "data-testid": "funnel-accounts" }, number(all.accounts)),
      h("span", { "data-testid": "funnel-intent" }, number(all.intent)),
      h("span", { "data-testid": "funnel-won" }, number(all.won)),
      percent(all.won, all.intent),
      all.accounts),
    t("funnel.converted", number(all.converted)),
    all.cycle_days_avg === null ? t("funnel.end") : t("funnel.cycle", Math.round(all.cycle_days_avg))));

  const dimension = $("#funnel-dimension").value;
  const rows = funnel.rows.filter((row) => row.dimension === dimension).sort((a, b) => b.accounts - a.accounts);
  breakdown.append(rows.length
    ? table([capital(t(`dim.${dimension}`)), [t("col.accounts"), "num"], [t("col.intent"), "num"], [t("col.intentRate"), "num"], [t("col.won"), "num"], [t("col.wonRate"), "num"], [t("col.lost"), "num"], [t("col.dormant"), "num"], [t("col.cycle"), "num"]],
      rows.map((row) => h("tr", { [`data-${dimension}`]: row.value ?? "" },
        h("td", {}, dimensionValue(dimension, row.value)),
        h("td", { class: "num" }, number(row.accounts)),
        h("td", { class: "num", "data-testid": "funnel-row-intent" }, number(row.intent)),
        h("td", { class: "num" }, percent(row.intent, row.accounts)),
        h("td", { class: "num", "data-testid": "funnel-row-won" }, number(row.won)),
        h("td", { class: "num" }, percent(row.won, row.intent)),
        h("td", { class: "num", "data-testid": "funnel-row-lost" }, number(row.lost)),
        h("td", { class: "num", "data-testid": "funnel-row-dormant" }, number(row.dormant)),
        h("td", { class: "num" }, row.cycle_days_avg === null ? "–" : number(Math.round(row.cycle_days_avg))))),
      { "data-testid": `funnel-by-${dimension}` })
    : empty(t("funnel.noBreakdown", t(`dim.${dimension}`))));
}

/** A funnel group's value as people read it: a rep's name, a source's label. */
function dimensionValue(dimension, value) {
  if (value === null || value === undefined) return t("unspecified");
  if (dimension === "rep") return repName(value);
  if (dimension === "source" || dimension === "industry") return term(dimension, value);
  return value;
}

function renderIndustries() {
  const funnel = panelData("industry");
  const chart = $("#industry-chart");
  chart.replaceChildren();
  if (!funnel) return;
  let slices = funnel.rows
    .filter((row) => row.dimension === "industry" && row.accounts > 0)
    .map((row) => ({ value: row.value, label: term("industry", row.value), accounts: row.accounts, won: row.won }))
    .sort((a, b) => b.accounts - a.accounts);
  if (!slices.length) {
    chart.append(empty(t("noAccounts")));
    return;
  }
  if (slices.length > PALETTE.length) {
    const rest = slices.slice(PALETTE.length - 1);
    slices = [...slices.slice(0, PALETTE.length - 1), {
      value: null,
      label: t("others", rest.length),
      accounts: sum(rest, (s) => s.accounts),
      won: sum(rest, (s) => s.won),
    }];
  }
  const total = sum(slices, (s) => s.accounts);
  const size = 200;
  const r = 92;
  const c = size / 2;
  let angle = -Math.PI / 2;
  const pie = svg("svg", { viewBox: `0 0 ${size} ${size}`, class: "pie-chart", role: "img", "aria-label": t("pie.aria") },
    slices.map((slice, i) => {
      const title = svg("title", {}, t("pie.title", slice.label, slice.accounts, percent(slice.accounts, total), number(slice.won)));
      if (slices.length === 1) return svg("circle", { cx: c, cy: c, r, fill: PALETTE[i] }, title);
      const start = angle;
      angle += (slice.accounts / total) * 2 * Math.PI;
      const large = angle - start > Math.PI ? 1 : 0;
      const point = (a) => `${c + r * Math.cos(a)} ${c + r * Math.sin(a)}`;
      return svg("path", { d: `M ${c} ${c} L ${point(start)} A ${r} ${r} 0 ${large} 1 ${point(angle)} Z`, fill: PALETTE[i] }, title);
    }),
    svg("circle", { cx: c, cy: c, r: 48, class: "hole" }),
    svg("text", { x: c, y: c - 2, "text-anchor": "middle", class: "pie-total" }, number(total)),
    svg("text", { x: c, y: c + 16, "text-anchor": "middle", class: "sub" }, t("pie.accounts", total)));
  const legend = h("ul", { class: "pie-legend" }, slices.map((slice, i) => h("li", {},
    h("span", { class: "swatch", style: `background:${PALETTE[i]}` }),
    slice.value
      ? h("button", { type: "button", class: "link", title: t("showOnly", slice.label), onclick: () => filterOn("industry", slice.value) }, slice.label)
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
    chart.append(empty(t("activity.none")));
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
  chart.append(svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": t("activity.aria") },
    reps.map((row, i) => {
      const y = i * rowHeight;
      return svg("g", { "data-rep": row.rep },
        svg("text", { x: 0, y: y + rowHeight / 2 + 4, class: "label" }, fit(repName(row.rep), 12)),
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
          }, svg("title", {}, t("activity.title", repName(row.rep), calendarDay(week), count)));
        }),
        svg("text", { x: width, y: y + rowHeight / 2 + 4, "text-anchor": "end", class: "value" }, number(row.total)));
    }),
    weeks.map((week, k) => (k % Math.ceil(weeks.length / 6) === 0 || k === weeks.length - 1)
      ? svg("text", { x: label + k * slot + slot / 2, y: height - 6, "text-anchor": "middle", class: "sub" }, week.slice(5))
      : null)));
  chart.append(h("p", { class: "hint" },
    t("activity.hint", calendarDay(weeks[0]), calendarDay(weeks[weeks.length - 1])),
    allWeeks.length > weeks.length ? t("activity.more", WEEKS_SHOWN, allWeeks.length) : ""));
}

/** Each rep's freshness from every view loaded, the newest times winning. */
function allFreshness() {
  const reps = new Map();
  const newer = (a, b) => (!a ? b : !b ? a : Date.parse(a) >= Date.parse(b) ? a : b);
  for (const result of Object.values(state.views)) {
    for (const item of result.data?.freshness ?? []) {
      const seen = reps.get(item.rep) ?? { rep: item.rep, display_name: item.display_name, last_sync: null, newest_follow_up: null };
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
    ? table([t("col.rep"), t("col.lastSync"), t("col.newestFollowUp"), ""], reps.map((item) => {
      const stale = !item.last_sync || Date.now() - Date.parse(item.last_sync) > STALE_MS;
      return h("tr", { "data-rep": item.rep, class: stale ? "stale" : null },
        h("td", { "data-testid": "rep-name", title: item.rep }, shownName(item)),
        h("td", {
          "data-testid": "last-sync",
          "data-last-sync": item.last_sync ?? "",
          title: item.last_sync ? fullTime(item.last_sync) : null,
        }, item.last_sync ? t("lastSync", ago(item.last_sync)) : t("neverSynced")),
        h("td", { title: item.newest_follow_up ? fullTime(item.newest_follow_up) : null },
          item.newest_follow_up ? ago(item.newest_follow_up) : "–"),
        h("td", {}, stale ? h("span", { class: "badge warn", title: t("staleTitle") }, t("stale")) : null));
    }), { "data-testid": "freshness-table" })
    : empty(t("noReps")));
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
    ? table([t("col.rep"), [t("col.accounts"), "num"], t("col.withinCadence"), [t("col.followUps"), "num"], [t("col.late"), "num"]],
      rows.map((row) => h("tr", { "data-rep": row.rep },
        h("td", { title: row.rep }, repName(row.rep)),
        h("td", { class: "num" }, number(row.accounts)),
        h("td", {}, meter(row.within, row.accounts)),
        h("td", { class: "num" }, number(row.followUps)),
        h("td", { class: "num" }, row.late ? `${number(row.late)} (${percent(row.late, row.followUps)})` : "0"))))
    : empty(t("noAccounts")));
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
    target.append(empty(t("nothingOverdue")));
    return;
  }
  const day = 24 * 60 * 60 * 1000;
  target.append(table([t("col.account"), t("col.rep"), t("col.priority"), t("col.due"), [t("col.overdueBy"), "num"]],
    followUps.overdue.map((row) => h("tr", { "data-account": row.account, "data-rep": row.rep },
      h("td", {}, row.name || t("noName")),
      h("td", { title: row.rep }, shownName(row)),
      h("td", {}, row.priority ? term("priority", row.priority) : "–"),
      h("td", { "data-testid": "due", "data-due": row.next_due, title: fullTime(row.next_due) }, dateOf(row.next_due)),
      h("td", { class: "num", "data-testid": "overdue-by" }, t("overdueBy", Math.max(0, Math.floor((Date.now() - Date.parse(row.next_due)) / day))))))));
  if (followUps.overdue_total > followUps.overdue.length) {
    target.append(h("p", { class: "hint" },
      t("overdueMore", number(followUps.overdue.length), number(followUps.overdue_total))));
  }
}

/** `name:acmetools` → "same name (acmetools)", 名称相同（…）. */
function matchKey(key) {
  const colon = key.indexOf(":");
  return colon < 0 ? key : t("matchKey", key.slice(0, colon), key.slice(colon + 1));
}

function renderDuplicates() {
  const duplicates = panelData("duplicates");
  const target = $("#duplicates");
  target.replaceChildren();
  if (!duplicates) return;
  if (!duplicates.groups.length) {
    target.append(empty(t("noDuplicates")));
    return;
  }
  target.append(table([t("col.match"), t("col.duplicateAccounts")], duplicates.groups.map((group) => h("tr", { "data-key": group.key },
    h("td", {}, matchKey(group.key)),
    h("td", {}, h("ul", { class: "plain" }, group.accounts.map((account) => h("li", { "data-account": account.account },
      account.name || t("noName"), " ", h("span", { class: "muted", title: account.rep }, `· ${shownName(account)}`))))))),
  { "data-testid": "duplicates-table" }));
  if (duplicates.groups_total > duplicates.groups.length) {
    target.append(h("p", { class: "hint" },
      t("duplicatesMore", number(duplicates.groups.length), number(duplicates.groups_total))));
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
        svg("title", {}, `${item.label}: ${number(item.value)} ${unit}`),
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
    target.append(empty(t("noLost")));
    return;
  }
  target.append(
    h("p", { class: "facts" }, t("lostFacts", lost.accounts)),
    barList(lost.reasons.map((r) => ({ label: r.reason || t("noReason"), value: r.accounts })), STAGE_COLORS.lost, t("accountsUnit"), chartWidth(target)));
}

function renderWonProfile() {
  const won = panelData("won-profile");
  const target = $("#won-profile");
  target.replaceChildren();
  if (!won) return;
  if (!won.accounts) {
    target.append(empty(t("noWon")));
    return;
  }
  target.append(h("p", { class: "facts" }, t("wonFacts", won.accounts)));
  for (const [title, kind, items] of [["won.industry", "industry", won.by_industry], ["won.size", "size", won.by_size], ["won.source", "source", won.by_source]]) {
    if (!items.length) continue;
    target.append(h("h3", {}, t(title)),
      barList(items.map((item) => ({ label: kind === "size" ? item.value ?? t("unspecified") : term(kind, item.value), value: item.accounts })), STAGE_COLORS.won, t("wonUnit"), chartWidth(target)));
  }
}

/** What to do about a hygiene row or an archived account: a label carrying the account id,
 * for the account page and action dialogs to act on. */
function accountAction(action, account) {
  return h("span", { class: "action", "data-action": action, "data-account": account }, t(`action.${action}`));
}

function renderHygiene() {
  const hygiene = panelData("hygiene");
  const target = $("#hygiene");
  target.replaceChildren();
  if (!hygiene) return;
  if (!hygiene.rows.length) {
    target.append(empty(t("hygieneClean")));
    return;
  }
  target.append(h("p", { class: "facts", "data-testid": "hygiene-counts" }, t("hygieneFacts", hygiene.counts)));
  target.append(table([t("col.problem"), t("col.account"), t("col.rep"), t("col.status"), t("col.lastFollowUp"), t("col.action")],
    hygiene.rows.map((row) => h("tr", { "data-account": row.account, "data-problem": row.problem },
      h("td", {}, t(`hygiene.${row.problem}`), row.key ? h("span", { class: "muted" }, ` · ${matchKey(row.key)}`) : null),
      h("td", {}, row.name || t("noName")),
      h("td", { title: row.rep }, shownName(row)),
      h("td", {}, term("status", row.status)),
      h("td", {}, row.last_follow_up ? dateOf(row.last_follow_up) : "–"),
      h("td", {}, accountAction(row.action, row.account)))),
  { "data-testid": "hygiene-table" }));
  if (hygiene.rows_total > hygiene.rows.length) {
    target.append(h("p", { class: "hint" }, t("hygieneMore", number(hygiene.rows.length), number(hygiene.rows_total))));
  }
}

function renderArchive() {
  const archive = panelData("archive");
  const target = $("#archive");
  target.replaceChildren();
  if (!archive) return;
  if (!archive.accounts.length) {
    target.append(empty(t("noArchive")));
    return;
  }
  target.append(table([t("col.account"), t("col.rep"), t("col.status"), t("col.lostReason"), t("col.archivedBy"), t("col.archivedAt")],
    archive.accounts.map((row) => h("tr", { "data-account": row.account },
      h("td", {}, row.name || t("noName")),
      h("td", { title: row.rep }, shownName(row)),
      h("td", {}, term("status", row.status)),
      h("td", {}, row.lost_reason || t("noReason")),
      h("td", { title: row.archived_by ?? "" }, row.archived_by_name ?? row.archived_by ?? "–"),
      h("td", {}, row.archived_at ? dateOf(row.archived_at) : "–"))),
  { "data-testid": "archive-table" }));
  if (archive.accounts_total > archive.accounts.length) {
    target.append(h("p", { class: "hint" }, t("archiveMore", number(archive.accounts.length), number(archive.accounts_total))));
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
  $("#lang-toggle").addEventListener("click", switchLanguage);
  applyLanguage(initialLanguage());
  setLive(false);
  $("#live").textContent = t("connecting");
  $("#updated").textContent = t("notLoaded");
  describeFilters();
  // Labels first, so the first drawing already names stages and industries.
  loadVocabulary().then(start);
});

// ---------------------------------------------------------------------------------------
// The weekly review: the queue of submitted weeks (what the server found incomplete, an
// opinion box, "reviewed" or "returned" after a confirmation), and the archive of reviewed
// weeks searchable by customer name and first-contact date. Read from /v1/reviews/...

const REVIEW_MESSAGES = {
  zh: {
    "review.title": "周审阅",
    "review.hint": "各销售代表提交的一周记录，以及服务器从记录中查出的不完整之处。",
    "review.archive": "已审阅周的归档",
    "review.searchName": "客户名称",
    "review.searchFirst": "首次接触日期",
    "review.search": "搜索",
    "review.none": "没有待审阅的周。",
    "review.week": (name, week) => `${name} · ${week} 当周`,
    "review.submitted": (time) => `提交于 ${time}`,
    "review.status.submitted": "待审阅",
    "review.status.returned": "已退回",
    "review.status.reviewed": "已审阅",
    "review.round": (decision, name, time, text) => `${decision} · ${name} · ${time}：${text}`,
    "review.complete": "没有不完整的记录。",
    "review.incomplete": (n) => `不完整 ${n} 项`,
    "review.col.account": "客户",
    "review.col.record": "记录",
    "review.col.missing": "缺少",
    "review.accounts": "本周有记录的客户：",
    "review.opinion": "审阅意见",
    "review.markReviewed": "标记为已审阅",
    "review.return": "退回",
    "review.confirmReviewed": (name, week) => `确定将 ${name} 的 ${week} 当周标记为已审阅？`,
    "review.confirmReturn": (name, week) => `确定将 ${name} 的 ${week} 当周退回？`,
    "review.yes": "确认",
    "review.no": "取消",
    "review.needOpinion": "退回需要填写审阅意见。",
    "review.reviewedDone": (name, week) => `已将 ${name} 的 ${week} 当周标记为已审阅。`,
    "review.returnedDone": (name, week) => `已将 ${name} 的 ${week} 当周退回。`,
    "review.failed": (m) => `未能完成：${m}`,
    "review.loadFailed": (m) => `无法读取周审阅：${m}`,
    "review.archiveNone": "没有符合条件的已审阅记录。",
    "review.col.filed": "归档名",
    "review.col.firstContact": "首次接触",
    "review.col.rep": "销售代表",
    "review.col.week": "周",
    "review.col.opinion": "审阅意见",
  },
  en: {
    "review.title": "Weekly review",
    "review.hint": "Each rep's submitted week, with what the server found incomplete in its records.",
    "review.archive": "Archive of reviewed weeks",
    "review.searchName": "Customer name",
    "review.searchFirst": "First contact",
    "review.search": "Search",
    "review.none": "No week is waiting for review.",
    "review.week": (name, week) => `${name} · week of ${week}`,
    "review.submitted": (time) => `submitted ${time}`,
    "review.status.submitted": "submitted",
    "review.status.returned": "returned",
    "review.status.reviewed": "reviewed",
    "review.round": (decision, name, time, text) => `${capital(decision)} by ${name} · ${time}: ${text}`,
    "review.complete": "Nothing incomplete.",
    "review.incomplete": (n) => `${plural(n, "incomplete item", "incomplete items")}`,
    "review.col.account": "Account",
    "review.col.record": "Record",
    "review.col.missing": "Missing",
    "review.accounts": "Accounts with records this week: ",
    "review.opinion": "Review opinion",
    "review.markReviewed": "Mark reviewed",
    "review.return": "Return",
    "review.confirmReviewed": (name, week) => `Mark ${name}'s week of ${week} as reviewed?`,
    "review.confirmReturn": (name, week) => `Return ${name}'s week of ${week}?`,
    "review.yes": "Confirm",
    "review.no": "Cancel",
    "review.needOpinion": "Returning a week needs an opinion saying what to fix.",
    "review.reviewedDone": (name, week) => `${name}'s week of ${week} is marked reviewed.`,
    "review.returnedDone": (name, week) => `${name}'s week of ${week} was returned.`,
    "review.failed": (m) => `Not done: ${m}`,
    "review.loadFailed": (m) => `Could not read the weekly reviews: ${m}`,
    "review.archiveNone": "No reviewed records match.",
    "review.col.filed": "Filed as",
    "review.col.firstContact": "First contact",
    "review.col.rep": "Rep",
    "review.col.week": "Week",
    "review.col.opinion": "Opinion",
  },
};
Object.assign(MESSAGES.zh, REVIEW_MESSAGES.zh);
Object.assign(MESSAGES.en, REVIEW_MESSAGES.en);

const reviews = {
  queue: null,
  archive: null,
  error: null,
  /** The archive's search, as query parameters. */
  search: new URLSearchParams(),
  /** Opinions being typed, by week key, kept across redraws (a live reload redraws). */
  drafts: new Map(),
  /** The week whose decision waits for its confirmation: `{key, decision}`. */
  confirming: null,
  /** What the last decision did (or why it failed), shown above the queue. */
  message: null,
  /** What the queue and archive were last drawn from. */
  drawn: null,
};

const reviewKey = (review) => `${review.rep}/${review.week}`;

/** A link to an account, by id (the account page reads `#account=ID`). */
const accountLink = (id, name) =>
  h("a", { href: `#account=${encodeURIComponent(id)}`, "data-account": id }, name || t("noName"));

async function loadReviews() {
  if (!state.token || !state.user || state.user.role === "rep") return;
  const search = reviews.search.size ? `?${reviews.search}` : "";
  try {
    const [queue, archive] = await Promise.all([
      api("/v1/reviews/queue").then((r) => r.json()),
      api(`/v1/reviews/archive${search}`).then((r) => r.json()),
    ]);
    reviews.queue = queue;
    reviews.archive = archive;
    reviews.error = null;
  } catch (error) {
    if (error.name === "AbortError") return;
    reviews.error = error.message;
  }
  renderReviews();
}

function renderReviews() {
  const message = $("#review-message");
  const text = reviews.error ? t("review.loadFailed", reviews.error) : reviews.message;
  message.hidden = !text;
  message.textContent = text ?? "";
  // Drawn again only when something shown changed: a redraw would take the focus from
  // the opinion being typed (every live refresh of the views comes through here).
  const drawn = JSON.stringify([i18n.lang, reviews.queue, reviews.archive, reviews.confirming]);
  if (drawn === reviews.drawn) return;
  reviews.drawn = drawn;
  renderReviewQueue();
  renderReviewArchive();
}

function renderReviewQueue() {
  const target = $("#review-queue");
  target.replaceChildren();
  if (!reviews.queue) return;
  if (!reviews.queue.length) {
    target.append(empty(t("review.none")));
    return;
  }
  for (const review of reviews.queue) target.append(reviewCard(review));
}

function reviewCard(review) {
  const key = reviewKey(review);
  const week = calendarDay(review.week);
  const name = review.rep_name || review.rep;
  const earlier = review.rounds.filter((round) => round.opinion);
  const draft = reviews.drafts.get(key) ?? "";
  const opinion = h("textarea", {
    class: "review-opinion", "data-testid": "review-opinion", maxlength: 4000, rows: 3,
    "aria-label": t("review.opinion"), placeholder: t("review.opinion"),
    oninput: (event) => reviews.drafts.set(key, event.target.value),
  });
  opinion.value = draft;
  const error = h("p", { class: "error", "data-testid": "review-error", role: "alert", hidden: true });
  const ask = (decision) => {
    if (decision === "returned" && !opinion.value.trim()) {
      error.hidden = false;
      error.textContent = t("review.needOpinion");
      return;
    }
    reviews.confirming = { key, decision };
    renderReviews();
  };
  const confirming = reviews.confirming?.key === key ? reviews.confirming.decision : null;
  return h("article", { class: "review-card", "data-testid": "review-card", "data-rep": review.rep, "data-week": review.week },
    h("h3", {}, t("review.week", name, week), " ",
      h("span", { class: "muted", title: fullTime(review.submitted_at) }, t("review.submitted", dateOf(review.submitted_at)))),
    earlier.length ? h("ul", { class: "plain review-rounds", "data-testid": "review-rounds" }, earlier.map((round) =>
      h("li", {}, t("review.round", t(`review.status.${round.opinion.decision}`),
        round.opinion.reviewer_name || round.opinion.reviewer, dateOf(round.opinion.at), round.opinion.text)))) : null,
    review.incomplete.length
      ? [h("p", { class: "review-count", "data-testid": "review-count" }, t("review.incomplete", review.incomplete.length)),
        table([t("review.col.account"), t("review.col.record"), t("review.col.missing")],
          review.incomplete.map((item) => h("tr", { "data-code": item.code, "data-account": item.account },
            h("td", {}, accountLink(item.account, item.account_name)),
            h("td", { title: item.record }, item.record_label),
            h("td", { "data-testid": "review-missing" }, i18n.lang === "zh" ? item.label_zh : item.label_en))),
          { "data-testid": "review-items" })]
      : h("p", { class: "empty", "data-testid": "review-count" }, t("review.complete")),
    review.accounts.length ? h("p", { class: "hint review-accounts" }, t("review.accounts"),
      review.accounts.flatMap((account, n) => [n ? "、" : "", accountLink(account.account, account.name)])) : null,
    opinion,
    error,
    confirming
      ? h("div", { class: "review-confirm", "data-testid": "review-confirm" },
        h("span", {}, t(confirming === "returned" ? "review.confirmReturn" : "review.confirmReviewed", name, week)), " ",
        h("button", { type: "button", "data-testid": "review-confirm-yes", onclick: () => decideReview(review, confirming, opinion.value) }, t("review.yes")), " ",
        h("button", { type: "button", class: "quiet", "data-testid": "review-confirm-no", onclick: () => { reviews.confirming = null; renderReviews(); } }, t("review.no")))
      : h("div", { class: "review-actions" },
        h("button", { type: "button", "data-testid": "review-mark-reviewed", onclick: () => ask("reviewed") }, t("review.markReviewed")), " ",
        h("button", { type: "button", class: "quiet", "data-testid": "review-return", onclick: () => ask("returned") }, t("review.return"))));
}

async function decideReview(review, decision, opinion) {
  const key = reviewKey(review);
  const name = review.rep_name || review.rep;
  const week = calendarDay(review.week);
  reviews.confirming = null;
  try {
    const text = opinion.trim();
    await api(`/v1/reviews/${encodeURIComponent(review.rep)}/${review.week}/decision`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(text ? { decision, opinion: text } : { decision }),
    });
    reviews.drafts.delete(key);
    reviews.message = t(decision === "returned" ? "review.returnedDone" : "review.reviewedDone", name, week);
  } catch (error) {
    reviews.message = t("review.failed", error.message);
  }
  await loadReviews();
}

function renderReviewArchive() {
  const target = $("#review-archive");
  target.replaceChildren();
  if (!reviews.archive) return;
  if (!reviews.archive.length) {
    target.append(empty(t("review.archiveNone")));
    return;
  }
  target.append(table([t("review.col.filed"), t("review.col.account"), t("review.col.firstContact"),
    t("review.col.rep"), t("review.col.week"), t("review.col.opinion")],
  reviews.archive.map((entry) => h("tr", { "data-account": entry.filed.account, "data-rep": entry.rep, "data-week": entry.week },
    h("td", { "data-testid": "filed-as" }, entry.filed.filed_as),
    h("td", {}, accountLink(entry.filed.account, entry.filed.name)),
    h("td", {}, entry.filed.first_contact ? calendarDay(entry.filed.first_contact) : "–"),
    h("td", { title: entry.rep }, entry.rep_name || entry.rep),
    h("td", {}, calendarDay(entry.week)),
    h("td", {}, entry.opinion ? `${entry.opinion.reviewer_name || entry.opinion.reviewer} · ${dateOf(entry.opinion.at)}：${entry.opinion.text}` : "–"))),
  { "data-testid": "review-archive-table" }));
}

function searchArchive(event) {
  event.preventDefault();
  const params = new URLSearchParams();
  const q = $("#review-q").value.trim();
  const first = $("#review-first").value;
  if (q) params.set("q", q);
  if (first) params.set("first_contact", first);
  reviews.search = params;
  loadReviews();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#review-search").addEventListener("submit", searchArchive);
});
