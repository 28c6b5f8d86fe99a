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
  $("#account-page").hidden = part !== "account";
  $("#admin-page").hidden = part !== "admin";
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
    // Also on the account and admin pages, which the stream keeps current too.
    if (loaded && state.token && $("#notice").hidden) follow();
  });
  routePage();
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
  // The archive panel and an open account page read their own endpoints, at the same times.
  refreshOpenPage();
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
      h("td", {}, accountPageLink(row.account, row.name)),
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
  target.append(table([t("col.match"), t("col.duplicateAccounts"), t("col.actions")], duplicates.groups.map((group) => h("tr", { "data-key": group.key },
    h("td", {}, matchKey(group.key)),
    h("td", {}, h("ul", { class: "plain" }, group.accounts.map((account) => h("li", { "data-account": account.account },
      accountPageLink(account.account, account.name), " ", h("span", { class: "muted", title: account.rep }, `· ${shownName(account)}`))))),
    h("td", {}, h("button", { type: "button", class: "quiet small", "data-testid": "merge", onclick: () => mergeGroup(group) }, t("act.merge"))))),
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

/** What to do about a hygiene row, as a control that does it: archive (confirmed in the
 * action dialog), merge (the dialog of its duplicates group), or open the account page. */
function accountAction(action, account, name) {
  const attributes = { "data-action": action, "data-account": account };
  const button = (onclick) => h("button", { ...attributes, type: "button", class: "action quiet small", onclick }, t(`action.${action}`));
  if (action === "archive") return button(() => archive(account, name, true));
  const group = action === "merge" && panelData("duplicates")?.groups.find((g) => g.accounts.some((a) => a.account === account));
  if (group) return button(() => mergeGroup(group));
  return h("a", { ...attributes, class: "action", href: `#account=${account}` }, t(`action.${action}`));
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
      h("td", {}, accountPageLink(row.account, row.name)),
      h("td", { title: row.rep }, shownName(row)),
      h("td", {}, term("status", row.status)),
      h("td", {}, row.last_follow_up ? dateOf(row.last_follow_up) : "–"),
      h("td", {}, accountAction(row.action, row.account, row.name)))),
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
  target.append(table([t("col.account"), t("col.rep"), t("col.status"), t("col.lostReason"), t("col.archivedBy"), t("col.archivedAt"), t("col.actions")],
    archive.accounts.map((row) => h("tr", { "data-account": row.account },
      h("td", {}, accountPageLink(row.account, row.name)),
      h("td", { title: row.rep }, shownName(row)),
      h("td", {}, term("status", row.status)),
      h("td", {}, row.lost_reason || t("noReason")),
      h("td", { title: row.archived_by ?? "" }, row.archived_by_name ?? row.archived_by ?? "–"),
      h("td", { title: row.archived_at ? fullTime(row.archived_at) : "" }, row.archived_at ? dateOf(row.archived_at) : "–"),
      h("td", {}, h("button", { type: "button", class: "quiet small", onclick: () => archive(row.account, row.name, false) }, t("act.restore"))))),
  { "data-testid": "archive-table" }));
  if (archive.accounts_total > archive.accounts.length) {
    target.append(h("p", { class: "hint" }, t("archiveMore", number(archive.accounts.length), number(archive.accounts_total))));
  }
}

// ---------------------------------------------------------------------------------------
// Actions: a manager's (or admin's) changes through the same API and checks as `curl` —
// comments, merges, handovers and off-boarding, archive, shares — each confirmed in a
// dialog that lists what it touches, then showing the server's answer; the account page;
// and the admin pages (users, teams, devices, backups).

