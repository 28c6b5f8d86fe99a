# The `outpost` CLI's messages in English. Every id here is also in ../zh-CN/outpost.ftl
# (a unit test checks both define the same ids). Arguments holding stored text arrive
# already escaped for the terminal.

## Errors and warnings

error-line = error: { $message }
error-join = {": "}
warning-zone-unknown = warning: times are shown in UTC, as this system's time zone is not known ({ $reason }); set --tz or OUTPOST_TZ
cannot-write-stdout = error: cannot write to stdout: { $error }

error-no-account = no account matches `{ $typed }`
error-no-account-id = no account { $id } in this store
error-ambiguous = `{ $prefix }` matches { $count } accounts; type more of the id
error-store = local store
error-corrupt = local store holds a damaged document { $doc }: { $reason }
error-duplicate = { $count ->
    [one] 1 similar account already exists: { $accounts }
   *[other] { $count } similar accounts already exist: { $accounts }
}
error-invalid-field = invalid { $field }: { $reason }
error-unreachable = could not reach the server
error-not-logged-in = this device has not logged in yet: run `outpost login`
error-not-tls = TLS is required but { $url } is not an https:// address
error-refused = server refused the request ({ $status }): { $message }
error-bad-reply = server sent an unreadable reply: { $reason }
error-no-progress = sync made no progress in { $count } round trips in a row
error-unknown-zone = unknown time zone `{ $zone }`: give an IANA name such as Asia/Shanghai, Europe/Berlin or UTC
error-csv = the file is not valid CSV: { $reason }
error-workbook = the workbook cannot be read: { $reason }
error-write-workbook = cannot write the workbook: { $reason }
error-no-sheet = the workbook has no sheet
error-unknown-column = column `{ $column }` is not a template column; map it with COLUMN=field
error-duplicate-column = columns `{ $first }` and `{ $second }` both fill `{ $field }`
error-missing-column = the file has no `{ $column }` column
error-write-file = cannot write the file: { $reason }

## The record rules' fixed reasons

reason-empty = must not be empty
reason-negative = must not be negative
reason-one-to-five = must be 1 to 5
reason-below-minimum = is below the minimum
reason-same-currency = must be in the same currency as the minimum
reason-lost-needs-reason = a lost account needs a reason
reason-dormant-needs-date = a dormant lead needs a wake-up date
reason-won-needs-amount = a won opportunity needs the contract amount
reason-won-needs-date = a won opportunity needs the signing date
reason-lost-opportunity-needs-reason = a lost opportunity needs a reason
reason-national-id = looks like a national ID number; record only work contact details
reason-home-address = looks like a home address; record only work contact details
reason-custom-name = field names are 1-64 of a-z, 0-9 and _

## Field names, as errors name them

field-name = name
field-owner = owner
field-region = region
field-industry = industry
field-size = size
field-source = source
field-first-contact = first_contact
field-level = level
field-priority = priority
field-notes = notes
field-status = status
field-kind = kind
field-code = code
field-lost-reason = lost_reason
field-wake-up-on = wake_up_on
field-title = title
field-role = role
field-phone = phone
field-email = email
field-summary = summary
field-occurred-at = occurred_at
field-goal = goal
field-stage = stage
field-probability = probability
field-amount = amount
field-signed-on = signed_on
field-satisfaction = satisfaction
field-budget-min = budget_min
field-budget-max = budget_max
field-purchase-period = purchase_period
field-custom = custom/{ $name }

role-rep = rep
role-manager = manager
role-admin = admin

## Typed values

parse-time = expected "YYYY-MM-DD HH:MM" (local time) or RFC 3339, such as 2025-03-14T09:30:00+08:00
parse-due = { $time }, or a day YYYY-MM-DD
parse-day = `{ $text }` is not a day written YYYY-MM-DD, such as 2025-03-14
parse-amount = `{ $text }` is not an amount: write digits with an optional decimal point, such as 1234.56 (no sign, no thousands separators)
parse-amount-decimals = `{ $text }` has more than 2 decimals; amounts are kept to the cent
parse-amount-short = `{ $text }` is not an amount
parse-amount-large = `{ $text }` is too large an amount
parse-currency = `{ $text }` is not a currency code such as EUR
parse-custom = `{ $text }` is not FIELD=VALUE, such as wechat=harborfoods
parse-custom-no-name = `{ $text }` has no field name before `=`
invalid-role = invalid role: { $reason }

entry-contact = contact
entry-plan = plan
entry-opportunity = opportunity
entry-none = invalid { $entry }: this account has no { $entry } `{ $typed }`; `outpost show ACCOUNT` lists them with their ids
entry-too-short = invalid { $entry }: `{ $typed }` is too short; type at least 4 characters of the id
entry-ambiguous = invalid { $entry }: { $count } { $entry } ids start with `{ $typed }`; type more of it

## Durations

