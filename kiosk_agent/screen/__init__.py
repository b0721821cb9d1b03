"""The kiosk's screen: a local page the agent serves on 127.0.0.1, pushed what to show.

``model`` (what is shown, sans-I/O), ``feed`` (the agent's moves in, server-sent events
out), ``server`` (the page, its files and the event stream). See docs/KIOSK.md, "Screen".
"""