Object.assign(MESSAGES.zh, {
  "admin.users": "用户",
  "admin.addUser": "添加用户",
  "admin.login": "登录名",
  "admin.displayName": "显示名称",
  "admin.password": "初始密码",
  "admin.role": "角色",
  "admin.team": "团队",
  "admin.add": "添加",
  "admin.teams": "团队",
  "admin.addTeam": "添加团队",
  "admin.teamKey": "团队代号",
  "admin.devices": "设备",
  "admin.backups": "备份",
  "admin.backupNow": "立即备份",
  "nav.board": "看板",
  "nav.admin": "系统管理",
  "panel.people": "团队成员",
  "people.hint": "移交销售代表的客户，或为离职代表办理交接：客户交给同事，随后停用该用户并吊销其设备。",
  "act.next": "下一步",
  "act.confirm": "确认",
  "act.cancel": "取消",
  "act.close": "关闭",
  "act.willDo": "将执行以下操作：",
  "act.working": "正在执行…",
  "act.failed": (why, message) => `操作未完成：${why}（服务器：${message}）`,
  "act.nothing": "没有需要处理的内容。",
  "why.forbidden": "服务器拒绝了此操作",
  "why.not_found": "未找到，或不在您管理的范围内",
  "why.invalid": "输入不符合规则",
  "why.malformed": "请求格式有误",
  "why.conflict": "已存在",
  "why.unauthenticated": "登录已失效",
  "why.unavailable": "服务器暂时无法处理",
  "why.other": "服务器拒绝了请求",
  "col.actions": "操作",
  "col.name": "名称",
  "col.team": "团队",
  "col.role": "角色",
  "col.state": "状态",
  "col.managers": "经理",
  "col.members": "成员",
  "col.user": "用户",
  "col.device": "设备",
  "col.loggedIn": "登录时间",
  "col.file": "文件",
  "col.size": "大小",
  "col.written": "写入时间",
  "col.when": "时间",
  "col.who": "操作人",
  "col.changed": "修改内容",
  "col.phone": "电话",
  "col.email": "邮箱",
  "col.title": "职务",
  "col.method": "方式",
  "col.summary": "内容",
  "col.next": "下一步",
  "col.goal": "目标",
  "col.stage": "阶段",
  "col.probability": "概率",
  "col.amount": "金额",
  "col.close": "预计成交",
  "col.products": "产品",
  "col.payment": "付款",
  "col.work": "服务内容",
  "col.result": "结果",
  "col.satisfaction": "满意度",
  "col.access": "权限",
  enabled: "启用",
  disabled: "已停用",
  revoked: "已吊销",
  active: "有效",
  "act.handOverBook": "移交全部客户…",
  "act.offboard": "离职交接…",
  "act.handOver": "移交…",
  "act.comment": "写评语…",
  "act.archive": "归档…",
  "act.restore": "恢复…",
  "act.merge": "合并…",
  "act.share": "共享…",
  "act.unshare": "取消共享",
  "act.disable": "停用",
  "act.enable": "启用",
  "act.resetPassword": "重置密码…",
  "act.revoke": "吊销",
  "act.addManager": "添加经理",
  "act.removeManager": "移除",
  to: "交给",
  "handover.title": (from) => `移交 ${from} 的全部客户`,
  "handover.one": (name) => `移交客户 ${name}`,
  "handover.plan": (n, to) => `把以下 ${n} 个客户交给 ${to}：`,
  "handover.done": (n, to) => `已把 ${n} 个客户交给 ${to}。`,
  "offboard.title": (who) => `为 ${who} 办理离职交接`,
  "offboard.plan.move": (n, to) => `把全部 ${n} 个客户交给 ${to}`,
  "offboard.plan.disable": (who) => `停用用户 ${who}`,
  "offboard.plan.revoke": (n) => `吊销其 ${n} 台设备`,
  "offboard.done": (n, to, disabled, revoked) => `已完成：${n} 个客户交给 ${to}；${disabled ? "用户已停用" : "用户此前已停用"}；吊销 ${revoked} 台设备。`,
  "comment.title": (name) => `为 ${name} 写评语`,
  "comment.about": "针对",
  "comment.account": "整个客户",
  "comment.text": "评语",
  "comment.plan": (name, about) => `在 ${name}（${about}）上添加评语：`,
  "comment.done": "评语已保存，销售代表下次同步时会看到。",
  "comment.empty": "请先写下评语。",
  "merge.title": "合并重复客户",
  "merge.pick": "选择保留的客户；其余客户的记录并入它，联系人相同的合并为一人。",
  "merge.survivor": "保留此客户",
  "merge.plan": (into, n) => `把 ${n} 个重复客户并入 ${into}：`,
  "merge.done": (into) => `已并入 ${into}。`,
  "archive.plan": (name) => `归档流失客户 ${name}（移出工作视图，可随时恢复）`,
  "restore.plan": (name) => `恢复客户 ${name} 到工作视图`,
  "archive.done": "已归档。",
  "restore.done": "已恢复。",
  "share.title": (name) => `共享客户 ${name}`,
  "share.with": "共享给",
  "share.write": "允许编辑",
  "share.read": "只读",
  "share.plan": (name, who, write) => `与 ${who} 共享 ${name}（${write ? "可编辑" : "只读"}）`,
  "unshare.plan": (name, who) => `停止与 ${who} 共享 ${name}`,
  "share.done": "共享已更新。",
  "share.none": "未与他人共享。",
  "user.title": "添加用户",
  "user.plan": (login, name, role, team) => `添加用户 ${login}（${name}），角色：${role}${team ? `，团队：${team}` : ""}`,
  "user.done": (login) => `已添加用户 ${login}。`,
  "user.disable": (who) => `停用 ${who}：其设备将被拒绝`,
  "user.enable": (who) => `重新启用 ${who}`,
  "user.updated": "用户已更新。",
  "password.title": (who) => `为 ${who} 重置密码`,
  "password.new": "新密码",
  "password.plan": (who) => `为 ${who} 设置新密码（其设备保持登录）`,
  "password.done": "密码已重置。",
  "lead.add": (who, team) => `让 ${who} 管理团队 ${team}`,
  "lead.remove": (who, team) => `${who} 不再管理团队 ${team}`,
  "lead.done": "团队经理已更新。",
  "team.plan": (key, name) => `添加团队 ${key}（${name}）`,
  "team.done": "团队已添加。",
  "device.plan": (label, who) => `吊销 ${who} 的设备“${label}”`,
  "device.done": "设备已吊销。",
  "backup.plan": "立即写一份完整备份到服务器的备份目录",
  "backup.done": (file, size) => `已写入备份 ${file}（${size}）。`,
  "backup.none": "还没有备份。",
  "backup.unavailable": "此服务器未配置备份目录。",
  noTeam: "无",
  "account.back": "返回看板",
  "account.loading": "正在加载客户…",
  "account.profile": "基本信息",
  "account.contacts": "联系人",
  "account.followUps": "跟进记录",
  "account.plans": "跟进计划",
  "account.opportunities": "商机",
  "account.deals": "成交",
  "account.services": "售后服务",
  "account.comments": "经理评语",
  "account.history": "修改历史",
  "account.shares": "共享",
  "account.notes": "备注",
  "account.none": "无",
  "account.merged": "此客户已并入：",
  "account.archived": (by, at) => `已由 ${by} 于 ${at} 归档。`,
  "account.serverChange": "服务器（代经理操作）",
  "field.code": "编号",
  "field.owner": "负责人",
  "field.kind": "类型",
  "field.status": "状态",
  "field.level": "级别",
  "field.priority": "优先级",
  "field.industry": "行业",
  "field.size": "规模",
  "field.source": "来源",
  "field.region": "区域",
  "field.firstContact": "首次接触",
  "field.created": "创建时间",
  "field.lostReason": "流失原因",
  "field.needs": "需求",
  "field.budget": "预算",
  "field.period": "采购时间",
});