days = { $count ->
    [one] 1 day
   *[other] { $count } days
}
hours = { $count } h
minutes = { $count } min

## Table headers

col-id = ID
col-code = CODE
col-name = NAME
col-owner = OWNER
col-status = STATUS
col-follow-ups = FOLLOW-UPS
col-last = LAST
col-priority = PRIORITY
col-due = DUE

## Reading accounts

list-empty = No accounts yet. Add one with `outpost create --name NAME --owner OWNER`.
search-none = No account's name, code, owner or contact contains `{ $text }`.
label-id = id
label-status = status
label-merged-into = merged into
label-archived = archived
label-ranking = ranking
label-owner = owner
label-region = region
label-industry = industry
label-size = size
label-source = source
label-first-contact = first contact
label-created = created
label-next-contact = next contact
label-cadence = cadence
label-explicit = explicit
label-latent = latent
label-pain-points = pain points
label-budget = budget
label-buys-in = buys in
lifecycle = { $kind } · { $status }
lifecycle-lost = : { $reason }
lifecycle-until = {" "}until { $day }
lifecycle-converted = {" "}· converted from lead on { $day }
lifecycle-conversion-days = { $count ->
    [one] {" "}(1 day)
   *[other] {" "}({ $count } days)
}
merged-into = { $survivor } (a duplicate; kept for its history, work on the other account)
archived = by { $by } on { $day } (out of the team views; a manager can restore it)
ranking-level = level { $level }
ranking-priority = priority { $priority }
next-overdue = { $due }, OVERDUE
cadence-every = { $count ->
    [one] every day
   *[other] every { $count } days
}
budget-range = { $min } to { $max }
budget-from = from { $min }
budget-up-to = up to { $max }
section-needs = Needs
section-notes = Notes
section-contacts = Contacts
section-follow-ups = Follow-ups (oldest first)
section-plans = Planned contacts
section-opportunities = Opportunities
section-deals = Deals
section-services = After-sales service
section-custom = Custom fields
section-comments = Review comments
no-follow-ups = No follow-ups yet.
detail-attitude = attitude { $attitude }
detail-next-by = next: { $action } by { $due }
detail-next = next: { $action }
detail-next-contact-by = next contact by { $due }
detail-late = LATE: logged { $at }, more than 24 h after
plan-goal = { $goal } (by { $owner })
opportunity-stage = { $stage } { $probability } %
opportunity-closes = closes { $day }
opportunity-signed = signed { $day }
opportunity-lost = lost: { $reason }
owner-of = owner { $owner }
deal-paid = paid { $payment }
service-satisfaction = satisfaction { $score }/5
comment-on-follow-up = {" "}(on follow-up { $id })

## Conflicts

conflicts-settle-each = Conflicts: settle each with `outpost settle { $id } FIELD NUMBER`
conflict-shown = (shown)
conflict-device = device { $device }
no-conflicts = No conflicts.
conflicts-keep-one = Keep one value with `outpost settle ACCOUNT FIELD NUMBER`, such as `outpost settle { $id } { $field } 1`.
settled-kept = settled { $field } of { $name }: kept `{ $value }`; other devices agree once synced
settled = settled { $field } of { $name }; other devices agree once synced

## The day's work

date-out-of-range = the date is out of range
today-nothing = Nothing overdue and nothing due today.
today-overdue = Overdue ({ $count })
today-due = Due today ({ $count })
today-late = ({ $ago } late)
logged = logged { $method } with { $name }
logged-late = logged { $method } with { $name }, flagged late: it happened more than 24 h ago
plan-done = done: { $goal } ({ $name })
plan-usage = give the account, --due and the goal, or `plan done ACCOUNT PLAN`

## Changing accounts

create-no-owner = name the owner with --owner, or log in first (`outpost login`)
create-duplicate-warning = { $count ->
    [one] warning: `{ $name }` looks like an account already on this device:
   *[other] warning: `{ $name }` looks like accounts already on this device:
}
create-nothing-created = nothing created; work on the account above, or run the same command with --anyway if this really is another customer
updated = updated { $name }
updated-needs = updated the needs of { $name }
updated-contact = updated a contact of { $name }
removed-contact = removed { $contact } from { $name }
moved = moved { $opportunity } ({ $name }) to { $stage }, { $probability } %
status-lost-needs-reason = invalid status: a lost account needs a reason: `outpost lost { $id } REASON`
status-dormant-needs-day = invalid status: a dormant lead needs a wake-up day: `outpost dormant { $id } --until DATE`
status-now = { $name } is now { $status }
status-changed = { $name } changed status: { $from } → { $to } (a won opportunity with a recorded deal)
converted = converted { $name } to a customer (status { $status }) on { $day }
marked-lost = marked { $name } lost: { $reason }
dormant-until = { $name } is dormant until { $day }
store-returned-no-id = the store returned no id for the new entry

