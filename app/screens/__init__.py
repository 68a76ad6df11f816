"""Lobby screens (社区大屏): devices, pairing, heartbeats and the screens' feed."""
