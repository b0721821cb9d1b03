"""The cloud's data layer: embedded Postgres, migrations, and RLS-scoped transactions."""