## Syncing

status-device = device
status-unsynced = unsynced
status-checkpoint = checkpoint
status-last-sync = last sync
status-never = never
status-accounts = { $count ->
    [one] 1 account
   *[other] { $count } accounts
}
cannot-read-certificate = cannot read the certificate { $path }
sync-failed = sync with { $server } failed
watch-failed = watching { $server } failed
cannot-listen-ctrl-c = cannot listen for Ctrl-C
watch-skipped = warning: skipped a sync: { $reason }; will sync at the server's next change
watch-closed = The server closed the live stream; connecting again in { $seconds } s.
watch-lost = warning: lost the live stream: { $reason }; connecting again in { $seconds } s.
cannot-start-runtime = cannot start the network runtime
sync-summary = synced in { $trips ->
    [one] 1 round trip
   *[other] { $trips } round trips
}: pushed { $pushed }, received { $received }, refused { $refused }; { $sent_bytes } bytes sent, { $received_bytes } received
sync-refused = ; refused { $id }: { $reason }
sync-not-accepted = ; NOT ACCEPTED { $id }: { $reason } (your edit is kept: `outpost rejected`)
sync-dropped = ; { $id } is no longer yours and was removed
cannot-read-password = cannot read the password from standard input
login-failed = login to { $server } failed
logged-in = logged in to { $server } as { $login } ({ $role }); this device is { $device }
rejected-n = N is the number `outpost rejected` shows
rejected-none-numbered = there is no refused edit { $n }
rejected-dismissed = refused edit { $n } dismissed
rejected-usage = use `outpost rejected` or `outpost rejected dismiss N`
rejected-empty = no refused edits
rejected-why = why: { $reason }
rejected-changed = changed: { $fields }
history-failed = history from { $server } failed
history-from-device = { $user } from { $device }
history-from-server = { $user } from the server
history-made = made { $at }: { $fields }

## Files

cannot-write = cannot write { $path }
cannot-read = cannot read { $path }
cannot-create = cannot create { $path }
cannot-create-store-folder = cannot create the store folder { $path }
cannot-open-store = cannot open the store { $path }
store-busy = cannot open the store { $path }: another outpost command is still using it after { $seconds } seconds; try again once it has finished
template-written = wrote the template to { $path }
not-logged-in-short = this device has not logged in
server-did-not-answer = { $server } did not answer
import-read-as = read as { $encoding }
import-error = line { $line }: { $field }: { $reason }
import-duplicate = line { $line }: skipped, looks like { $matches }: { $name }
import-summary = { $rows ->
    [one] 1 row
   *[other] { $rows } rows
}: { $dry_run ->
    [yes] would import
   *[no] imported
} { $imported }, { $duplicates ->
    [one] 1 duplicate
   *[other] { $duplicates } duplicates
} skipped, { $bad_rows ->
    [one] 1 bad row
   *[other] { $bad_rows } bad rows
} with { $errors ->
    [one] 1 error
   *[other] { $errors } errors
}
import-nothing-imported = ; nothing was imported, fix the rows above
import-owners-unchecked = note: owners were not checked against the server's users ({ $reason }); sync will refuse accounts whose owner is not a user
import-bad-rows = { $count ->
    [one] 1 bad row in { $path }
   *[other] { $count } bad rows in { $path }
}
exported = { $count ->
    [one] exported 1 account to { $path }
   *[other] exported { $count } accounts to { $path }
}
workbook-not-for-screen = a workbook is not for the screen; write it with -o FILE.xlsx

# outpost password
password-current = current password
password-new = new password
password-again = new password again
password-prompt = { $what } (shown as you type):{" "}
password-input-ended = standard input ended before the { $what }
password-unreadable = cannot read the { $what } from standard input
password-differ = the two new passwords differ; nothing was changed
password-not-changed = the password was not changed on { $server }
password-changed = password of { $login } changed on { $server }; this device stays logged in

## The weekly review
review-status-submitted = submitted
review-status-returned = returned
review-status-reviewed = reviewed
review-submit-failed = submitting the week to { $server } failed; nothing was submitted
review-submitted = Submitted the week of { $week } for review: { $accounts } accounts with records, { $items } incomplete items
review-never-fetched = No weekly reviews on this device yet: `outpost sync` fetches them.
review-fetched = Weekly reviews as of { $at } (the last sync):
review-none = No week submitted yet.
review-submitted-at = submitted { $at }
review-opinion = { $decision } by { $name } on { $at }: { $text }
review-incomplete = incomplete ({ $count }):
review-fetch-failed = warning: could not fetch the weekly reviews: { $reason }
review-came-back-returned = The week of { $week } was returned by { $name }: { $text } (see `outpost review`)
review-came-back-reviewed = The week of { $week } was reviewed by { $name }: { $text }
today-friday-review = It is Friday: submit this week's records for review with `outpost review submit`.
