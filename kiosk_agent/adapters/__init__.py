"""Adapters: the SQLite store, the cloud client, systemd notifications, announcements."""
