# `outpost` 命令行的简体中文文案。这里的每个 id 也在 ../en/outpost.ftl 中（单元测试检查两者
# 定义的 id 完全相同）。存储的文本作为参数传入前已为终端转义。

## 错误和警告

error-line = 错误：{ $message }
error-join = ：
warning-zone-unknown = 警告：无法识别本机的时区（{ $reason }），时间按 UTC 显示；请用 --tz 或 OUTPOST_TZ 指定
cannot-write-stdout = 错误：无法写入标准输出：{ $error }

error-no-account = 没有与 `{ $typed }` 匹配的客户
error-no-account-id = 本机存储中没有客户 { $id }
error-ambiguous = `{ $prefix }` 匹配到 { $count } 个客户；请多输入几位 ID
error-store = 本地存储
error-corrupt = 本地存储中的文档 { $doc } 已损坏：{ $reason }
error-duplicate = 已有 { $count } 个相似的客户：{ $accounts }
error-invalid-field = { $field }无效：{ $reason }
error-unreachable = 无法连接服务器
error-not-logged-in = 本设备尚未登录：请运行 `outpost login`
error-not-tls = 要求使用 TLS，但 { $url } 不是 https:// 地址
error-refused = 服务器拒绝了请求（{ $status }）：{ $message }
error-bad-reply = 服务器的回复无法读取：{ $reason }
error-no-progress = 同步连续 { $count } 次往返没有进展
error-unknown-zone = 未知时区 `{ $zone }`：请给出 IANA 名称，例如 Asia/Shanghai、Europe/Berlin 或 UTC
error-csv = 文件不是有效的 CSV：{ $reason }
error-workbook = 无法读取工作簿：{ $reason }
error-write-workbook = 无法写入工作簿：{ $reason }
error-no-sheet = 工作簿中没有工作表
error-unknown-column = 列 `{ $column }` 不是模板中的列；请用 列名=字段 指定对应关系
error-duplicate-column = 列 `{ $first }` 和 `{ $second }` 都对应 `{ $field }`
error-missing-column = 文件中没有 `{ $column }` 列
error-write-file = 无法写入文件：{ $reason }

## 记录规则的固定原因

reason-empty = 不能为空
reason-negative = 不能为负数
reason-one-to-five = 必须是 1 到 5
reason-below-minimum = 低于下限
reason-same-currency = 币种必须与下限相同
reason-lost-needs-reason = 流失客户需要填写原因
reason-dormant-needs-date = 休眠线索需要填写唤醒日期
reason-won-needs-amount = 成交的商机需要填写合同金额
reason-won-needs-date = 成交的商机需要填写签约日期
reason-lost-opportunity-needs-reason = 丢单的商机需要填写原因
reason-national-id = 看起来是身份证号码；只记录工作联系方式
reason-home-address = 看起来是家庭住址；只记录工作联系方式
reason-custom-name = 字段名须为 1 到 64 个 a-z、0-9 和 _ 字符

## 错误中提到的字段名

field-name = 客户名称
field-owner = 负责人
field-region = 区域
field-industry = 行业
field-size = 规模
field-source = 来源
field-first-contact = 首次接触日期
field-level = 客户级别
field-priority = 优先级
field-notes = 备注
field-status = 状态
field-kind = 类型
field-code = 客户编号
field-lost-reason = 流失原因
field-wake-up-on = 唤醒日期
field-title = 职务
field-role = 角色
field-phone = 电话
field-email = 邮箱
field-summary = 跟进内容
field-occurred-at = 跟进时间
field-goal = 目标
field-stage = 阶段
field-probability = 赢单概率
field-amount = 金额
field-signed-on = 签约日期
field-satisfaction = 满意度
field-budget-min = 预算下限
field-budget-max = 预算上限
field-purchase-period = 采购周期
field-custom = 自定义字段 { $name }

role-rep = 销售代表
role-manager = 经理
role-admin = 管理员

