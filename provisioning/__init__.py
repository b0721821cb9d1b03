"""Provisioning: the six-character code's format and normalization, shared by kiosk and cloud."""
