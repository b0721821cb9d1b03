"""Identities: kiosk credentials and tokens, dashboard users' tokens (Supabase or local)."""
