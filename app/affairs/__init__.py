"""Community affairs (诉求): cases from intake to closure, their categories, attachments,
Open311, and the lobby screen's 查进度 and 语音留言.

submitted → accepted → assigned → in_progress → resolved → closed, plus rejected (with a
reason) and reopened. Every step writes a timeline event (actor, time, note, public or
internal). Channels call the same services: the app and the easy-mode client (resident, or a
family proxy acting for one), staff taking a phone call or a visit (代办), grid workers on
patrol, lobby kiosks (device actor), the voice assistant (transcript + audio) and Open311
clients (API key).

A case's life, one module per job, each importing only those above it:
rules (the state machine and its status labels) → policy (who may do what: `policy.may` and
`policy.ensure`, asked by every service and channel) → common (clock, references, timeline
events) → counts (kept counts per status) → notify (who is told what) → deadlines (due soon,
overdue, escalation, auto-close) → views (what a reader sees) → queries (reading and listing) →
intake (submitting) → workflow (transitions, assignment, merge, notes, attachments) →
supervision (督办 on escalated cases) → demo.
"""