Object.assign(MESSAGES.en, {
  "admin.users": "Users",
  "admin.addUser": "Add a user",
  "admin.login": "Login",
  "admin.displayName": "Display name",
  "admin.password": "First password",
  "admin.role": "Role",
  "admin.team": "Team",
  "admin.add": "Add",
  "admin.teams": "Teams",
  "admin.addTeam": "Add a team",
  "admin.teamKey": "Key",
  "admin.devices": "Devices",
  "admin.backups": "Backups",
  "admin.backupNow": "Take a backup now",
  "nav.board": "Dashboard",
  "nav.admin": "Administration",
  "panel.people": "Team members",
  "people.hint": "Hand over a rep's book, or off-board a departing rep: the book goes to a colleague, then the rep is disabled and their devices revoked.",
  "act.next": "Next",
  "act.confirm": "Confirm",
  "act.cancel": "Cancel",
  "act.close": "Close",
  "act.willDo": "This will:",
  "act.working": "Working…",
  "act.failed": (why, message) => `Not done: ${why} (server: ${message})`,
  "act.nothing": "Nothing to do.",
  "why.forbidden": "the server refused it",
  "why.not_found": "not found, or not in your teams",
  "why.invalid": "the input breaks a rule",
  "why.malformed": "the request is malformed",
  "why.conflict": "it exists already",
  "why.unauthenticated": "your session has ended",
  "why.unavailable": "the server cannot do it now",
  "why.other": "the server refused",
  "col.actions": "Actions",
  "col.name": "Name",
  "col.team": "Team",
  "col.role": "Role",
  "col.state": "State",
  "col.managers": "Managers",
  "col.members": "Members",
  "col.user": "User",
  "col.device": "Device",
  "col.loggedIn": "Logged in",
  "col.file": "File",
  "col.size": "Size",
  "col.written": "Written",
  "col.when": "When",
  "col.who": "By",
  "col.changed": "Changed",
  "col.phone": "Phone",
  "col.email": "Email",
  "col.title": "Title",
  "col.method": "Method",
  "col.summary": "Summary",
  "col.next": "Next action",
  "col.goal": "Goal",
  "col.stage": "Stage",
  "col.probability": "Probability",
  "col.amount": "Amount",
  "col.close": "Expected close",
  "col.products": "Products",
  "col.payment": "Payment",
  "col.work": "Work",
  "col.result": "Result",
  "col.satisfaction": "Satisfaction",
  "col.access": "Access",
  enabled: "enabled",
  disabled: "disabled",
  revoked: "revoked",
  active: "active",
  "act.handOverBook": "Hand over book…",
  "act.offboard": "Off-board…",
  "act.handOver": "Hand over…",
  "act.comment": "Comment…",
  "act.archive": "Archive…",
  "act.restore": "Restore…",
  "act.merge": "Merge…",
  "act.share": "Share…",
  "act.unshare": "Stop sharing",
  "act.disable": "Disable",
  "act.enable": "Enable",
  "act.resetPassword": "Reset password…",
  "act.revoke": "Revoke",
  "act.addManager": "Add manager",
  "act.removeManager": "Remove",
  to: "To",
  "handover.title": (from) => `Hand over ${from}'s whole book`,
  "handover.one": (name) => `Hand over ${name}`,
  "handover.plan": (n, to) => `Give these ${plural(n, "account", "accounts")} to ${to}:`,
  "handover.done": (n, to) => `${plural(n, "account", "accounts")} handed over to ${to}.`,
  "offboard.title": (who) => `Off-board ${who}`,
  "offboard.plan.move": (n, to) => `hand over all ${plural(n, "account", "accounts")} to ${to}`,
  "offboard.plan.disable": (who) => `disable the user ${who}`,
  "offboard.plan.revoke": (n) => `revoke their ${plural(n, "device", "devices")}`,
  "offboard.done": (n, to, disabled, revoked) => `Done: ${plural(n, "account", "accounts")} to ${to}; ${disabled ? "user disabled" : "user was disabled already"}; ${plural(revoked, "device", "devices")} revoked.`,
  "comment.title": (name) => `Comment on ${name}`,
  "comment.about": "About",
  "comment.account": "the whole account",
  "comment.text": "Comment",
  "comment.plan": (name, about) => `Add this comment to ${name} (${about}):`,
  "comment.done": "Comment saved; the rep sees it at their next sync.",
  "comment.empty": "Write the comment first.",
  "merge.title": "Merge duplicates",
  "merge.pick": "Pick the account to keep; the others' records go into it, and contacts who are the same person become one.",
  "merge.survivor": "Keep this one",
  "merge.plan": (into, n) => `Merge ${plural(n, "duplicate", "duplicates")} into ${into}:`,
  "merge.done": (into) => `Merged into ${into}.`,
  "archive.plan": (name) => `archive the lost account ${name} (out of the working views; it can be restored)`,
  "restore.plan": (name) => `restore ${name} to the working views`,
  "archive.done": "Archived.",
  "restore.done": "Restored.",
  "share.title": (name) => `Share ${name}`,
  "share.with": "Share with",
  "share.write": "may edit",
  "share.read": "read only",
  "share.plan": (name, who, write) => `share ${name} with ${who} (${write ? "may edit" : "read only"})`,
  "unshare.plan": (name, who) => `stop sharing ${name} with ${who}`,
  "share.done": "Sharing updated.",
  "share.none": "Not shared with anyone.",
  "user.title": "Add a user",
  "user.plan": (login, name, role, team) => `add the user ${login} (${name}), role ${role}${team ? `, team ${team}` : ""}`,
  "user.done": (login) => `User ${login} added.`,
  "user.disable": (who) => `disable ${who}: their devices are refused`,
  "user.enable": (who) => `enable ${who} again`,
  "user.updated": "User updated.",
  "password.title": (who) => `Reset ${who}'s password`,
  "password.new": "New password",
  "password.plan": (who) => `set a new password for ${who} (their devices stay logged in)`,
  "password.done": "Password reset.",
  "lead.add": (who, team) => `let ${who} lead the team ${team}`,
  "lead.remove": (who, team) => `${who} no longer leads the team ${team}`,
  "lead.done": "Team managers updated.",
  "team.plan": (key, name) => `add the team ${key} (${name})`,
  "team.done": "Team added.",
  "device.plan": (label, who) => `revoke ${who}'s device “${label}”`,
  "device.done": "Device revoked.",
  "backup.plan": "write a full backup into the server's backup directory now",
  "backup.done": (file, size) => `Backup ${file} written (${size}).`,
  "backup.none": "No backups yet.",
  "backup.unavailable": "This server has no backup directory.",
  noTeam: "none",
  "account.back": "Back to the dashboard",
  "account.loading": "Loading the account…",
  "account.profile": "Profile",
  "account.contacts": "Contacts",
  "account.followUps": "Follow-ups",
  "account.plans": "Plans",
  "account.opportunities": "Opportunities",
  "account.deals": "Deals",
  "account.services": "Service",
  "account.comments": "Managers' comments",
  "account.history": "History",
  "account.shares": "Shares",
  "account.notes": "Notes",
  "account.none": "none",
  "account.merged": "This account was merged into:",
  "account.archived": (by, at) => `Archived by ${by} on ${at}.`,
  "account.serverChange": "server (for a manager)",
  "field.code": "Code",
  "field.owner": "Owner",
  "field.kind": "Kind",
  "field.status": "Status",
  "field.level": "Level",
  "field.priority": "Priority",
  "field.industry": "Industry",
  "field.size": "Size",
  "field.source": "Source",
  "field.region": "Region",
  "field.firstContact": "First contact",
  "field.created": "Created",
  "field.lostReason": "Lost reason",
  "field.needs": "Needs",
  "field.budget": "Budget",
  "field.period": "Purchase period",
});