## 输入的值

parse-time = 应为“YYYY-MM-DD HH:MM”（本地时间）或 RFC 3339 格式，例如 2025-03-14T09:30:00+08:00
parse-due = { $time }，或日期 YYYY-MM-DD
parse-day = `{ $text }` 不是 YYYY-MM-DD 格式的日期，例如 2025-03-14
parse-amount = `{ $text }` 不是金额：请写数字，可带小数点，例如 1234.56（不带正负号和千位分隔符）
parse-amount-decimals = `{ $text }` 的小数超过 2 位；金额精确到分
parse-amount-short = `{ $text }` 不是金额
parse-amount-large = `{ $text }` 金额太大
parse-currency = `{ $text }` 不是币种代码，例如 CNY
parse-custom = `{ $text }` 不是 字段=值 的形式，例如 wechat=harborfoods
parse-custom-no-name = `{ $text }` 在 `=` 前没有字段名
invalid-role = 角色无效：{ $reason }

entry-contact = 联系人
entry-plan = 跟进计划
entry-opportunity = 商机
entry-none = { $entry }无效：该客户没有{ $entry } `{ $typed }`；`outpost show 客户` 会列出它们的 ID
entry-too-short = { $entry }无效：`{ $typed }` 太短；请至少输入 ID 的 4 个字符
entry-ambiguous = { $entry }无效：有 { $count } 个{ $entry } ID 以 `{ $typed }` 开头；请多输入几位

## 时长

days = { $count } 天
hours = { $count } 小时
minutes = { $count } 分钟

## 表头

col-id = ID
col-code = 编号
col-name = 名称
col-owner = 负责人
col-status = 状态
col-follow-ups = 跟进次数
col-last = 最近跟进
col-priority = 优先级
col-due = 应跟进时间

## 查看客户

list-empty = 还没有客户。用 `outpost create --name 名称 --owner 负责人` 添加一个。
search-none = 没有客户的名称、编号、负责人或联系人包含 `{ $text }`。
label-id = ID
label-status = 状态
label-merged-into = 已合并到
label-archived = 已归档
label-ranking = 分级
label-owner = 负责人
label-region = 区域
label-industry = 行业
label-size = 规模
label-source = 来源
label-first-contact = 首次接触
label-created = 创建时间
label-next-contact = 下次跟进
label-cadence = 跟进周期
label-explicit = 明确需求
label-latent = 潜在需求
label-pain-points = 痛点
label-budget = 预算
label-buys-in = 采购周期
lifecycle = { $kind } · { $status }
lifecycle-lost = ：{ $reason }
lifecycle-until = ，至 { $day }
lifecycle-converted = {" "}· { $day } 由线索转化
lifecycle-conversion-days = （{ $count } 天）
merged-into = { $survivor }（重复客户；保留其历史，请在另一个客户上工作）
archived = 由 { $by } 于 { $day } 归档（不在团队视图中；经理可以恢复）
ranking-level = 级别：{ $level }
ranking-priority = 优先级 { $priority }
next-overdue = { $due }，已逾期
cadence-every = 每 { $count } 天
budget-range = { $min } 至 { $max }
budget-from = { $min } 起
budget-up-to = 最多 { $max }
section-needs = 需求
section-notes = 备注
section-contacts = 联系人
section-follow-ups = 跟进记录（按时间先后）
section-plans = 跟进计划
section-opportunities = 商机
section-deals = 成交
section-services = 售后服务
section-custom = 自定义字段
section-comments = 点评
no-follow-ups = 还没有跟进记录。
detail-attitude = 态度：{ $attitude }
detail-next-by = 下一步：{ $action }，{ $due } 前
detail-next = 下一步：{ $action }
detail-next-contact-by = { $due } 前再次跟进
detail-late = 补录：记录于 { $at }，晚于 24 小时
plan-goal = { $goal }（负责人 { $owner }）
opportunity-stage = { $stage } { $probability } %
opportunity-closes = 预计 { $day } 成交
opportunity-signed = { $day } 签约
opportunity-lost = 丢单原因：{ $reason }
owner-of = 负责人 { $owner }
deal-paid = 付款方式：{ $payment }
service-satisfaction = 满意度 { $score }/5
comment-on-follow-up = （针对跟进 { $id }）

