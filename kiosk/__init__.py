"""The lobby screen (社区大屏): page, snapshot, live stream, pairing, heartbeat, media.

app/web registers `bp`. Views stay thin; the rules live in app/services/kiosk.py and
app/services/announcements.py.
"""

from kiosk.views import bp

__all__ = ["bp"]