/** The data the action pages hold: teams, users, the open account. */
const acts = {
  teams: [],
  /** Active users any logged-in user may list (`GET /v1/people`). */
  people: [],
  account: null,
  /** The board's address before the account page opened, to go back to. */
  boardHash: "",
  /** The open dialog's steps. */
  dialog: null,
};

/** The link to an account's page from any table that lists accounts. */
function accountPageLink(id, name) {
  return h("a", { class: "account", href: `#account=${id}`, "data-testid": "account-link", "data-account": id }, name || t("noName"));
}

/** An error of the API as the page's language says it, with the server's own words. */
function actionError(error) {
  if (!(error instanceof ApiError)) return t("act.failed", t("why.other"), String(error.message ?? error));
  const known = ["forbidden", "not_found", "invalid", "malformed", "conflict", "unauthenticated", "unavailable"];
  return t("act.failed", t(known.includes(error.code) ? `why.${error.code}` : "why.other"), error.message);
}

/** A JSON request of an action; the parsed reply (null for 204). */
async function send(method, path, body) {
  const response = await api(path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.status === 204 ? null : response.json().catch(() => null);
}

/**
 * Opens the action dialog. `form` (optional) asks for input; `plan()` says what will be done
 * (a list of lines, or `{intro, lines}`), shown for confirmation; `run()` does it and returns
 * the result's text; `done()` then refreshes what shows it.
 */
function act({ title, form = null, plan, run, done = () => {} }) {
  const dialog = $("#action-dialog");
  $("#action-title").textContent = title;
  const result = $("#action-result");
  result.hidden = true;
  result.className = "";
  const confirm = $("#action-confirm");
  const cancel = $("#action-cancel");
  confirm.hidden = false;
  confirm.disabled = false;
  cancel.textContent = t("act.cancel");
  const failed = (error) => {
    result.hidden = false;
    result.className = "failed";
    result.textContent = error instanceof ApiError ? actionError(error) : String(error.message ?? error);
    confirm.disabled = false;
  };
  const confirmStep = async () => {
    confirm.disabled = true;
    let planned;
    try {
      planned = await plan();
    } catch (error) {
      failed(error);
      return;
    }
    const { intro, lines } = Array.isArray(planned) ? { intro: t("act.willDo"), lines: planned } : planned;
    $("#action-body").replaceChildren(h("p", {}, intro),
      h("ul", { class: "affected", "data-testid": "action-affected" }, lines.map((line) => h("li", {}, line))));
    result.hidden = true;
    confirm.textContent = t("act.confirm");
    confirm.dataset.step = "confirm";
    confirm.disabled = false;
    acts.dialog.next = runStep;
  };
  const runStep = async () => {
    confirm.disabled = true;
    result.hidden = false;
    result.className = "";
    result.textContent = t("act.working");
    try {
      const text = await run();
      result.className = "ok";
      result.textContent = text;
      confirm.hidden = true;
      cancel.textContent = t("act.close");
      acts.dialog.next = null;
      await done();
    } catch (error) {
      failed(error);
    }
  };
  acts.dialog = { next: confirmStep };
  $("#action-body").replaceChildren(...(form ?? []));
  if (form) {
    confirm.textContent = t("act.next");
    confirm.dataset.step = "form";
  }
  if (!dialog.open) dialog.showModal();
  if (!form) confirmStep();
}

function closeDialog() {
  acts.dialog = null;
  $("#action-dialog").close();
}

/** A `<select>` of users (`login → display name`), for "to" and "share with". */
function userSelect(id, users, chosen) {
  return h("select", { id, "data-testid": id },
    users.map((user) => h("option", { value: user.login, selected: user.login === chosen }, userName(user))));
}

const personName = (login) => {
  const person = acts.people.find((p) => p.login === login);
  return person ? userName(person) : login;
};

/** Teams (the ones the caller leads, all for an admin) and the active users. */
async function loadPeople() {
  try {
    const [teams, people] = await Promise.all([
      api("/v1/admin/teams").then((r) => r.json()),
      api("/v1/people").then((r) => r.json()),
    ]);
    acts.teams = teams;
    acts.people = people;
  } catch {
    acts.teams = [];
  }
  renderPeople();
}

/**
 * Users who may take a book over (not `except`): for a manager the active members of the
 * teams they lead, as the handover's check allows; for an admin anyone active.
 */
function takers(except) {
  const members = new Set(acts.teams.flatMap((team) => team.members));
  const admin = state.user?.role === "admin";
  return acts.people.filter((p) => p.login !== except && (admin || members.has(p.login)));
}

function renderPeople() {
  const target = $("#people");
  if (!target) return;
  target.replaceChildren();
  const reps = acts.teams.flatMap((team) => team.members.map((login) => ({ login, team })));
  if (!reps.length) {
    target.append(empty(t("noReps")));
    return;
  }
  target.append(table([t("col.rep"), t("col.team"), t("col.actions")], reps.map(({ login, team }) =>
    h("tr", { "data-rep": login },
      h("td", { title: login }, personName(login),
        acts.people.some((p) => p.login === login) ? null : [" ", h("span", { class: "badge warn", "data-testid": "disabled" }, t("disabled"))]),
      h("td", {}, team.display_name || team.name),
      h("td", {}, h("div", { class: "actions" },
        h("button", { type: "button", class: "quiet small", "data-testid": "handover-book", onclick: () => handOverBook(login) }, t("act.handOverBook")),
        h("button", { type: "button", class: "quiet small", "data-testid": "offboard", onclick: () => offboard(login) }, t("act.offboard")))))),
  { "data-testid": "people-table" }));
}

/** After the views were loaded (a live change, a filter): the open account page with what
 * the server holds now. */
function refreshOpenPage() {
  if (!$("#account-page").hidden && acts.account) openAccount(acts.account.id);
}

/** Everything on the board and the open page that an action may have changed. */
async function refreshAfterAction() {
  scheduleReload();
  if (!$("#account-page").hidden && acts.account) await openAccount(acts.account.id);
  if (!$("#admin-page").hidden) await loadAdmin();
}

function handOverBook(from) {
  const select = userSelect("handover-to", takers(from));
  act({
    title: t("handover.title", personName(from)),
    form: [h("label", { class: "stack" }, t("to"), select)],
    plan: async () => {
      const to = select.value;
      const reply = await send("POST", "/v1/handover", { from, to, dry_run: true });
      if (!reply.accounts.length) return { intro: t("act.nothing"), lines: [] };
      return { intro: t("handover.plan", reply.accounts.length, personName(to)), lines: reply.accounts.map((a) => a.name || a.id) };
    },
    run: async () => {
      const reply = await send("POST", "/v1/handover", { from, to: select.value });
      return t("handover.done", reply.moved.length, personName(select.value));
    },
    done: refreshAfterAction,
  });
}

function offboard(login) {
  const select = userSelect("offboard-to", takers(login));
  act({
    title: t("offboard.title", personName(login)),
    form: [h("label", { class: "stack" }, t("to"), select)],
    plan: async () => {
      const to = select.value;
      const reply = await send("POST", `/v1/people/${encodeURIComponent(login)}/offboard`, { to, dry_run: true });
      const lines = [t("offboard.plan.move", reply.moved.length, personName(to)),
        ...reply.moved.map((a) => `· ${a.name || a.id}`)];
      if (reply.disabled) lines.push(t("offboard.plan.disable", personName(login)));
      lines.push(t("offboard.plan.revoke", reply.revoked.length));
      return lines;
    },
    run: async () => {
      const to = select.value;
      const reply = await send("POST", `/v1/people/${encodeURIComponent(login)}/offboard`, { to });
      return t("offboard.done", reply.moved.length, personName(to), reply.disabled, reply.revoked.length);
    },
    done: async () => {
      await loadPeople();
      await refreshAfterAction();
    },
  });
}

/** Merges the accounts of one duplicates group: pick the survivor, confirm, merge the rest. */
async function mergeGroup(group) {
  const ids = group.accounts.map((a) => a.account);
  let records;
  try {
    records = await Promise.all(ids.map((id) => send("GET", `/v1/accounts/${id}`)));
  } catch (error) {
    act({ title: t("merge.title"), plan: async () => { throw error; }, run: async () => "" });
    return;
  }
  let survivor = ids[0];
  const cards = records.map((account) => {
    const r = account.record;
    const radio = h("input", { type: "radio", name: "survivor", value: account.id, checked: account.id === survivor, "data-testid": "survivor" });
    const card = h("label", { class: `candidate${account.id === survivor ? " chosen" : ""}`, "data-account": account.id },
      h("h3", {}, r.name || t("noName")),
      h("dl", { class: "record" },
        h("dt", {}, t("field.code")), h("dd", {}, r.code ?? "–"),
        h("dt", {}, t("field.owner")), h("dd", {}, account.display_names[r.owner] ?? r.owner),
        h("dt", {}, t("field.status")), h("dd", {}, term("status", r.status)),
        h("dt", {}, t("field.created")), h("dd", {}, dateOf(r.created_at)),
        h("dt", {}, t("account.contacts")), h("dd", {}, Object.values(r.contacts).map((c) => c.name).join("、") || "–"),
        h("dt", {}, t("account.followUps")), h("dd", {}, number(Object.keys(r.follow_ups).length)),
        h("dt", {}, t("account.opportunities")), h("dd", {}, number(Object.keys(r.opportunities).length))),
      h("span", {}, radio, " ", t("merge.survivor")));
    radio.addEventListener("change", () => {
      survivor = account.id;
      for (const other of document.querySelectorAll(".candidate")) other.classList.toggle("chosen", other.dataset.account === survivor);
    });
    return card;
  });
  const nameOf = (id) => records.find((a) => a.id === id)?.record.name || id;
  act({
    title: t("merge.title"),
    form: [h("p", { class: "hint" }, t("merge.pick")), h("div", { class: "side-by-side", "data-testid": "merge-candidates" }, cards)],
    plan: async () => ({
      intro: t("merge.plan", nameOf(survivor), ids.length - 1),
      lines: ids.filter((id) => id !== survivor).map(nameOf),
    }),
    run: async () => {
      for (const from of ids.filter((id) => id !== survivor)) {
        await send("POST", `/v1/accounts/${survivor}/merge`, { from });
      }
      return t("merge.done", nameOf(survivor));
    },
    done: refreshAfterAction,
  });
}

function archive(id, name, on) {
  act({
    title: on ? t("act.archive") : t("act.restore"),
    plan: async () => [on ? t("archive.plan", name) : t("restore.plan", name)],
    run: async () => {
      await send(on ? "POST" : "DELETE", `/v1/accounts/${id}/archive`);
      return on ? t("archive.done") : t("restore.done");
    },
    done: refreshAfterAction,
  });
}

function comment(account, followUp = null) {
  const r = account.record;
  const about = h("select", { id: "comment-about", "data-testid": "comment-about" },
    h("option", { value: "" }, t("comment.account")),
    Object.entries(r.follow_ups).sort((a, b) => b[1].occurred_at.localeCompare(a[1].occurred_at)).map(([id, f]) =>
      h("option", { value: id, selected: id === followUp }, `${dateOf(f.occurred_at)} · ${fit(f.summary, 40)}`)));
  const text = h("textarea", { id: "comment-text", "data-testid": "comment-text", maxlength: 4000 });
  act({
    title: t("comment.title", r.name),
    form: [h("div", { class: "stack" },
      h("label", {}, t("comment.about"), about),
      h("label", {}, t("comment.text"), text))],
    plan: async () => {
      if (!text.value.trim()) throw new Error(t("comment.empty"));
      return { intro: t("comment.plan", r.name, about.selectedOptions[0].textContent), lines: [text.value.trim()] };
    },
    run: async () => {
      await send("POST", `/v1/accounts/${account.id}/comments`, { text: text.value.trim(), follow_up: about.value || null });
      return t("comment.done");
    },
    done: refreshAfterAction,
  });
}

function handOverOne(account) {
  const r = account.record;
  const select = userSelect("handover-one-to", takers(r.owner));
  act({
    title: t("handover.one", r.name),
    form: [h("label", { class: "stack" }, t("to"), select)],
    plan: async () => ({ intro: t("handover.plan", 1, personName(select.value)), lines: [r.name] }),
    run: async () => {
      const reply = await send("POST", "/v1/handover", { from: r.owner, to: select.value, accounts: [account.id] });
      return t("handover.done", reply.moved.length, personName(select.value));
    },
    done: refreshAfterAction,
  });
}

function share(account) {
  const r = account.record;
  const select = userSelect("share-with", acts.people.filter((p) => p.login !== r.owner));
  const write = h("select", { id: "share-write", "data-testid": "share-write" },
    h("option", { value: "false" }, t("share.read")), h("option", { value: "true" }, t("share.write")));
  act({
    title: t("share.title", r.name),
    form: [h("div", { class: "stack" }, h("label", {}, t("share.with"), select), h("label", {}, t("col.access"), write))],
    plan: async () => [t("share.plan", r.name, personName(select.value), write.value === "true")],
    run: async () => {
      await send("POST", `/v1/accounts/${account.id}/shares`, { login: select.value, write: write.value === "true" });
      return t("share.done");
    },
    done: refreshAfterAction,
  });
}

function unshare(account, login) {
  act({
    title: t("act.unshare"),
    plan: async () => [t("unshare.plan", account.record.name, personName(login))],
    run: async () => {
      await send("DELETE", `/v1/accounts/${account.id}/shares/${encodeURIComponent(login)}`);
      return t("share.done");
    },
    done: refreshAfterAction,
  });
}

// ---------------------------------------------------------------------------------------
// Pages: the board, one account, the admin pages; chosen by the address (`#account=ID`,
// `#page=admin`), so the back button and shared links work.

function routePage() {
  if (!state.token || !state.user) return;
  const given = new URLSearchParams(location.hash.slice(1));
  $("#admin-link").hidden = state.user.role !== "admin";
  const account = given.get("account");
  if (account && /^[0-9a-f]{32}$/.test(account)) {
    show("account");
    $("#board-link").hidden = false;
    openAccount(account);
  } else if (given.get("page") === "admin" && state.user.role === "admin") {
    show("admin");
    $("#board-link").hidden = false;
    loadAdmin();
  } else {
    $("#board-link").hidden = true;
    if (!$("#account-page").hidden || !$("#admin-page").hidden) show("board");
    acts.boardHash = location.hash;
    loadPeople();
  }
}

/** A section of the account page: a heading and a table (or "none"). */
function recordSection(title, testid, headings, rows) {
  return h("section", { class: "panel wide", "data-testid": testid },
    h("header", {}, h("h2", {}, title)),
    rows.length ? h("div", { class: "table-wrap" }, table(headings, rows)) : empty(t("account.none")));
}

const moneyText = (m) => (m ? money(m.minor, m.currency) : "–");
const dayText = (d) => (d ? calendarDay(d) : "–");

async function openAccount(id) {
  const body = $("#account-body");
  if (acts.account?.id !== id) body.replaceChildren(h("p", { class: "hint" }, t("account.loading")));
  let account;
  let history;
  let shares;
  try {
    [account, history, shares] = await Promise.all([
      send("GET", `/v1/accounts/${id}`),
      send("GET", `/v1/accounts/${id}/history`),
      send("GET", `/v1/accounts/${id}/shares`),
    ]);
  } catch (error) {
    body.replaceChildren(h("p", { class: "error", "data-testid": "account-error" }, actionError(error)));
    return;
  }
  if (!acts.people.length) await loadPeople();
  acts.account = account;
  const r = account.record;
  const named = (login) => account.display_names[login] ?? personName(login);
  const manager = ["manager", "admin"].includes(state.user.role);
  const buttons = manager ? [
    h("button", { type: "button", class: "small", "data-testid": "comment", onclick: () => comment(account) }, t("act.comment")),
    h("button", { type: "button", class: "quiet small", "data-testid": "handover-one", onclick: () => handOverOne(account) }, t("act.handOver")),
    r.archived
      ? h("button", { type: "button", class: "quiet small", "data-testid": "restore", onclick: () => archive(id, r.name, false) }, t("act.restore"))
      : r.status === "lost" && h("button", { type: "button", class: "quiet small", "data-testid": "archive-one", onclick: () => archive(id, r.name, true) }, t("act.archive")),
    h("button", { type: "button", class: "quiet small", "data-testid": "share", onclick: () => share(account) }, t("act.share")),
  ] : [];
  const profile = [
    ["field.code", r.code ?? "–"],
    ["field.owner", named(r.owner)],
    ["field.kind", term("kind", r.kind)],
    ["field.status", term("status", r.status)],
    ["field.level", r.level ? term("level", r.level) : "–"],
    ["field.priority", r.priority ? term("priority", r.priority) : "–"],
    ["field.industry", r.industry ? term("industry", r.industry) : "–"],
    ["field.size", r.size ?? "–"],
    ["field.source", r.source ? term("source", r.source) : "–"],
    ["field.region", r.region ?? "–"],
    ["field.firstContact", dayText(r.first_contact)],
    ["field.created", fullTime(r.created_at)],
    ["field.lostReason", r.lost_reason ?? "–"],
    ["field.needs", [r.needs?.explicit, r.needs?.latent, r.needs?.pain_points].filter(Boolean).join(" / ") || "–"],
    ["field.budget", r.needs?.budget_min || r.needs?.budget_max ? `${moneyText(r.needs.budget_min)} – ${moneyText(r.needs.budget_max)}` : "–"],
    ["field.period", r.needs?.purchase_period ?? "–"],
    ["account.notes", r.notes || "–"],
  ];
  const byTime = (field) => (a, b) => String(b[1][field]).localeCompare(String(a[1][field]));
  const comments = Object.values(r.comments).sort((a, b) => b.at.localeCompare(a.at));
  body.replaceChildren(...children([
    h("div", { class: "account-head" },
      h("h2", { "data-testid": "account-name" }, r.name || t("noName")),
      h("span", { class: "muted" }, `${r.code ?? ""} · ${named(r.owner)}`),
      h("div", { class: "actions" }, buttons)),
    r.merged_into && h("p", { class: "badge warn", "data-testid": "account-merged" }, t("account.merged"), " ", accountPageLink(r.merged_into, r.merged_into)),
    r.archived && h("p", { class: "badge warn", "data-testid": "account-archived" }, t("account.archived", named(r.archived.by), fullTime(r.archived.at))),
    h("div", { class: "grid" },
      h("section", { class: "panel", "data-testid": "account-profile" },
        h("header", {}, h("h2", {}, t("account.profile"))),
        h("dl", { class: "record" }, profile.map(([key, value]) => [h("dt", {}, t(key)), h("dd", {}, value)]))),
      h("section", { class: "panel", "data-testid": "account-comments" },
        h("header", {}, h("h2", {}, t("account.comments"))),
        comments.length ? h("ul", { class: "plain" }, comments.map((c) => h("li", { "data-testid": "comment-item" },
          h("strong", {}, named(c.author)), " ", h("span", { class: "muted", title: fullTime(c.at) }, dateOf(c.at)),
          c.follow_up && r.follow_ups[c.follow_up] ? h("span", { class: "muted" }, ` · ${fit(r.follow_ups[c.follow_up].summary, 30)}`) : null,
          h("div", {}, c.text)))) : empty(t("account.none"))),
      recordSection(t("account.contacts"), "account-contacts", [t("col.name"), t("col.title"), t("col.role"), t("col.phone"), t("col.email")],
        Object.values(r.contacts).map((c) => h("tr", {}, h("td", {}, c.name), h("td", {}, c.title ?? "–"),
          h("td", {}, c.role ? term("role", c.role) : "–"), h("td", {}, c.phone ?? "–"), h("td", {}, c.email ?? "–")))),
      recordSection(t("account.followUps"), "account-follow-ups", [t("col.when"), t("col.method"), t("col.summary"), t("col.next"), t("col.actions")],
        Object.entries(r.follow_ups).sort(byTime("occurred_at")).map(([fid, f]) => h("tr", { "data-follow-up": fid },
          h("td", { title: fullTime(f.occurred_at) }, dateOf(f.occurred_at)), h("td", {}, term("method", f.method)), h("td", {}, f.summary),
          h("td", {}, [f.next_action, f.next_due && dayText(f.next_due)].filter(Boolean).join(" · ") || "–"),
          h("td", {}, manager ? h("button", { type: "button", class: "quiet small", onclick: () => comment(account, fid) }, t("act.comment")) : "")))),
      recordSection(t("account.plans"), "account-plans", [t("col.when"), t("col.rep"), t("col.method"), t("col.goal"), t("col.state")],
        Object.values(r.plans).sort((a, b) => a.due.localeCompare(b.due)).map((p) => h("tr", {},
          h("td", { title: fullTime(p.due) }, dateOf(p.due)), h("td", {}, named(p.owner)), h("td", {}, term("method", p.method)),
          h("td", {}, p.goal), h("td", {}, p.done ? "✓" : "–")))),
      recordSection(t("account.opportunities"), "account-opportunities", [t("col.name"), t("col.stage"), [t("col.probability"), "num"], [t("col.amount"), "num"], t("col.close"), t("col.rep")],
        Object.values(r.opportunities).map((o) => h("tr", {}, h("td", {}, o.name), h("td", {}, term("stage", o.stage)),
          h("td", { class: "num" }, `${o.probability}%`), h("td", { class: "num" }, moneyText(o.amount)), h("td", {}, dayText(o.expected_close)), h("td", {}, named(o.owner))))),
      recordSection(t("account.deals"), "account-deals", [t("col.when"), [t("col.amount"), "num"], t("col.products"), t("col.payment")],
        Object.values(r.deals).map((d) => h("tr", {}, h("td", {}, dayText(d.closed_on)), h("td", { class: "num" }, moneyText(d.amount)),
          h("td", {}, d.products), h("td", {}, term("payment", d.payment))))),
      recordSection(t("account.services"), "account-services", [t("col.when"), t("col.work"), t("col.result"), [t("col.satisfaction"), "num"]],
        Object.values(r.services).map((s) => h("tr", {}, h("td", {}, dayText(s.on)), h("td", {}, s.work), h("td", {}, s.result),
          h("td", { class: "num" }, s.satisfaction ?? "–")))),
      recordSection(t("account.shares"), "account-shares", [t("col.user"), t("col.access"), t("col.actions")],
        shares.map((s) => h("tr", { "data-login": s.login }, h("td", { title: s.login }, s.display_name || s.login),
          h("td", {}, s.write ? t("share.write") : t("share.read")),
          h("td", {}, manager ? h("button", { type: "button", class: "quiet small", onclick: () => unshare(account, s.login) }, t("act.unshare")) : "")))),
      recordSection(t("account.history"), "account-history", [t("col.when"), t("col.who"), t("col.device"), t("col.changed")],
        [...history].reverse().map((entry) => h("tr", {},
          h("td", { title: fullTime(entry.server_time) }, fullTime(entry.server_time)),
          h("td", { title: entry.user }, entry.device ? entry.display_name || entry.user : t("account.serverChange")),
          h("td", {}, entry.device_label ?? "–"),
          h("td", {}, h("ul", { class: "fields" }, [...new Set(entry.changes.flatMap((c) => c.fields))].slice(0, 12).map((f) => h("li", {}, f))))))),
    )]));
}

// ---------------------------------------------------------------------------------------
// Admin pages

const bytes = (n) => format("bytes", (l) => new Intl.NumberFormat(l, { style: "unit", unit: "kilobyte", maximumFractionDigits: 1 })).format(n / 1024);

async function loadAdmin() {
  let users;
  let teams;
  let devices;
  try {
    [users, teams, devices] = await Promise.all(["/v1/admin/users", "/v1/admin/teams", "/v1/admin/devices"]
      .map((path) => send("GET", path)));
  } catch (error) {
    $("#admin-users").replaceChildren(h("p", { class: "error" }, actionError(error)));
    return;
  }
  const teamName = (key) => teams.find((team) => team.name === key)?.display_name || key;
  $("#new-team").replaceChildren(...children([h("option", { value: "" }, t("noTeam")),
    teams.map((team) => h("option", { value: team.name }, team.display_name || team.name))]));
  $("#admin-users").replaceChildren(table([t("col.user"), t("col.name"), t("col.role"), t("col.team"), t("col.state"), t("col.actions")],
    users.map((user) => h("tr", { "data-login": user.login },
      h("td", {}, user.login), h("td", {}, user.display_name || user.login), h("td", {}, t(`role.${user.role}`)),
      h("td", {}, user.team ? teamName(user.team) : user.leads.map(teamName).join("、") || "–"),
      h("td", { "data-testid": "user-state" }, user.disabled ? t("disabled") : t("enabled")),
      h("td", {}, h("div", { class: "actions" },
        h("button", { type: "button", class: "quiet small", onclick: () => setDisabled(user, !user.disabled) }, user.disabled ? t("act.enable") : t("act.disable")),
        h("button", { type: "button", class: "quiet small", "data-testid": "reset-password-button", onclick: () => resetPassword(user) }, t("act.resetPassword")))))),
  { "data-testid": "users-table" }));
  const managers = users.filter((user) => user.role === "manager" && !user.disabled);
  $("#admin-teams").replaceChildren(table([t("col.team"), t("col.name"), t("col.managers"), t("col.members"), t("col.actions")],
    teams.map((team) => {
      const candidates = managers.filter((m) => !team.managers.includes(m.login));
      const pick = userSelect(`lead-${team.name}`, candidates);
      return h("tr", { "data-team": team.name },
        h("td", {}, team.name), h("td", {}, team.display_name || team.name),
        h("td", {}, team.managers.map((login) => h("span", { class: "actions" }, personNameOf(users, login), " ",
          h("button", { type: "button", class: "link", onclick: () => setLead(team, login, false) }, t("act.removeManager"))))),
        h("td", {}, team.members.map((login) => personNameOf(users, login)).join("、") || "–"),
        h("td", {}, candidates.length ? h("div", { class: "actions" }, pick,
          h("button", { type: "button", class: "quiet small", "data-testid": "add-manager", onclick: () => setLead(team, pick.value, true) }, t("act.addManager"))) : ""));
    })));
  $("#admin-devices").replaceChildren(table([t("col.user"), t("col.device"), t("col.loggedIn"), t("col.state"), t("col.actions")],
    devices.map((device) => h("tr", { "data-device": device.device },
      h("td", {}, personNameOf(users, device.user)), h("td", {}, device.label),
      h("td", { title: fullTime(device.logged_in_at) }, dateOf(device.logged_in_at)),
      h("td", {}, device.revoked ? t("revoked") : t("active")),
      h("td", {}, device.revoked ? "" : h("button", { type: "button", class: "quiet small", onclick: () => revokeDevice(device, users) }, t("act.revoke")))))));
  loadBackups();
}

function personNameOf(users, login) {
  const user = users.find((u) => u.login === login);
  return user ? userName(user) : login;
}

async function loadBackups() {
  const target = $("#admin-backups");
  try {
    const list = await send("GET", "/v1/admin/backups");
    target.replaceChildren(list.length
      ? table([t("col.file"), t("col.written"), [t("col.size"), "num"]], list.map((b) => h("tr", {},
        h("td", {}, b.file), h("td", { title: fullTime(b.written_at) }, fullTime(b.written_at)), h("td", { class: "num" }, bytes(b.bytes)))),
      { "data-testid": "backups-table" })
      : empty(t("backup.none")));
  } catch (error) {
    target.replaceChildren(empty(error.status === 404 ? t("backup.unavailable") : actionError(error)));
  }
}

function addUser(event) {
  event.preventDefault();
  const login = $("#new-login").value.trim();
  const displayName = $("#new-display-name").value.trim();
  const password = $("#new-password").value;
  const role = $("#new-role").value;
  const team = $("#new-team").value || null;
  act({
    title: t("user.title"),
    plan: async () => [t("user.plan", login, displayName || login, t(`role.${role}`), team)],
    run: async () => {
      await send("POST", "/v1/admin/users", { login, password, role, team, display_name: displayName || null });
      $("#add-user").reset();
      return t("user.done", login);
    },
    done: refreshAfterAction,
  });
}

function addTeam(event) {
  event.preventDefault();
  const name = $("#new-team-key").value.trim();
  const displayName = $("#new-team-name").value.trim();
  act({
    title: t("admin.addTeam"),
    plan: async () => [t("team.plan", name, displayName || name)],
    run: async () => {
      await send("POST", "/v1/admin/teams", { name, display_name: displayName || null });
      $("#add-team").reset();
      return t("team.done");
    },
    done: refreshAfterAction,
  });
}

function setDisabled(user, disabled) {
  act({
    title: disabled ? t("act.disable") : t("act.enable"),
    plan: async () => [disabled ? t("user.disable", userName(user)) : t("user.enable", userName(user))],
    run: async () => {
      await send("POST", `/v1/admin/users/${encodeURIComponent(user.login)}/${disabled ? "disable" : "enable"}`);
      return t("user.updated");
    },
    done: refreshAfterAction,
  });
}

function resetPassword(user) {
  const input = h("input", { type: "password", id: "reset-password", "data-testid": "reset-password", autocomplete: "new-password" });
  act({
    title: t("password.title", userName(user)),
    form: [h("label", { class: "stack" }, t("password.new"), input)],
    plan: async () => [t("password.plan", userName(user))],
    run: async () => {
      await send("POST", `/v1/admin/users/${encodeURIComponent(user.login)}/password`, { new_password: input.value });
      return t("password.done");
    },
  });
}

function setLead(team, login, leads) {
  const name = team.display_name || team.name;
  act({
    title: t("admin.teams"),
    plan: async () => [leads ? t("lead.add", personName(login), name) : t("lead.remove", personName(login), name)],
    run: async () => {
      await send(leads ? "PUT" : "DELETE", `/v1/admin/teams/${encodeURIComponent(team.name)}/managers/${encodeURIComponent(login)}`);
      return t("lead.done");
    },
    done: refreshAfterAction,
  });
}

function revokeDevice(device, users) {
  act({
    title: t("act.revoke"),
    plan: async () => [t("device.plan", device.label, personNameOf(users, device.user))],
    run: async () => {
      await send("DELETE", `/v1/admin/devices/${device.device}`);
      return t("device.done");
    },
    done: refreshAfterAction,
  });
}

function backupNow() {
  act({
    title: t("admin.backups"),
    plan: async () => [t("backup.plan")],
    run: async () => {
      const info = await send("POST", "/v1/admin/backups");
      return t("backup.done", info.file, bytes(info.bytes));
    },
    done: loadBackups,
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("#action-confirm").addEventListener("click", () => acts.dialog?.next?.());
  $("#action-cancel").addEventListener("click", closeDialog);
  $("#add-user").addEventListener("submit", addUser);
  $("#add-team").addEventListener("submit", addTeam);
  $("#backup-now").addEventListener("click", backupNow);
  for (const back of ["#account-back", "#board-link"]) {
    $(back).addEventListener("click", (event) => {
      event.preventDefault();
      location.hash = acts.boardHash;
    });
  }
  window.addEventListener("hashchange", routePage);
});

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
