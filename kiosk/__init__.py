"""The lobby screen (社区大屏): page, snapshot, live stream, pairing, heartbeat, media.

app/web registers `bp`; create_app calls `init_app`. Views stay thin; the rules live in
app/screens/kiosk.py, app/screens/feed.py and app/notices/ (announcements, audience, pictures…),
the doorbell bus in app/infra/events.py.

Running a screen: Chromium in kiosk mode on /kiosk (it shows a pairing code; staff enter it under
Screens in the console) or on /kiosk?token=… (the page keeps the token and drops it from the
address). Start Chromium with --autoplay-policy=no-user-gesture-required so urgent items can
read themselves aloud (README: "Setting up a lobby screen"); without it the screen shows
点一下开启声音 once (static/sound.js) and its heartbeat reports `sound: "blocked"`, which the
Screens page shows. ?lang=en shows the screen in English.

How changes reach screens: each change bumps the community's feed version in the same
transaction; after commit the bus rings `community:<id>`. Screens hold GET /kiosk/stream (SSE:
`id:` = version, Last-Event-ID resume, `retry:`, a heartbeat comment every
KIOSK_HEARTBEAT_SECONDS, closed after about KIOSK_STREAM_SECONDS so workers can recycle) and
re-fetch GET /kiosk/snapshot (ETag/304), polling it every KIOSK_POLL_SECONDS as a backstop.
One gunicorn worker needs nothing else; with several workers or hosts set REDIS_URL, and without
it each worker's feed watcher polls the feed table every KIOSK_FEED_POLL_SECONDS (one query per
worker), so nothing is missed either way. Schedule boundaries (publish_at, expire_at, display
windows) are fired by that watcher at the boundary itself, or by `flask jobs run`.

查进度 without a speech model (kiosk/progress.py, static/progress.js, app/affairs/
kiosk_progress.py): the 查进度 button opens a panel with the big keypad (static/keypad.js,
LinliKeypad, reusable by other panels): the last 4–6 digits of a request's number, or the
resident's phone number and PIN. The screen shows and reads aloud only the number, status, who
handles it as a kind (物业 / 网格员 / 居委会 …) and the next step; lookups per screen are limited
(KIOSK_PROGRESS_PER_HOUR); the panel closes after a 30 s countdown. With a speech model installed
the voice widget answers the button instead (it registers its hook later and so wins).

Hooks for the voice channel: on the page, window.LinliKiosk (see static/kiosk.js); on the
server, announcements.spoken_text(a) and announcements.set_speech_url(id, url, revision=…)
(the voice engine attaches its renderings, served at /api/v1/voice/speech/<id>).

我要反映 without a speech model (语音留言): static/report.js (LinliKiosk.onAction('report')) and
kiosk/report.py (GET/POST /kiosk/api/report) over app/affairs/kiosk_report.py.
"""

from kiosk import activities as _activities  # noqa: F401  (routes on bp: 活动报名)
from kiosk import progress  # noqa: F401  (its routes join bp)
from kiosk import report as _report  # noqa: F401  (routes on bp)
from kiosk import votes as _votes  # noqa: F401  (routes on bp: 议事投票)
from kiosk.views import bp, init_app

__all__ = ["bp", "init_app"]