## 冲突

conflicts-settle-each = 冲突：逐个用 `outpost settle { $id } 字段 序号` 解决
conflict-shown = （当前显示）
conflict-device = 设备 { $device }
no-conflicts = 没有冲突。
conflicts-keep-one = 用 `outpost settle 客户 字段 序号` 保留一个值，例如 `outpost settle { $id } { $field } 1`。
settled-kept = 已解决 { $name } 的 { $field }：保留 `{ $value }`；同步后其他设备会一致
settled = 已解决 { $name } 的 { $field }；同步后其他设备会一致

## 今日工作

date-out-of-range = 日期超出范围
today-nothing = 没有逾期，今天也没有要跟进的客户。
today-overdue = 逾期（{ $count }）
today-due = 今日待跟进（{ $count }）
today-late = （逾期 { $ago }）
logged = 已记录与 { $name } 的{ $method }
logged-late = 已记录与 { $name } 的{ $method }，标记为补录：发生在 24 小时之前
plan-done = 已完成：{ $goal }（{ $name }）
plan-usage = 请给出客户、--due 和目标，或使用 `plan done 客户 计划`

## 修改客户

create-no-owner = 请用 --owner 指定负责人，或先登录（`outpost login`）
create-duplicate-warning = 警告：`{ $name }` 看起来与本设备上已有的客户相同：
create-nothing-created = 未创建任何客户；请在上面的客户上工作，如果这确实是另一个客户，请加上 --anyway 再运行同一命令
updated = 已更新 { $name }
updated-needs = 已更新 { $name } 的需求
updated-contact = 已更新 { $name } 的一位联系人
removed-contact = 已从 { $name } 移除 { $contact }
moved = 已将 { $opportunity }（{ $name }）推进到 { $stage }，{ $probability } %
status-lost-needs-reason = 状态无效：流失客户需要填写原因：`outpost lost { $id } 原因`
status-dormant-needs-day = 状态无效：休眠线索需要唤醒日期：`outpost dormant { $id } --until 日期`
status-now = { $name } 现在是{ $status }
status-changed = { $name } 的状态已变更：{ $from } → { $to }（商机成交且已登记成交记录）
converted = 已于 { $day } 将 { $name } 转为客户（状态：{ $status }）
marked-lost = 已将 { $name } 标记为流失：{ $reason }
dormant-until = { $name } 休眠至 { $day }
store-returned-no-id = 存储没有返回新条目的 ID

## 同步

status-device = 设备
status-unsynced = 未同步
status-checkpoint = 检查点
status-last-sync = 最近同步
status-never = 从未同步
status-accounts = { $count } 个客户
cannot-read-certificate = 无法读取证书 { $path }
sync-failed = 与 { $server } 同步失败
watch-failed = 跟随 { $server } 失败
cannot-listen-ctrl-c = 无法监听 Ctrl-C
watch-skipped = 警告：跳过了一次同步：{ $reason }；服务器下次有变化时会再同步
watch-closed = 服务器关闭了实时连接；{ $seconds } 秒后重新连接。
watch-lost = 警告：实时连接中断：{ $reason }；{ $seconds } 秒后重新连接。
cannot-start-runtime = 无法启动网络运行时
sync-summary = 同步完成，{ $trips } 次往返：推送 { $pushed }，接收 { $received }，被拒 { $refused }；发送 { $sent_bytes } 字节，接收 { $received_bytes } 字节
sync-refused = ；被拒 { $id }：{ $reason }
sync-not-accepted = ；未被接受 { $id }：{ $reason }（您的修改已保留：`outpost rejected`）
sync-dropped = ；{ $id } 已不归您负责，已从本设备移除
cannot-read-password = 无法从标准输入读取密码
login-failed = 登录 { $server } 失败
logged-in = 已以 { $login }（{ $role }）身份登录 { $server }；本设备为 { $device }
rejected-n = N 是 `outpost rejected` 显示的序号
rejected-none-numbered = 没有编号为 { $n } 的被拒修改
rejected-dismissed = 已忽略被拒修改 { $n }
rejected-usage = 用法：`outpost rejected` 或 `outpost rejected dismiss N`
rejected-empty = 没有被拒的修改
rejected-why = 原因：{ $reason }
rejected-changed = 修改了：{ $fields }
history-failed = 从 { $server } 获取历史失败
history-from-device = { $user }，来自 { $device }
history-from-server = { $user }，来自服务器
history-made = 修改于 { $at }：{ $fields }

