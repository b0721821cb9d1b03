"""Jobs on Postgres (procrastinate): the session analysis chain, alert delivery and the
scheduled jobs. `jarvis-cloud worker` runs them; `jarvis-cloud jobs list | run NAME`."""
