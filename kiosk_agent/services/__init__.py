"""The agent's long-running services: outbox delivery, heartbeats, members, voice sessions.

Each joins a sans-I/O core with adapters and reports what it learns about the cloud through
:class:`~kiosk_agent.services.hooks.AgentHooks`, which the agent implements.
"""