## 文件

cannot-write = 无法写入 { $path }
cannot-read = 无法读取 { $path }
cannot-create = 无法创建 { $path }
cannot-create-store-folder = 无法创建存储文件夹 { $path }
cannot-open-store = 无法打开存储 { $path }
store-busy = 无法打开存储 { $path }：等待 { $seconds } 秒后，另一个 outpost 命令仍在使用它；请等它结束后再试
template-written = 模板已写入 { $path }
not-logged-in-short = 本设备尚未登录
server-did-not-answer = { $server } 没有响应
import-read-as = 按 { $encoding } 读取
import-error = 第 { $line } 行：{ $field }：{ $reason }
import-duplicate = 第 { $line } 行：已跳过，看起来与 { $matches } 相同：{ $name }
import-summary = 共 { $rows } 行：{ $dry_run ->
    [yes] 可导入
   *[no] 已导入
} { $imported } 行，跳过重复 { $duplicates } 行，错误行 { $bad_rows } 行（共 { $errors } 处错误）
import-nothing-imported = ；未导入任何内容，请修正上面的行
import-owners-unchecked = 注意：未能对照服务器的用户检查负责人（{ $reason }）；负责人不是用户的客户会在同步时被拒绝
import-bad-rows = { $path } 中有 { $count } 行错误
exported = 已将 { $count } 个客户导出到 { $path }
workbook-not-for-screen = 工作簿不能输出到屏幕；请用 -o 文件.xlsx 写入文件

# outpost password
password-current = 当前密码
password-new = 新密码
password-again = 再次输入新密码
password-prompt = { $what }（输入时可见）：
password-input-ended = 标准输入在读到{ $what }之前就结束了
password-unreadable = 无法从标准输入读取{ $what }
password-differ = 两次输入的新密码不一致；未作任何修改
password-not-changed = 未能在 { $server } 上修改密码
password-changed = 已在 { $server } 上修改 { $login } 的密码；本设备仍保持登录

## 周审阅
review-status-submitted = 待审阅
review-status-returned = 已退回
review-status-reviewed = 已审阅
review-submit-failed = 向 { $server } 提交本周记录失败；未提交任何内容
review-submitted = 已提交 { $week } 这一周的记录供审阅：{ $accounts } 个有记录的客户，{ $items } 项不完整
review-never-fetched = 本设备还没有周审阅信息：`outpost sync` 会获取。
review-fetched = 周审阅（截至 { $at } 的同步）：
review-none = 还没有提交过任何一周。
review-submitted-at = 提交于 { $at }
review-opinion = { $name } 于 { $at } { $decision }：{ $text }
review-incomplete = 不完整（{ $count }）：
review-fetch-failed = 警告：无法获取周审阅：{ $reason }
review-came-back-returned = { $week } 这一周被 { $name } 退回：{ $text }（见 `outpost review`）
review-came-back-reviewed = { $week } 这一周已由 { $name } 审阅：{ $text }
today-friday-review = 今天是周五：用 `outpost review submit` 提交本周记录供经理审阅。
