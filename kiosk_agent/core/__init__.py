"""Sans-I/O cores: the kiosk state machine, the outbox policy, heartbeats, messages."""
