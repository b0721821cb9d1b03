"""JARVIS cloud: the FastAPI service, its data layer on Postgres (RLS), CLI, jobs and dashboard."""
